//! Control groups. For now: finding out which layout the machine has.
//! Limits, stats and the freezer come with the container runtime.

use std::path::Path;

/// The cgroup layout of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Pure cgroup v2 at /sys/fs/cgroup.
    Unified,
    /// v1 controllers with a cgroup2 mount at /sys/fs/cgroup/unified.
    Hybrid,
    /// v1 only.
    Legacy,
    /// No cgroup file system found.
    None,
}

impl Layout {
    /// Docker's `CgroupVersion`: "2" for unified, "1" otherwise.
    pub fn version(self) -> &'static str {
        match self {
            Layout::Unified => "2",
            Layout::None => "",
            _ => "1",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Layout::Unified => "unified (v2)",
            Layout::Hybrid => "hybrid (v1 controllers, v2 at /sys/fs/cgroup/unified)",
            Layout::Legacy => "legacy (v1)",
            Layout::None => "none",
        }
    }
}

fn is_cgroup2(p: &Path) -> bool {
    nix::sys::statfs::statfs(p)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// Detect the layout under /sys/fs/cgroup.
pub fn detect() -> Layout {
    let root = Path::new("/sys/fs/cgroup");
    if is_cgroup2(root) {
        Layout::Unified
    } else if is_cgroup2(&root.join("unified")) {
        Layout::Hybrid
    } else if root.join("memory").exists() || root.join("cpu").exists() {
        Layout::Legacy
    } else {
        Layout::None
    }
}
