//! The build context: the directory whose files `COPY`/`ADD` read, and
//! the ignore rules that hide some of them.
//!
//! - `skiff build DIR`: the directory itself. The ignore file is, as
//!   BuildKit picks it: `<Containerfile>.dockerignore` next to the
//!   Containerfile when there is one, else `.containerignore` in the
//!   context root (Podman's name), else `.dockerignore` there.
//! - `skiff build - < ctx.tar`: a tar (plain, gzip or zstd) unpacked into
//!   a private scratch directory, removed again when the context is
//!   dropped. Its entries cannot land outside the scratch directory (no
//!   `..` escape; absolute names and symlinks resolved inside it), and
//!   device nodes are not made.
//! - `skiff build - < Containerfile`: stdin holds the Containerfile
//!   alone; the context is empty. [`Context::from_stdin`] tells the two
//!   apart as Docker does (a tar or a compressed stream is a context).
//!
//! Docker's rule for the Containerfile and the ignore file: the builder
//! reads them whatever the ignore file says (even when it excludes
//! them), but `COPY` does not see them then. [`Context::read_file`] is
//! the builder's way in; [`Context::matcher`] is what `COPY` gets.

use crate::build::copy::archive::{self, Compression, Extract};
use crate::build::copy::root::{describe, Root, Walked};
use crate::build::ignore::Matcher;
use anyhow::{anyhow, bail, Context as _, Result};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A build context, ready for `COPY`.
pub struct Context {
    root: PathBuf,
    matcher: Option<Matcher>,
    ignore_file: Option<PathBuf>,
    /// The scratch directory a tar was unpacked into, removed on drop.
    scratch: Option<PathBuf>,
}

