//! A tar writer that puts names into headers byte for byte.
//!
//! The `tar` crate's builder refuses `..` and absolute names, which is
//! right for it and wrong for us: the malicious test layers need exactly
//! those names, so headers are filled by hand here.

use tar::{EntryType, Header};

/// Every entry gets the same mtime so fixtures are reproducible
/// (2023-11-14T22:13:20Z).
pub const MTIME: u64 = 1_700_000_000;

#[derive(Default)]
pub struct Tarball {
    buf: Vec<u8>,
}

impl Tarball {
    pub fn new() -> Tarball {
        Tarball::default()
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.entry(name, EntryType::Directory, mode, (0, 0), None, b"")
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        self.entry(name, EntryType::Regular, mode, (0, 0), None, data)
    }

    pub fn file_owned(
        &mut self,
        name: &str,
        mode: u32,
        owner: (u64, u64),
        data: &[u8],
    ) -> &mut Self {
        self.entry(name, EntryType::Regular, mode, owner, None, data)
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, EntryType::Symlink, 0o777, (0, 0), Some(target), b"")
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, EntryType::Link, 0o644, (0, 0), Some(target), b"")
    }

    pub fn fifo(&mut self, name: &str, mode: u32) -> &mut Self {
        self.entry(name, EntryType::Fifo, mode, (0, 0), None, b"")
    }

    /// The archive with its two terminating zero blocks.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    fn entry(
        &mut self,
        name: &str,
        kind: EntryType,
        mode: u32,
        (uid, gid): (u64, u64),
        link: Option<&str>,
        data: &[u8],
    ) -> &mut Self {
        let mut h = Header::new_ustar();
        put_bytes(&mut h.as_old_mut().name, name);
        if let Some(link) = link {
            put_bytes(&mut h.as_old_mut().linkname, link);
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(MTIME);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.buf.extend_from_slice(h.as_bytes());
        self.buf.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.buf.extend(std::iter::repeat_n(0u8, pad));
        self
    }
}

fn put_bytes(field: &mut [u8; 100], s: &str) {
    assert!(
        s.len() <= field.len(),
        "tar name too long for a header: {s}"
    );
    field[..s.len()].copy_from_slice(s.as_bytes());
}
