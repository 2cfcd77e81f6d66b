//! Content-addressed blobs: written to `ingest/`, hashed and counted while
//! streaming, verified, fsynced, then renamed into `blobs/sha256/`.

use anyhow::{Context, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use super::scratch::scratch_name;
use super::Store;
use crate::digest::{Digest, Hasher};
use crate::error::{kind_err, ErrorKind};
use crate::util::fs::fsync_dir;

/// Writes go through a buffer this large: registry bodies and tar streams
/// arrive in small chunks, and one large write per chunk group is cheaper.
const BUF_SIZE: usize = 256 * 1024;

impl Store {
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.blobs_dir().join(d.hex())
    }

    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    /// Open a blob for reading (not verified: the caller streams it through
    /// a hashing reader if it needs to). NotFound kind when missing.
    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        let path = self.blob_path(d);
        match File::open(&path) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(kind_err(
                ErrorKind::NotFound,
                format!("blob {d}: not in the store"),
            )),
            Err(e) => Err(e).with_context(|| format!("open blob {}", path.display())),
        }
    }

    /// Read a whole blob and verify its digest (Corrupt kind on mismatch).
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        self.open_blob(d)?
            .read_to_end(&mut data)
            .with_context(|| format!("read blob {d}"))?;
        let got = Digest::of(&data);
        if &got != d {
            return Err(kind_err(
                ErrorKind::Corrupt,
                format!("blob {d}: digest mismatch: got {got}"),
            ));
        }
        Ok(data)
    }

    /// Store `data` as a blob; a blob already present is left as it is.
    pub fn put_blob(&self, data: &[u8]) -> Result<Digest> {
        let d = Digest::of(data);
        if self.has_blob(&d) {
            return Ok(d);
        }
        let mut w = self.blob_writer(Some((d.clone(), Some(data.len() as u64))))?;
        w.write_all(data)
            .with_context(|| format!("write blob {d}"))?;
        w.commit()?;
        Ok(d)
    }

    /// A writer for a new blob. With `expect`, the content must hash to that
    /// digest (and have that size, when given) or `commit` refuses it.
    pub fn blob_writer(&self, expect: Option<(Digest, Option<u64>)>) -> Result<BlobWriter> {
        let path = self.ingest_dir().join(scratch_name(""));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
            .with_context(|| format!("create {}", path.display()))?;
        Ok(BlobWriter {
            out: Some(BufWriter::with_capacity(BUF_SIZE, file)),
            hasher: Hasher::new(),
            tmp: path,
            blobs_dir: self.blobs_dir(),
            expect,
        })
    }
}

