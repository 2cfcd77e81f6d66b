//! Container networking: each container's network namespace, skiff's
//! bridges and the veth pairs into them, addresses from the store's IPAM,
//! and the packet filter rules for NAT.

pub mod firewall;
pub mod netns;