impl Drop for Context {
    fn drop(&mut self) {
        if let Some(dir) = &self.scratch {
            // remove_dir_all never follows a symlink out of the tree.
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The Containerfile names looked for when none is given: Podman's first,
/// then Docker's.
pub const DEFAULT_NAMES: &[&str] = &["Containerfile", "Dockerfile"];

impl Context {
    /// A directory context. `containerfile` is the Containerfile's path as
    /// given (`-f`, maybe outside the context); None means the default
    /// name in the context root.
    pub fn dir(path: &Path, containerfile: Option<&Path>) -> Result<Context> {
        let md =
            std::fs::metadata(path).with_context(|| format!("build context {}", path.display()))?;
        if !md.is_dir() {
            bail!("build context {}: not a directory", path.display());
        }
        let mut c = Context {
            root: path.to_path_buf(),
            matcher: None,
            ignore_file: None,
            scratch: None,
        };
        let cf = match containerfile {
            Some(p) => Some(p.to_path_buf()),
            None => default_containerfile(path),
        };
        c.load_ignore(cf.as_deref())?;
        Ok(c)
    }

    /// A context from a tar stream (`skiff build - < ctx.tar`), unpacked
    /// into a new directory under `scratch`. `containerfile` is the
    /// Containerfile's path inside the archive, if not the default.
    pub fn from_tar<R: Read>(
        reader: R,
        scratch: &Path,
        containerfile: Option<&Path>,
    ) -> Result<Context> {
        let mut r = BufReader::new(reader);
        let head = r
            .fill_buf()
            .context("read the build context from stdin")?
            .to_vec();
        let c = archive::sniff(&head);
        let mut ctx = Context::empty(scratch)?;
        let root = Root::open(&ctx.root)?;
        let stream = archive::decompress(c, r).context("read the build context from stdin")?;
        archive::extract(
            stream,
            &root,
            Extract {
                owners: false,
                devices: false,
            },
        )
        .context("unpack the build context")?;
        let cf = match containerfile {
            Some(p) => Some(ctx.root.join(crate::build::copy::root::lexical(p))),
            None => default_containerfile(&ctx.root),
        };
        ctx.load_ignore(cf.as_deref())?;
        Ok(ctx)
    }

    /// `skiff build -`: stdin is either a context (a tar, maybe
    /// compressed) or a Containerfile alone. Returns the context and, in
    /// the second case, the Containerfile's text.
    pub fn from_stdin<R: Read>(reader: R, scratch: &Path) -> Result<(Context, Option<Vec<u8>>)> {
        let mut r = BufReader::with_capacity(64 << 10, reader);
        let mut head = Vec::new();
        // Enough for a tar header; fill_buf may return less at once.
        while head.len() < 512 {
            let buf = r.fill_buf().context("read stdin")?;
            if buf.is_empty() {
                break;
            }
            let want = (512 - head.len()).min(buf.len());
            head.extend_from_slice(&buf[..want]);
            r.consume(want);
        }
        let is_context = match archive::sniff(&head) {
            Compression::None => archive::is_tar_header(&head),
            _ => true,
        };
        let whole = std::io::Cursor::new(head).chain(r);
        if is_context {
            return Ok((Context::from_tar(whole, scratch, None)?, None));
        }
        let mut text = Vec::new();
        BufReader::new(whole)
            .read_to_end(&mut text)
            .context("read the Containerfile from stdin")?;
        Ok((Context::empty(scratch)?, Some(text)))
    }

    /// An empty context (a Containerfile given alone on stdin): a new,
    /// empty scratch directory, removed on drop.
    pub fn empty(scratch: &Path) -> Result<Context> {
        static N: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(scratch)
            .with_context(|| format!("create {}", scratch.display()))?;
        let dir = loop {
            let name = format!(
                "context-{}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos())
            );
            let dir = scratch.join(name);
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(anyhow!("create {}: {e}", dir.display())),
            }
        };
        Ok(Context {
            root: dir.clone(),
            matcher: None,
            ignore_file: None,
            scratch: Some(dir),
        })
    }

    /// Read the ignore file that applies, as described in the module doc.
    fn load_ignore(&mut self, containerfile: Option<&Path>) -> Result<()> {
        let mut candidates = Vec::new();
        if let Some(cf) = containerfile {
            let mut name = cf.as_os_str().to_os_string();
            name.push(".dockerignore");
            candidates.push(PathBuf::from(name));
        }
        candidates.push(self.root.join(".containerignore"));
        candidates.push(self.root.join(".dockerignore"));
        for path in candidates {
            // An unpacked tar is untrusted: its ignore file is read
            // inside it, never through a symlink out of it.
            let read = match (&self.scratch, path.strip_prefix(&self.root)) {
                (Some(_), Ok(rel)) => self.read_inside(rel),
                _ => std::fs::read(&path),
            };
            let text = match read {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(anyhow!("read {}: {}", path.display(), describe(&e))),
            };
            let text = String::from_utf8_lossy(&text);
            let m = Matcher::parse(&text).with_context(|| format!("read {}", path.display()))?;
            self.matcher = (!m.is_empty()).then_some(m);
            self.ignore_file = Some(path);
            break;
        }
        Ok(())
    }

    /// The context's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ignore rules `COPY` applies (None when there are none).
    pub fn matcher(&self) -> Option<&Matcher> {
        self.matcher.as_ref()
    }

    /// The ignore file that was read, if any.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.ignore_file.as_deref()
    }

    /// Read a file of the context for the builder itself (the
    /// Containerfile), whatever the ignore rules say; symlinks are
    /// followed, but only inside the context.
    pub fn read_file(&self, rel: &Path) -> Result<Vec<u8>> {
        self.read_inside(rel).map_err(|e| {
            let shown = Path::new("/").join(crate::build::copy::root::lexical(rel));
            anyhow!(
                "read {} in the build context: {}",
                shown.display(),
                describe(&e)
            )
        })
    }

    fn read_inside(&self, rel: &Path) -> std::io::Result<Vec<u8>> {
        let fd = rustix::fs::open(
            &self.root,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        let root = Root::from_fd(fd, self.root.clone());
        let resolved = root.resolve(rel, true, &mut Walked::default())?;
        let fd = crate::runtime::paths::open_in_root(
            root.fd(),
            &resolved,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW,
        )?;
        let mut out = Vec::new();
        std::fs::File::from(fd).read_to_end(&mut out)?;
        Ok(out)
    }
}

/// The default Containerfile in `dir`, if one is there.
pub fn default_containerfile(dir: &Path) -> Option<PathBuf> {
    DEFAULT_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