/// A blob being written: hashes and counts as it goes. Dropping it without
/// [`BlobWriter::commit`] removes the partial file.
pub struct BlobWriter {
    out: Option<BufWriter<File>>,
    hasher: Hasher,
    tmp: PathBuf,
    blobs_dir: PathBuf,
    expect: Option<(Digest, Option<u64>)>,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.hasher.count()
    }

    fn expected_size(&self) -> Option<u64> {
        self.expect.as_ref().and_then(|(_, n)| *n)
    }

    /// Check what was written against the expected digest and size without
    /// committing (a caller with more checks to make before the blob may
    /// enter the store).
    pub fn verify(&self) -> Result<()> {
        let (got, size) = self.hasher.clone().finish();
        self.check(&got, size)
    }

    fn check(&self, got: &Digest, size: u64) -> Result<()> {
        if let Some((want, want_size)) = &self.expect {
            if let Some(n) = want_size {
                if *n != size {
                    return Err(kind_err(
                        ErrorKind::Corrupt,
                        format!("blob {want}: size mismatch: expected {n} bytes, got {size}"),
                    ));
                }
            }
            if want != got {
                return Err(kind_err(
                    ErrorKind::Corrupt,
                    format!("blob {want}: digest mismatch: got {got}"),
                ));
            }
        }
        Ok(())
    }

    /// Verify, fsync and move the blob into `blobs/`. Returns its digest and
    /// size. On a mismatch nothing enters `blobs/` (the temp file goes).
    pub fn commit(mut self) -> Result<(Digest, u64)> {
        let out = self.out.take().expect("blob writer used after commit");
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("write {}", self.tmp.display()))?;
        let (got, size) = std::mem::take(&mut self.hasher).finish();
        self.check(&got, size)?;
        file.sync_all()
            .with_context(|| format!("fsync {}", self.tmp.display()))?;
        drop(file);
        let dest = self.blobs_dir.join(got.hex());
        if dest.is_file() {
            // Another writer committed the same content first; ours is a copy.
            fs::remove_file(&self.tmp).with_context(|| format!("remove {}", self.tmp.display()))?;
        } else {
            fs::rename(&self.tmp, &dest)
                .with_context(|| format!("rename {} to {}", self.tmp.display(), dest.display()))?;
        }
        fsync_dir(&self.blobs_dir)?;
        // Disarm the drop cleanup: the temp name is gone either way.
        self.tmp = PathBuf::new();
        Ok((got, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(limit) = self.expected_size() {
            // Refuse early rather than fill the disk with a blob that can
            // only fail verification (a server sending more than it said).
            if self.hasher.count() + buf.len() as u64 > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob {}: more data than the expected {limit} bytes",
                        self.expect.as_ref().map(|(d, _)| d.as_str()).unwrap_or("")
                    ),
                ));
            }
        }
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer used after commit"))?;
        let n = out.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        drop(self.out.take());
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::kind_of;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        (d, s)
    }

    fn count(dir: &std::path::Path) -> usize {
        fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn commit_verifies_and_stores() {
        let (_d, s) = store();
        let want = Digest::of(b"hello world");
        let mut w = s.blob_writer(Some((want.clone(), Some(11)))).unwrap();
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        assert_eq!(w.count(), 11);
        assert_eq!(w.commit().unwrap(), (want.clone(), 11));
        assert!(s.has_blob(&want));
        assert_eq!(s.read_blob(&want).unwrap(), b"hello world");
        assert_eq!(count(&s.ingest_dir()), 0);
        // put_blob of the same content is idempotent.
        assert_eq!(s.put_blob(b"hello world").unwrap(), want);
        assert_eq!(count(&s.blobs_dir()), 1);
    }

    #[test]
    fn mismatch_leaves_nothing() {
        let (_d, s) = store();
        let want = Digest::of(b"expected");
        let mut w = s.blob_writer(Some((want.clone(), None))).unwrap();
        w.write_all(b"something else").unwrap();
        let e = w.commit().unwrap_err();
        assert_eq!(kind_of(&e), Some(ErrorKind::Corrupt));
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("blob {want}: digest mismatch: got sha256:")),
            "{msg}"
        );
        assert_eq!(count(&s.blobs_dir()), 0);
        assert_eq!(count(&s.ingest_dir()), 0);

        let mut w = s.blob_writer(Some((want.clone(), Some(3)))).unwrap();
        w.write_all(b"ab").unwrap();
        let e = w.commit().unwrap_err();
        assert!(
            e.to_string()
                .contains("size mismatch: expected 3 bytes, got 2"),
            "{e}"
        );

        let mut w = s.blob_writer(Some((want, Some(3)))).unwrap();
        assert!(w.write_all(b"abcd").is_err());
        drop(w);
        assert_eq!(count(&s.blobs_dir()), 0);
        assert_eq!(count(&s.ingest_dir()), 0);
    }

    #[test]
    fn drop_cleans_ingest() {
        let (_d, s) = store();
        let mut w = s.blob_writer(None).unwrap();
        w.write_all(b"partial").unwrap();
        assert_eq!(count(&s.ingest_dir()), 1);
        drop(w);
        assert_eq!(count(&s.ingest_dir()), 0);
    }

    #[test]
    fn unverified_writer_names_the_blob_by_content() {
        let (_d, s) = store();
        let mut w = s.blob_writer(None).unwrap();
        w.write_all(b"abc").unwrap();
        let (d, n) = w.commit().unwrap();
        assert_eq!((d.clone(), n), (Digest::of(b"abc"), 3));
        assert!(s.has_blob(&d));
    }

    #[test]
    fn concurrent_writers_of_one_blob_both_succeed() {
        let (_d, s) = store();
        let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
        let want = Digest::of(&data);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                let data = data.clone();
                let want = want.clone();
                std::thread::spawn(move || {
                    let mut w = s
                        .blob_writer(Some((want, Some(data.len() as u64))))
                        .unwrap();
                    for chunk in data.chunks(65536) {
                        w.write_all(chunk).unwrap();
                    }
                    w.commit().unwrap()
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap().0, want);
        }
        assert_eq!(s.read_blob(&want).unwrap(), data);
        assert_eq!(count(&s.ingest_dir()), 0);
    }

    #[test]
    fn missing_and_corrupt_blobs() {
        let (_d, s) = store();
        let d = Digest::of(b"absent");
        assert_eq!(
            kind_of(&s.open_blob(&d).unwrap_err()),
            Some(ErrorKind::NotFound)
        );
        let d = s.put_blob(b"good").unwrap();
        fs::write(s.blob_path(&d), b"bad!").unwrap();
        assert_eq!(
            kind_of(&s.read_blob(&d).unwrap_err()),
            Some(ErrorKind::Corrupt)
        );
    }
}
