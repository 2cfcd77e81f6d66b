//! `COPY` and `ADD`: files from a source root (the build context, or
//! another stage's or image's file system for `--from`) into the step's
//! file system, with Docker's (BuildKit's) semantics:
//!
//! - Sources are paths relative to the source root; `../x` stays inside
//!   it (resolved as from `/`), symlinks are followed inside it, and
//!   globs (`*`, `?`, `[...]`, Go's `filepath.Match`) are expanded. A
//!   source naming nothing is an error (`"/missing": not found`, kind
//!   `NotFound`). The context's ignore rules hide what they exclude.
//! - A directory's *contents* are copied, merged into the destination
//!   directory (made when missing). A file copied to `dest/`, or to an
//!   existing directory, keeps its name; otherwise it becomes `dest`.
//!   More than one source needs a destination ending in `/` (Docker's
//!   own message). Missing parents are made 0755, owned by `--chown`'s
//!   owner when given.
//! - `--parents` keeps each source's path (below the root, or below a
//!   `/./` pivot: `a/./b/c` lands at `dest/b/c`), parents made like the
//!   source's directories.
//! - `--exclude` patterns (.dockerignore syntax) leave out paths below a
//!   copied directory, and glob matches they name.
//! - Metadata: see `copy_write`; `--chown` as (uid, gid) already
//!   resolved by the caller against the destination's `/etc/passwd`.
//! - ADD: a local tar archive (plain, gzip or zstd) is extracted into the
//!   destination directory instead (`copy_archive`); an `http(s)://`
//!   source is downloaded (`copy_url`), `--checksum` verified.
//! - Heredocs (`COPY <<EOF /dest`) are files of the given content, mode
//!   0644 before `--chmod`.
//!
//! The destination is a path inside `into_root` (the step's mounted file
//! system); it is resolved inside that root, so no symlink in the image
//! (`/dest -> /etc`, `/x -> ../../..`) leads outside it.
//!
//! [`checksum`] digests exactly what [`copy`] would read, for the cache.

#[path = "copy_archive.rs"]
pub(crate) mod archive;
#[path = "copy_root.rs"]
pub(crate) mod root;
#[path = "copy_source.rs"]
mod source;
#[path = "copy_sum.rs"]
mod sum;
#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
#[path = "copy_url.rs"]
mod url;
#[path = "copy_write.rs"]
mod write;

/// Whether ADD downloads a source, and the name the download gets.
pub use url::{file_name as url_file_name, is_url};

use crate::build::ignore::Matcher;
use crate::digest::Digest;
use crate::error::{kind_err, ErrorKind};
use anyhow::{anyhow, bail, Context, Result};
use archive::Extract;
use root::{describe, lexical, shown, split, Root};
use source::{is_dir, Found, Source};
use std::ffi::{OsStr, OsString};
use std::io::BufReader;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use sum::Sum;
use write::{clear_for_file, create_file, finish, times_at, Apply, Writer};

/// One `COPY` or `ADD`, its words expanded and its flags parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CopySpec {
    /// The sources as written (relative to the source root; `ADD` also
    /// takes `http(s)://` URLs).
    pub sources: Vec<String>,
    /// Heredoc sources: (file name, content).
    pub heredocs: Vec<(String, Vec<u8>)>,
    /// The destination as an absolute path in the destination root,
    /// already joined to `WORKDIR`; a trailing `/` (or `/.`) says it is a
    /// directory.
    pub dest: String,
    /// `--chown`, resolved: owner of everything written. None: 0:0.
    pub chown: Option<(u32, u32)>,
    /// `--chmod`, parsed with [`parse_chmod`].
    pub chmod: Option<u32>,
    /// `--exclude` patterns.
    pub exclude: Vec<String>,
    /// `--parents`.
    pub parents: bool,
    /// This is an `ADD`: archives are extracted, URLs downloaded.
    pub add: bool,
    /// `ADD --checksum`: the digest a URL's content must have.
    pub checksum: Option<Digest>,
}

