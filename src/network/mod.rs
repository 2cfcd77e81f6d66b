//! Container networking: the bridge, veth pairs, addresses and routes.

pub mod netlink;
mod netlink_msg;
