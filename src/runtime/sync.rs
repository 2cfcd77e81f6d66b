//! The channel between skiff and the container's init: a SOCK_SEQPACKET
//! socket pair carrying small typed messages both ways, and a descriptor
//! when one must cross (the pty master).
//!
//! The conversation: the parent moves the child into its v1 cgroups and
//! says [`Msg::CgroupJoined`], writes a new user namespace's maps and says
//! [`Msg::MapsWritten`]; the child may pass the pty master ([`Msg::Pty`]),
//! says [`Msg::Ready`] with the command it is about to execute, and then
//! executes it. The child's end is close-on-exec, so the parent reads
//! end-of-file exactly when that `execve` succeeded (or the child died).
//! An error before that arrives as [`Msg::Error`] (or, from the exec
//! trampoline, [`Msg::ExecFailed`]) with its cause, and the user sees
//! `exec /bin/foo: no such file or directory`, not a silent exit 1.

use crate::error::ErrorKind;
use rustix::net::{
    recvmsg, sendmsg, socketpair, AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage,
    RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// Longest message text; the rest is cut (errors are one line anyway).
const MAX_TEXT: usize = 4000;

/// A message on the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Parent to child: the uid/gid maps of the new user namespace are
    /// written; go on.
    MapsWritten,
    /// Parent to child: the child is in its v1 cgroups now; go on.
    CgroupJoined,
    /// Child to parent: the pty master travels with this message.
    Pty,
    /// Child to parent: the container is set up; its command (named in a
    /// later [`Msg::ExecFailed`]) is about to be executed.
    Ready { command: String },
    /// The exec trampoline to parent: `execve` of the command failed.
    ExecFailed { errno: i32 },
    /// Child to parent: the root file system skiff made before the fork
    /// (`premount`) is to be moved into place now, in the child's mount
    /// namespace, whose propagation is set; the child may not reach the
    /// mount point itself (a container with a user namespace of its own
    /// may not search the store's directories).
    MountRootfs,
    /// Parent to child: the root file system is in place; an open
    /// descriptor of it travels with this message.
    RootfsMounted,
    /// Child to parent: setting up the container failed.
    Error {
        kind: Option<ErrorKind>,
        message: String,
    },
}

const TAG_MAPS: u8 = 1;
const TAG_PTY: u8 = 2;
const TAG_ERROR: u8 = 3;
/// Written by the trampoline's machine code as `[tag, errno]`.
const TAG_EXEC_ERRNO: u8 = super::trampoline::TAG_EXEC_ERRNO;
const TAG_READY: u8 = 5;
const TAG_CGROUP: u8 = 6;
const TAG_MOUNT_ROOTFS: u8 = 7;
const TAG_ROOTFS_MOUNTED: u8 = 8;

fn kind_byte(kind: Option<ErrorKind>) -> u8 {
    match kind {
        Some(ErrorKind::CannotInvoke) => 1,
        Some(ErrorKind::CommandNotFound) => 2,
        Some(ErrorKind::InvalidArgument) => 3,
        Some(ErrorKind::NotFound) => 4,
        _ => 0,
    }
}

fn byte_kind(b: u8) -> Option<ErrorKind> {
    match b {
        1 => Some(ErrorKind::CannotInvoke),
        2 => Some(ErrorKind::CommandNotFound),
        3 => Some(ErrorKind::InvalidArgument),
        4 => Some(ErrorKind::NotFound),
        _ => None,
    }
}

/// The bytes of a message.
pub fn encode(msg: &Msg) -> Vec<u8> {
    match msg {
        Msg::MapsWritten => vec![TAG_MAPS],
        Msg::CgroupJoined => vec![TAG_CGROUP],
        Msg::Pty => vec![TAG_PTY],
        Msg::MountRootfs => vec![TAG_MOUNT_ROOTFS],
        Msg::RootfsMounted => vec![TAG_ROOTFS_MOUNTED],
        Msg::Ready { command } => {
            let mut v = vec![TAG_READY];
            v.extend_from_slice(command.as_bytes());
            v
        }
        Msg::ExecFailed { errno } => vec![TAG_EXEC_ERRNO, *errno as u8],
        Msg::Error { kind, message } => {
            let mut cut = message.len().min(MAX_TEXT);
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            let mut v = vec![TAG_ERROR, kind_byte(*kind)];
            v.extend_from_slice(&message.as_bytes()[..cut]);
            v
        }
    }
}

