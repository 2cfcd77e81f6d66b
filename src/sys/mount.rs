//! `mount_setattr(2)`, which neither nix nor rustix wraps: it makes a
//! detached mount idmapped (Linux 5.12), so the files of a layer owned by
//! id N on disk show as the id N maps to in a user namespace's maps.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `MOUNT_ATTR_IDMAP` of <linux/mount.h>.
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// `struct mount_attr` of <linux/mount.h> (its first version, 32 bytes).
#[repr(C)]
#[derive(Default)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Make the detached mount `mnt` (from `open_tree(OPEN_TREE_CLONE)`)
/// idmapped with the maps of the user namespace `userns`.
pub fn set_idmap(mnt: BorrowedFd, userns: BorrowedFd) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        userns_fd: userns.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: the kernel reads `size_of::<MountAttr>()` bytes from `attr`,
    // a live local of exactly that layout; the path is a static empty C
    // string, read only, and both descriptors are borrowed for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            mnt.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
