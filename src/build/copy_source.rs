//! The reading side of COPY/ADD: which paths a source names (globs
//! expanded, symlinks followed inside the source root, the context's
//! ignore rules applied) and a walk of a directory's entries in a fixed
//! order, filtered the way BuildKit filters them.
//!
//! A path the context's ignore file excludes does not exist for a build:
//! it is neither found by name nor by a glob nor reached through a
//! symlink, and a walk skips it. A directory that is excluded but holds
//! something an exception brings back is kept, with only that inside (as
//! BuildKit's context transfer keeps it).

use super::root::{describe, lexical, shown, Root, Walked};
use crate::build::ignore::{has_wildcard, Glob, MatchState, Matcher};
use crate::error::{kind_err, ErrorKind};
use anyhow::{anyhow, Context, Result};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// One path a source names.
#[derive(Debug)]
pub struct Found {
    /// The path inside the source root, symlinks resolved.
    pub rel: PathBuf,
    /// The name it was found under (a symlink's own name, not its
    /// target's): what a file copied into a directory is called.
    pub name: OsString,
    /// Its stat (of the target, for a symlink followed).
    pub st: Stat,
    /// With `--parents`: where it goes below the destination.
    pub keep: Option<PathBuf>,
}

impl Found {
    /// Is it a directory?
    pub fn is_dir(&self) -> bool {
        is_dir(&self.st)
    }
}

/// The node type in a stat, and a directory's sorted names (Go's
/// `ReadDir` order): as `cp` and `export` read trees.
pub use crate::container::tarfs::{dir_names, file_type};

/// Is the stat a directory's?
pub fn is_dir(st: &Stat) -> bool {
    file_type(st) == FileType::Directory
}

/// Open `name` in `dir` as a directory to read, never through a symlink.
pub fn open_subdir(dir: BorrowedFd, name: &OsStr) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// A path as the ignore matcher takes it.
fn slash(rel: &Path) -> String {
    rel.to_string_lossy().into_owned()
}

/// The source root with its filter (the context's ignore rules).
pub struct Source<'a> {
    /// The root the sources are read from.
    pub root: &'a Root,
    /// The context's ignore rules (None for another stage or an image).
    pub ignore: Option<&'a Matcher>,
}