/// The message in `bytes`.
pub fn decode(bytes: &[u8]) -> io::Result<Msg> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed sync message");
    match bytes.first() {
        Some(&TAG_MAPS) => Ok(Msg::MapsWritten),
        Some(&TAG_CGROUP) => Ok(Msg::CgroupJoined),
        Some(&TAG_PTY) => Ok(Msg::Pty),
        Some(&TAG_MOUNT_ROOTFS) => Ok(Msg::MountRootfs),
        Some(&TAG_ROOTFS_MOUNTED) => Ok(Msg::RootfsMounted),
        Some(&TAG_READY) => Ok(Msg::Ready {
            command: String::from_utf8_lossy(&bytes[1..]).into_owned(),
        }),
        Some(&TAG_EXEC_ERRNO) if bytes.len() == 2 => Ok(Msg::ExecFailed {
            errno: bytes[1] as i32,
        }),
        Some(&TAG_ERROR) if bytes.len() >= 2 => Ok(Msg::Error {
            kind: byte_kind(bytes[1]),
            message: String::from_utf8_lossy(&bytes[2..]).into_owned(),
        }),
        _ => Err(bad()),
    }
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel(OwnedFd);

/// A connected pair: (the parent's end, the child's end), both
/// close-on-exec.
pub fn pair() -> io::Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?;
    Ok((Channel(a), Channel(b)))
}

impl Channel {
    pub fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.0)
    }

    /// Send `msg`, with `fd` attached when given.
    pub fn send(&self, msg: &Msg, fd: Option<BorrowedFd>) -> io::Result<()> {
        let bytes = encode(msg);
        let fds: Vec<BorrowedFd> = fd.into_iter().collect();
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !fds.is_empty() {
            control.push(SendAncillaryMessage::ScmRights(&fds));
        }
        loop {
            match sendmsg(
                &self.0,
                &[IoSlice::new(&bytes)],
                &mut control,
                SendFlags::NOSIGNAL,
            ) {
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The next message and the descriptor that came with it; `None` when
    /// the other end is closed.
    pub fn recv(&self) -> io::Result<Option<(Msg, Option<OwnedFd>)>> {
        let mut buf = vec![0u8; MAX_TEXT + 16];
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let n = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg(&self.0, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
                Ok(r) => break r.bytes,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let mut fd = None;
        for c in control.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = c {
                for f in fds {
                    fd.get_or_insert(f);
                }
            }
        }
        if n == 0 {
            return Ok(None);
        }
        Ok(Some((decode(&buf[..n])?, fd)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for m in [
            Msg::MapsWritten,
            Msg::CgroupJoined,
            Msg::Pty,
            Msg::MountRootfs,
            Msg::RootfsMounted,
            Msg::Ready {
                command: "/bin/sh".into(),
            },
            Msg::ExecFailed { errno: 2 },
            Msg::Error {
                kind: Some(ErrorKind::CommandNotFound),
                message: "exec /bin/foo: no such file or directory".into(),
            },
            Msg::Error {
                kind: None,
                message: String::new(),
            },
        ] {
            assert_eq!(decode(&encode(&m)).unwrap(), m);
        }
        assert!(decode(&[]).is_err());
        assert!(decode(&[9]).is_err());
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary() {
        let m = Msg::Error {
            kind: None,
            message: "é".repeat(MAX_TEXT),
        };
        let bytes = encode(&m);
        assert!(bytes.len() <= MAX_TEXT + 2);
        let Msg::Error { message, .. } = decode(&bytes).unwrap() else {
            panic!()
        };
        assert!(message.chars().all(|c| c == 'é'));
    }

    #[test]
    fn carries_messages_and_descriptors() {
        let (a, b) = pair().unwrap();
        let f = std::fs::File::open("/dev/null").unwrap();
        b.send(&Msg::Pty, Some(std::os::fd::AsFd::as_fd(&f)))
            .unwrap();
        let (m, fd) = a.recv().unwrap().unwrap();
        assert_eq!(m, Msg::Pty);
        assert!(fd.is_some());
        a.send(&Msg::MapsWritten, None).unwrap();
        let (m, fd) = b.recv().unwrap().unwrap();
        assert_eq!(m, Msg::MapsWritten);
        assert!(fd.is_none());
        drop(b);
        assert!(a.recv().unwrap().is_none());
    }
}