impl CopySpec {
    /// A `COPY sources... dest` with no flags.
    pub fn new<S: Into<String>>(
        sources: impl IntoIterator<Item = S>,
        dest: impl Into<String>,
    ) -> CopySpec {
        CopySpec {
            sources: sources.into_iter().map(Into::into).collect(),
            dest: dest.into(),
            ..CopySpec::default()
        }
    }

    fn instruction(&self) -> &'static str {
        if self.add {
            "ADD"
        } else {
            "COPY"
        }
    }

    /// Does the destination name a directory (`dir/`, `dir/.`, `/`)?
    pub fn dest_is_dir(&self) -> bool {
        let d = self.dest.as_str();
        d.ends_with('/')
            || d.ends_with("/.")
            || d == "."
            || lexical(Path::new(d)).as_os_str().is_empty()
    }

    fn exclude_matcher(&self) -> Result<Option<Matcher>> {
        if self.exclude.is_empty() {
            return Ok(None);
        }
        Matcher::new(&self.exclude)
            .map(Some)
            .context("invalid --exclude pattern")
    }
}

/// `--chmod`'s value: octal permission bits (`755`, `0644`, `4755`).
pub fn parse_chmod(s: &str) -> Result<u32> {
    match u32::from_str_radix(s, 8) {
        Ok(m) if m <= 0o7777 && !s.is_empty() => Ok(m),
        _ => Err(kind_err(
            ErrorKind::InvalidArgument,
            format!("invalid --chmod value {s:?}: expected octal permission bits such as 755"),
        )),
    }
}

/// What one source turned into.
enum Item {
    Local(Found),
    Url(String),
    Doc(String, Vec<u8>),
}

/// The sources, expanded and checked as Docker checks them.
fn plan(src: &Source, spec: &CopySpec, exclude: Option<&Matcher>) -> Result<Vec<Item>> {
    let instr = spec.instruction();
    if spec.checksum.is_some() {
        if !spec.add {
            bail!("checksum can't be specified for COPY");
        }
        if spec.sources.len() != 1 {
            bail!("checksum can't be specified for multiple sources");
        }
        if !is_url(&spec.sources[0]) {
            bail!("checksum can't be specified for non-HTTP sources");
        }
    }
    if spec.sources.is_empty() && spec.heredocs.is_empty() {
        bail!("{instr} needs at least one source");
    }
    let mut items = Vec::new();
    for s in &spec.sources {
        if is_url(s) {
            if !spec.add {
                bail!("source can't be a URL for COPY");
            }
            items.push(Item::Url(s.clone()));
            continue;
        }
        for f in src.expand(s, exclude, spec.parents)? {
            items.push(Item::Local(f));
        }
    }
    for (name, data) in &spec.heredocs {
        items.push(Item::Doc(name.clone(), data.clone()));
    }
    if items.len() > 1 && !spec.parents && !spec.dest_is_dir() {
        return Err(kind_err(
            ErrorKind::InvalidArgument,
            format!(
                "When using {instr} with more than one source file, the destination must be a directory and end with a /"
            ),
        ));
    }
    Ok(items)
}

