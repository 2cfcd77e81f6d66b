//! Container networking: each container's network namespace, skiff's
//! bridges and the veth pairs into them (over rtnetlink), addresses from
//! the store's IPAM, and the packet filter rules for NAT and published ports.

pub mod firewall;
pub mod names;
pub mod netlink;
mod netlink_msg;
pub mod netns;
pub mod ports;
pub mod publish;
pub mod setup;
pub mod userspace;
