//! The content digest of what a COPY/ADD reads, for the build cache key.
//!
//! Everything that changes the result goes in: each path's name relative
//! to its source, its type and mode, a file's bytes (read once, hashed as
//! they stream), a symlink's target, a device's number, which files are
//! hard links of one another. What cannot change the result stays out:
//! files the ignore rules or `--exclude` leave out, files no source
//! names, owners (COPY sets its own) and times (as BuildKit's content
//! hash, which leaves mtimes out of the key too, so touching a file does
//! not rebuild). Every field is length-prefixed, so no two different
//! trees hash alike by running names together.

use super::source::{file_type, Visitor};
use anyhow::{Context, Result};
use rustix::fs::{FileType, Mode, OFlags, Stat};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A running content hash.
pub struct Sum {
    sha: Sha256,
    links: HashMap<(u64, u64), PathBuf>,
    buf: Vec<u8>,
}

impl Default for Sum {
    fn default() -> Self {
        Sum::new()
    }
}

impl Sum {
    /// An empty hash.
    pub fn new() -> Sum {
        Sum {
            sha: Sha256::new(),
            links: HashMap::new(),
            buf: vec![0u8; 256 << 10],
        }
    }

    /// One tagged, length-prefixed field.
    pub fn field(&mut self, tag: &str, data: &[u8]) {
        self.sha.update(tag.as_bytes());
        self.sha.update([0]);
        self.sha.update((data.len() as u64).to_le_bytes());
        self.sha.update(data);
    }

    /// A number field.
    pub fn num(&mut self, tag: &str, n: u64) {
        self.field(tag, &n.to_le_bytes());
    }

    /// Forget hard links seen so far (a new source starts).
    pub fn new_source(&mut self) {
        self.links.clear();
    }

    /// Hash a stream's bytes (after its length, which the caller gave).
    /// Returns how many there were.
    pub fn stream(&mut self, r: &mut dyn Read) -> std::io::Result<u64> {
        let mut total = 0;
        loop {
            let n = r.read(&mut self.buf)?;
            if n == 0 {
                break;
            }
            self.sha.update(&self.buf[..n]);
            total += n as u64;
        }
        Ok(total)
    }

    /// The digest.
    pub fn finish(self) -> crate::digest::Digest {
        crate::digest::Digest::from_sha256(&self.sha.finalize())
    }
}

impl Visitor for Sum {
    fn enter(&mut self, rel: &Path, _dir: BorrowedFd, st: &Stat) -> Result<()> {
        self.field("dir", rel.as_os_str().as_bytes());
        self.num("mode", (st.st_mode & 0o7777) as u64);
        Ok(())
    }

    fn leave(&mut self, _rel: &Path, _dir: BorrowedFd, _st: &Stat) -> Result<()> {
        Ok(())
    }

    fn entry(&mut self, rel: &Path, parent: BorrowedFd, name: &OsStr, st: &Stat) -> Result<()> {
        let ft = file_type(st);
        let tag = match ft {
            FileType::RegularFile => "file",
            FileType::Symlink => "symlink",
            FileType::CharacterDevice => "char",
            FileType::BlockDevice => "block",
            FileType::Fifo => "fifo",
            _ => return Ok(()),
        };
        self.field(tag, rel.as_os_str().as_bytes());
        self.num("mode", (st.st_mode & 0o7777) as u64);
        match ft {
            FileType::RegularFile => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key).cloned() {
                        self.field("link", first.as_os_str().as_bytes());
                        return Ok(());
                    }
                    self.links.insert(key, rel.to_path_buf());
                }
                let fd = rustix::fs::openat(
                    parent,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
                    Mode::empty(),
                )
                .with_context(|| format!("open {}", rel.display()))?;
                // The size first, then exactly that many bytes (a file
                // that changes meanwhile is cut or padded, as a tar
                // entry would be), so the fields stay unambiguous.
                let size = st.st_size as u64;
                self.num("size", size);
                let mut r = File::from(fd)
                    .take(size)
                    .chain(std::io::repeat(0))
                    .take(size);
                self.stream(&mut r)
                    .with_context(|| format!("read {}", rel.display()))?;
            }
            FileType::Symlink => {
                let t = rustix::fs::readlinkat(parent, name, Vec::new())
                    .with_context(|| format!("read link {}", rel.display()))?;
                self.field("target", t.as_bytes());
            }
            FileType::CharacterDevice | FileType::BlockDevice => {
                self.num("rdev", st.st_rdev);
            }
            _ => {}
        }
        Ok(())
    }
}