/// Run a COPY/ADD: read the sources from `src_root` (through `filter`,
/// the context's ignore rules, when it is the context) and write them
/// into the file system at `into_root`.
pub fn copy(
    src_root: &Path,
    filter: Option<&Matcher>,
    spec: &CopySpec,
    into_root: &Path,
) -> Result<()> {
    let sroot = Root::open(src_root)?;
    let src = Source {
        root: &sroot,
        ignore: filter,
    };
    let exclude = spec.exclude_matcher()?;
    let items = plan(&src, spec, exclude.as_ref())?;
    let dest = Root::open(into_root)?;
    let dest_rel = lexical(Path::new(&spec.dest));
    let apply = Apply {
        owner: spec.chown.unwrap_or((0, 0)),
        chmod: spec.chmod,
    };
    let mut w = Writer::new(&dest, apply);
    for item in items {
        match item {
            Item::Local(f) if f.keep.is_some() => {
                copy_kept(&src, &dest, &dest_rel, spec, exclude.as_ref(), &f, &mut w)?
            }
            Item::Local(f) if f.is_dir() => {
                let dir = dir_target(&dest, &dest_rel, spec.chown)?;
                w.begin(&dir)?;
                source::walk(&src, &f.rel, None, exclude.as_ref(), &mut w)?;
            }
            Item::Local(f) => {
                let (sparent, sname) = split(&f.rel);
                let sname = sname.unwrap_or_default();
                let sdir = src
                    .root
                    .open_dir(sparent)
                    .map_err(|e| anyhow!("open {}: {}", shown(sparent), describe(&e)))?;
                if spec.add && extract_archive(&dest, &dest_rel, spec, &f, sdir.as_fd(), sname)? {
                    continue;
                }
                let (parent, name) = file_target(&dest, &dest_rel, spec, &f.name)?;
                w.begin(&parent)?;
                w.node(sdir.as_fd(), sname, &f.st, &name)?;
            }
            Item::Url(u) => download(&dest, &dest_rel, spec, &apply, &u)?,
            Item::Doc(name, data) => {
                let fname = Path::new(&name)
                    .file_name()
                    .unwrap_or(OsStr::new(&name))
                    .to_os_string();
                let (parent, name) = file_target(&dest, &dest_rel, spec, &fname)?;
                let pfd = dest
                    .open_dir(&parent)
                    .map_err(|e| anyhow!("open {}: {}", shown(&parent), describe(&e)))?;
                let rel = parent.join(&name);
                clear_for_file(pfd.as_fd(), &name, &rel)?;
                let mut f = create_file(pfd.as_fd(), &name, &rel)?;
                std::io::Write::write_all(&mut f, &data)
                    .with_context(|| format!("write {}", shown(&rel)))?;
                finish(
                    f.as_fd(),
                    &rel,
                    &apply,
                    apply.mode(0o644),
                    None,
                    &times_at(now()),
                )?;
            }
        }
    }
    Ok(())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The destination as a directory to fill: made when missing (with its
/// parents), refused when something else is there.
fn dir_target(dest: &Root, dest_rel: &Path, chown: Option<(u32, u32)>) -> Result<PathBuf> {
    if let Ok(resolved) = dest.resolve(dest_rel, true, &mut Default::default()) {
        if let Some(st) = dest.lstat(&resolved).ok().flatten() {
            if !is_dir(&st) {
                bail!("cannot copy to non-directory: {}", shown(dest_rel));
            }
        }
    }
    dest.mkdir_all(dest_rel, chown)
}

/// Where a single file goes: `dest/name` when the destination is a
/// directory (by its trailing `/`, or because one is there), else `dest`
/// itself. Returns the resolved parent directory and the name.
fn file_target(
    dest: &Root,
    dest_rel: &Path,
    spec: &CopySpec,
    name: &OsStr,
) -> Result<(PathBuf, OsString)> {
    if spec.dest_is_dir() {
        dest.mkdir_all(dest_rel, spec.chown)?;
    } else if let Some(p) = dest_rel.parent() {
        dest.mkdir_all(p, spec.chown)?;
    }
    let resolved = dest
        .resolve(dest_rel, true, &mut Default::default())
        .map_err(|e| anyhow!("resolve {}: {}", shown(dest_rel), describe(&e)))?;
    let target = match dest
        .lstat(&resolved)
        .with_context(|| format!("stat {}", shown(&resolved)))?
    {
        Some(st) if is_dir(&st) => resolved.join(name),
        _ => resolved,
    };
    let (parent, fname) = split(&target);
    let fname = fname.unwrap_or(name).to_os_string();
    // A symlink at the destination may point where nothing is yet.
    let parent = dest.mkdir_all(parent, spec.chown)?;
    Ok((parent, fname))
}

/// `--parents`: the found path keeps its path below the pivot.
fn copy_kept(
    src: &Source,
    dest: &Root,
    dest_rel: &Path,
    spec: &CopySpec,
    exclude: Option<&Matcher>,
    f: &Found,
    w: &mut Writer,
) -> Result<()> {
    let keep = f.keep.as_deref().expect("a kept path");
    let top = dir_target(dest, dest_rel, spec.chown)?;
    w.begin(&top)?;
    let names: Vec<&OsStr> = keep.iter().collect();
    let base: PathBuf = f
        .rel
        .ancestors()
        .nth(names.len())
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let mut sdir_rel = base;
    for n in &names[..names.len().saturating_sub(1)] {
        sdir_rel.push(n);
        let sfd = src
            .root
            .open_dir(&sdir_rel)
            .map_err(|e| anyhow!("open {}: {}", shown(&sdir_rel), describe(&e)))?;
        let st = rustix::fs::fstat(&sfd).with_context(|| format!("stat {}", shown(&sdir_rel)))?;
        w.parent_dir(n, sfd.as_fd(), &st)?;
    }
    let last = names.last().copied().unwrap_or_default();
    if f.is_dir() {
        source::walk(src, &f.rel, Some(Path::new(last)), exclude, w)
    } else {
        let sfd = src
            .root
            .open_dir(&sdir_rel)
            .map_err(|e| anyhow!("open {}: {}", shown(&sdir_rel), describe(&e)))?;
        w.node(sfd.as_fd(), last, &f.st, last)
    }
}

/// ADD of a local file: when it is a tar archive, extract it into the
/// destination directory and say so.
fn extract_archive(
    dest: &Root,
    dest_rel: &Path,
    spec: &CopySpec,
    f: &Found,
    sdir: BorrowedFd,
    sname: &OsStr,
) -> Result<bool> {
    let fd = rustix::fs::openat(
        sdir,
        sname,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .with_context(|| format!("open {}", shown(&f.rel)))?;
    let file = std::fs::File::from(fd);
    let Some(c) = archive::archive_kind(&file, &shown(&f.rel))? else {
        return Ok(false);
    };
    let dir = dir_target(dest, dest_rel, spec.chown)?;
    let dfd = dest
        .open_dir(&dir)
        .map_err(|e| anyhow!("open {}: {}", shown(&dir), describe(&e)))?;
    let droot = Root::from_fd(dfd, dest.host_path().join(&dir));
    let r = archive::decompress(c, BufReader::new(file))?;
    archive::extract(
        r,
        &droot,
        Extract {
            owners: true,
            devices: true,
        },
    )
    .with_context(|| format!("extract {} into {}", shown(&f.rel), shown(dest_rel)))?;
    Ok(true)
}

/// ADD of a URL: downloaded next to its final name, verified, then
/// renamed into place, so a failed or mismatched download leaves nothing.
fn download(dest: &Root, dest_rel: &Path, spec: &CopySpec, apply: &Apply, u: &str) -> Result<()> {
    let name = OsString::from(url::file_name(u));
    let (parent, name) = file_target(dest, dest_rel, spec, &name)?;
    let pfd = dest
        .open_dir(&parent)
        .map_err(|e| anyhow!("open {}: {}", shown(&parent), describe(&e)))?;
    let rel = parent.join(&name);
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = OsString::from(format!(".skiff-add-{}-{n}-{}", std::process::id(), now()));
    let mut file = create_file(pfd.as_fd(), &tmp, &parent.join(&tmp))?;
    let result = (|| -> Result<()> {
        let got = url::fetch(u, spec.checksum.as_ref(), &mut file)?;
        let mtime = got.modified.unwrap_or_else(now);
        finish(
            file.as_fd(),
            &rel,
            apply,
            apply.mode(0o600),
            None,
            &times_at(mtime),
        )?;
        clear_for_file(pfd.as_fd(), &name, &rel)?;
        rustix::fs::renameat(&pfd, &tmp, &pfd, &name)
            .with_context(|| format!("create {}", shown(&rel)))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = rustix::fs::unlinkat(&pfd, &tmp, rustix::fs::AtFlags::empty());
    }
    result
}

/// The digest of everything a [`copy`] with these arguments would read,
/// and of the options that change what it writes: the cache key's
/// content part. It changes when any file read changes (name, content,
/// mode, symlink target) and not when an ignored, excluded or unnamed
/// file does. A URL is downloaded for it, unless `--checksum` pins it.
pub fn checksum(src_root: &Path, filter: Option<&Matcher>, spec: &CopySpec) -> Result<Digest> {
    let sroot = Root::open(src_root)?;
    let src = Source {
        root: &sroot,
        ignore: filter,
    };
    let exclude = spec.exclude_matcher()?;
    let items = plan(&src, spec, exclude.as_ref())?;
    let mut sum = Sum::new();
    sum.field("version", b"skiff-copy-1");
    sum.field("instruction", spec.instruction().as_bytes());
    sum.field("dest", spec.dest.as_bytes());
    if let Some((u, g)) = spec.chown {
        sum.field("chown", format!("{u}:{g}").as_bytes());
    }
    if let Some(m) = spec.chmod {
        sum.num("chmod", m as u64);
    }
    if let Some(ex) = &exclude {
        for p in ex.patterns() {
            sum.field("exclude", p.as_bytes());
        }
    }
    sum.num("parents", spec.parents as u64);
    for item in items {
        sum.new_source();
        match item {
            Item::Local(f) => sum_local(&src, spec, exclude.as_ref(), &f, &mut sum)?,
            Item::Url(u) => {
                sum.field("url", u.as_bytes());
                match &spec.checksum {
                    Some(d) => sum.field("digest", d.as_str().as_bytes()),
                    None => {
                        let got = url::fetch(&u, None, &mut std::io::sink())?;
                        sum.field("digest", got.digest.as_str().as_bytes());
                        sum.num("modified", got.modified.unwrap_or(0) as u64);
                    }
                }
            }
            Item::Doc(name, data) => {
                sum.field("heredoc", name.as_bytes());
                sum.field("content", &data);
            }
        }
    }
    Ok(sum.finish())
}

fn sum_local(
    src: &Source,
    spec: &CopySpec,
    exclude: Option<&Matcher>,
    f: &Found,
    sum: &mut Sum,
) -> Result<()> {
    use source::Visitor;
    use std::os::unix::ffi::OsStrExt;
    sum.field("source", f.name.as_bytes());
    let keep = f.keep.as_deref();
    if let Some(k) = keep {
        sum.field("keep", k.as_os_str().as_bytes());
        // The parents are made like their source directories.
        let depth = k.iter().count();
        for a in f.rel.ancestors().skip(1).take(depth.saturating_sub(1)) {
            if let Some(st) = src.root.lstat(a).ok().flatten() {
                sum.num("parent-mode", (st.st_mode & 0o7777) as u64);
            }
        }
    }
    if f.is_dir() {
        let name = keep.and_then(|k| k.file_name()).map(Path::new);
        return source::walk(src, &f.rel, name, exclude, sum);
    }
    let (sparent, sname) = split(&f.rel);
    let sname = sname.unwrap_or_default();
    let sdir = src
        .root
        .open_dir(sparent)
        .map_err(|e| anyhow!("open {}: {}", shown(sparent), describe(&e)))?;
    if spec.add && keep.is_none() {
        let fd = rustix::fs::openat(
            &sdir,
            sname,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .with_context(|| format!("open {}", shown(&f.rel)))?;
        let file = std::fs::File::from(fd);
        let extracted = archive::archive_kind(&file, &shown(&f.rel))?.is_some();
        sum.num("extract", extracted as u64);
    }
    sum.entry(Path::new(&f.name), sdir.as_fd(), sname, &f.st)
}