impl Source<'_> {
    /// Does the build see `rel` (of stat `st`)? Excluded paths do not
    /// exist for it, except a directory that keeps something an
    /// exception brings back.
    pub fn visible(&self, rel: &Path, st: &Stat) -> Result<bool> {
        let Some(m) = self.ignore else {
            return Ok(true);
        };
        let (excluded, state) = m.check_path(&slash(rel));
        if !excluded {
            return Ok(true);
        }
        if !is_dir(st) || m.may_skip_dir(&slash(rel)) {
            return Ok(false);
        }
        let fd = self
            .root
            .open_dir(rel)
            .with_context(|| format!("open {}", shown(rel)))?;
        self.keeps_something(fd.as_fd(), rel, &state)
    }

    /// Does an excluded directory hold anything an exception re-includes?
    fn keeps_something(&self, dir: BorrowedFd, rel: &Path, state: &MatchState) -> Result<bool> {
        let m = self.ignore.expect("only called with a matcher");
        for name in dir_names(dir).with_context(|| format!("list {}", shown(rel)))? {
            let crel = rel.join(&name);
            let (excluded, cstate) = m.check(&slash(&crel), state);
            if !excluded {
                return Ok(true);
            }
            let Ok(st) = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            if is_dir(&st) && !m.may_skip_dir(&slash(&crel)) {
                if let Ok(sub) = open_subdir(dir, &name) {
                    if self.keeps_something(sub.as_fd(), &crel, &cstate)? {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    /// Resolve `path` (symlinks followed inside the root) to something
    /// the build sees; None when nothing is there for it.
    fn lookup(&self, path: &Path, follow: bool) -> Result<Option<(PathBuf, Stat)>> {
        let mut walked = Walked::default();
        let rel = match self.root.resolve(path, follow, &mut walked) {
            Ok(r) => r,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                return Ok(None)
            }
            Err(e) => {
                return Err(anyhow!(
                    "resolve {}: {}",
                    shown(&lexical(path)),
                    describe(&e)
                ))
            }
        };
        // A symlink that is itself excluded is not in the context.
        if let Some(m) = self.ignore {
            if walked.links.iter().any(|l| m.excluded(&slash(l))) {
                return Ok(None);
            }
        }
        let Some(st) = self
            .root
            .lstat(&rel)
            .with_context(|| format!("stat {}", shown(&rel)))?
        else {
            return Ok(None);
        };
        if !self.visible(&rel, &st)? {
            return Ok(None);
        }
        Ok(Some((rel, st)))
    }

    /// Every path `source` names, in order. A source naming nothing is an
    /// error (`ErrorKind::NotFound`), as in Docker.
    pub fn expand(
        &self,
        source: &str,
        exclude: Option<&Matcher>,
        parents: bool,
    ) -> Result<Vec<Found>> {
        if parents {
            return self.expand_parents(source);
        }
        let cleaned = lexical(Path::new(source));
        let comps: Vec<&OsStr> = cleaned.iter().collect();
        let split = comps
            .iter()
            .position(|c| has_wildcard(&c.to_string_lossy()))
            .unwrap_or(comps.len());
        let base: PathBuf = comps[..split].iter().collect();
        let not_found = || {
            let shown = if split < comps.len() {
                format!("/{}", cleaned.display())
            } else {
                shown(&cleaned)
            };
            kind_err(ErrorKind::NotFound, format!("{shown:?}: not found"))
        };
        if split == comps.len() {
            let (rel, st) = self.lookup(&base, true)?.ok_or_else(not_found)?;
            let name = base.file_name().unwrap_or_default().to_os_string();
            return Ok(vec![Found {
                rel,
                name,
                st,
                keep: None,
            }]);
        }
        let pattern: PathBuf = comps[split..].iter().collect();
        let glob = Glob::new(&slash(&pattern)).with_context(|| format!("source {source:?}"))?;
        let Some((base_rel, base_st)) = self.lookup(&base, true)? else {
            return Err(not_found());
        };
        let mut matches = Vec::new();
        if is_dir(&base_st) {
            let fd = self
                .root
                .open_dir(&base_rel)
                .with_context(|| format!("open {}", shown(&base_rel)))?;
            self.glob_walk(fd.as_fd(), &base_rel, Path::new(""), &glob, &mut matches)?;
        }
        if matches.is_empty() {
            return Err(not_found());
        }
        let mut out = Vec::new();
        for m in matches {
            // `COPY --exclude` leaves out matches it names as well.
            if let Some(ex) = exclude {
                if ex.excluded(&slash(&m)) {
                    continue;
                }
            }
            let full = base_rel.join(&m);
            let (rel, st) = self.lookup(&full, true)?.ok_or_else(|| {
                kind_err(
                    ErrorKind::NotFound,
                    format!("{:?}: not found", shown(&full)),
                )
            })?;
            out.push(Found {
                rel,
                name: m.file_name().unwrap_or_default().to_os_string(),
                st,
                keep: None,
            });
        }
        Ok(out)
    }

    /// Go's `resolveWildcards`: every path below the base that the
    /// pattern matches as a whole, a matched directory not entered.
    fn glob_walk(
        &self,
        dir: BorrowedFd,
        base: &Path,
        rel: &Path,
        glob: &Glob,
        out: &mut Vec<PathBuf>,
    ) -> Result<()> {
        for name in dir_names(dir).with_context(|| format!("list {}", shown(&base.join(rel))))? {
            let crel = rel.join(&name);
            let Ok(st) = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            if !self.visible(&base.join(&crel), &st)? {
                continue;
            }
            if glob.matches(&slash(&crel)) {
                out.push(crel);
            } else if is_dir(&st) {
                let sub = open_subdir(dir, &name)
                    .with_context(|| format!("open {}", shown(&base.join(&crel))))?;
                self.glob_walk(sub.as_fd(), base, &crel, glob, out)?;
            }
        }
        Ok(())
    }

    /// `COPY --parents`: the paths below the pivot (`a/./b/c` pivots at
    /// `a`; without one, at the root) that the pattern includes, each to
    /// keep its path below the pivot. Symlinks are not followed here:
    /// BuildKit copies what it finds below the pivot as it is.
    fn expand_parents(&self, source: &str) -> Result<Vec<Found>> {
        let (pivot, pattern) = match source.split_once("/./") {
            Some((p, rest)) => (p, rest),
            None => ("/", source),
        };
        let pattern = lexical(Path::new(pattern));
        let not_found = || {
            kind_err(
                ErrorKind::NotFound,
                format!("{:?}: not found", shown(&lexical(Path::new(source)))),
            )
        };
        let Some((base, base_st)) = self.lookup(Path::new(pivot), true)? else {
            return Err(not_found());
        };
        let mut out = Vec::new();
        if !pattern.iter().any(|c| has_wildcard(&c.to_string_lossy())) {
            if let Some((_, st)) = self.lookup(&base.join(&pattern), false)? {
                out.push(Found {
                    rel: base.join(&pattern),
                    name: pattern.file_name().unwrap_or_default().to_os_string(),
                    st,
                    keep: Some(pattern.clone()),
                });
            }
        } else if is_dir(&base_st) {
            let m =
                Matcher::new(&[slash(&pattern)]).with_context(|| format!("source {source:?}"))?;
            let fd = self
                .root
                .open_dir(&base)
                .with_context(|| format!("open {}", shown(&base)))?;
            self.parents_walk(
                fd.as_fd(),
                &base,
                Path::new(""),
                &m,
                &MatchState::default(),
                &mut out,
            )?;
        }
        if out.is_empty() {
            return Err(not_found());
        }
        Ok(out)
    }

    fn parents_walk(
        &self,
        dir: BorrowedFd,
        base: &Path,
        rel: &Path,
        m: &Matcher,
        state: &MatchState,
        out: &mut Vec<Found>,
    ) -> Result<()> {
        for name in dir_names(dir).with_context(|| format!("list {}", shown(&base.join(rel))))? {
            let crel = rel.join(&name);
            let Ok(st) = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            if !self.visible(&base.join(&crel), &st)? {
                continue;
            }
            let (hit, cstate) = m.check(&slash(&crel), state);
            if hit {
                out.push(Found {
                    rel: base.join(&crel),
                    name: name.clone(),
                    st,
                    keep: Some(crel),
                });
            } else if is_dir(&st) {
                let sub = open_subdir(dir, &name)
                    .with_context(|| format!("open {}", shown(&base.join(&crel))))?;
                self.parents_walk(sub.as_fd(), base, &crel, m, &cstate, out)?;
            }
        }
        Ok(())
    }
}

/// What a walk reports, in order: a directory's `enter` before anything
/// in it, its `leave` after. Paths are relative to the walked directory.
pub trait Visitor {
    /// A directory, before its entries (`dir` is it, open for reading).
    fn enter(&mut self, rel: &Path, dir: BorrowedFd, st: &Stat) -> Result<()>;
    /// The same directory, after its entries.
    fn leave(&mut self, rel: &Path, dir: BorrowedFd, st: &Stat) -> Result<()>;
    /// Anything but a directory: `name` in the open directory `parent`.
    fn entry(&mut self, rel: &Path, parent: BorrowedFd, name: &OsStr, st: &Stat) -> Result<()>;
}

/// A directory not yet reported: an excluded one is reported only once
/// something inside it is kept.
struct Pending {
    rel: PathBuf,
    fd: OwnedFd,
    st: Stat,
    entered: bool,
}

/// The walk's filters: the context's rules (relative to the context
/// root) and `COPY --exclude` (relative to the walked directory).
struct Filters<'a> {
    ignore: Option<&'a Matcher>,
    exclude: Option<&'a Matcher>,
}

/// Walk the directory `top` (resolved, inside the source root) in name
/// order. With `as_entry`, `top` itself is reported under that name
/// (`--parents` copies the directory, not only what it holds).
pub fn walk(
    src: &Source,
    top: &Path,
    as_entry: Option<&Path>,
    exclude: Option<&Matcher>,
    v: &mut dyn Visitor,
) -> Result<()> {
    let fd = src
        .root
        .open_dir(top)
        .with_context(|| format!("open {}", shown(top)))?;
    let st = rustix::fs::fstat(&fd).with_context(|| format!("stat {}", shown(top)))?;
    let ignore_state = src
        .ignore
        .map(|m| m.check_path(&slash(top)).1)
        .unwrap_or_default();
    let f = Filters {
        ignore: src.ignore,
        exclude,
    };
    let prefix = as_entry.unwrap_or(Path::new(""));
    let mut stack = Vec::new();
    if let Some(p) = as_entry {
        v.enter(p, fd.as_fd(), &st)?;
    }
    walk_dir(
        &f,
        top,
        fd.as_fd(),
        prefix,
        Path::new(""),
        &ignore_state,
        &MatchState::default(),
        &mut stack,
        v,
    )?;
    if let Some(p) = as_entry {
        v.leave(p, fd.as_fd(), &st)?;
    }
    Ok(())
}

fn enter_pending(stack: &mut [Pending], v: &mut dyn Visitor) -> Result<()> {
    for p in stack.iter_mut().filter(|p| !p.entered) {
        v.enter(&p.rel, p.fd.as_fd(), &p.st)?;
        p.entered = true;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn walk_dir(
    f: &Filters,
    top: &Path,
    dir: BorrowedFd,
    prefix: &Path,
    rel: &Path,
    ignore_state: &MatchState,
    exclude_state: &MatchState,
    stack: &mut Vec<Pending>,
    v: &mut dyn Visitor,
) -> Result<()> {
    let here = top.join(rel);
    for name in dir_names(dir).with_context(|| format!("list {}", shown(&here)))? {
        let crel = rel.join(&name);
        let ctx_rel = slash(&top.join(&crel));
        let st = match rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            // Gone since the listing.
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(anyhow!("stat {}: {e}", shown(&top.join(&crel)))),
        };
        let (ign, ign_state) = match f.ignore {
            Some(m) => m.check(&ctx_rel, ignore_state),
            None => (false, MatchState::default()),
        };
        let (exc, exc_state) = match f.exclude {
            Some(m) => m.check(&slash(&crel), exclude_state),
            None => (false, MatchState::default()),
        };
        let excluded = ign || exc;
        let shown_rel = prefix.join(&crel);
        if is_dir(&st) {
            let skip = (ign && f.ignore.is_some_and(|m| m.may_skip_dir(&ctx_rel)))
                || (exc && f.exclude.is_some_and(|m| m.may_skip_dir(&slash(&crel))));
            if skip {
                continue;
            }
            let sub = open_subdir(dir, &name)
                .with_context(|| format!("open {}", shown(&top.join(&crel))))?;
            stack.push(Pending {
                rel: shown_rel.clone(),
                fd: sub,
                st,
                entered: false,
            });
            if !excluded {
                enter_pending(stack, v)?;
            }
            let subfd = stack.last().expect("just pushed").fd.try_clone()?;
            walk_dir(
                f,
                top,
                subfd.as_fd(),
                prefix,
                &crel,
                &ign_state,
                &exc_state,
                stack,
                v,
            )?;
            let p = stack.pop().expect("pushed above");
            if p.entered {
                v.leave(&p.rel, p.fd.as_fd(), &p.st)?;
            }
        } else {
            // Sockets have no copy (BuildKit's context transfer drops them).
            if excluded || file_type(&st) == FileType::Socket {
                continue;
            }
            enter_pending(stack, v)?;
            v.entry(&shown_rel, dir, &name, &st)?;
        }
    }
    Ok(())
}
