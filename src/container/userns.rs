//! A container's own user namespace (`--userns=keep-id|auto|nomap`,
//! `--uidmap`/`--gidmap`): its maps, in the ids of the namespace skiff
//! runs in, and how they move the image's ids (see `rootfs`).
//!
//! `auto` takes, as Podman's does, a range no other `auto` container
//! holds (`store::userns`), as big as the image needs (its highest uid or
//! gid plus one, at least 1024; `auto:size=N` says otherwise), from:
//! - root: the subordinate ranges of the user `containers` in
//!   `/etc/subuid` and `/etc/subgid` (Podman's source), else the fixed
//!   range of Podman's example, ids 2147483647 to 4294967294;
//! - rootless: the subordinate ids of skiff's namespace (1 and up), never
//!   the caller's own.

use crate::config::Config;
use crate::error::{kind_err, ErrorKind};
use crate::runtime::opts::userns::{maps, MapLine, UsernsMode};
use crate::runtime::opts::RunOpts;
use crate::runtime::spec::UserNs;
use crate::store::Store;
use crate::util::idshift::IdShift;
use anyhow::Result;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Podman's smallest `auto` namespace.
const AUTO_MIN: u32 = 1024;
/// Root's `auto` ids without a `containers` user in /etc/subuid.
const AUTO_FIXED: (u32, u32) = (2_147_483_647, 2_147_483_648);

/// A container's own user namespace.
pub struct OwnUserns {
    pub maps: UserNs,
    /// How the image's files are to be seen (identity for keep-id).
    pub shift: IdShift,
}

fn oci(lines: &[MapLine]) -> Vec<oci_spec::runtime::LinuxIdMapping> {
    lines
        .iter()
        .map(|&(inside, outside, n)| crate::ns::rootless::mapping(inside, outside, n))
        .collect()
}

fn invalid(msg: String) -> anyhow::Error {
    kind_err(ErrorKind::InvalidArgument, msg)
}

/// The own user namespace `opts` asks for, for container `id` of `store`
/// made from layers `layers_top_first`; `None` for the one skiff runs in.
pub fn own_userns(
    store: &Store,
    cfg: &Config,
    opts: &RunOpts,
    id: &str,
    layers_top_first: &[PathBuf],
) -> Result<Option<OwnUserns>> {
    let mode = &opts.userns;
    if !mode.is_own() {
        return Ok(None);
    }
    let (uid_count, gid_count) = crate::util::ids::mapped_counts();
    let (uids, gids) = match mode {
        UsernsMode::KeepId | UsernsMode::NoMap if !cfg.rootless => {
            let name = if *mode == UsernsMode::KeepId {
                "keep-id"
            } else {
                "nomap"
            };
            return Err(invalid(format!(
                "--userns={name} is for rootless mode only"
            )));
        }
        UsernsMode::Auto { size } => {
            let size = match size {
                Some(n) => *n,
                None => needed_ids(layers_top_first),
            };
            let (up, gp) = auto_pools(cfg, uid_count, gid_count);
            let r = store.allocate_auto_userns(id, size, &up, &gp)?;
            (vec![(0, r.uid, size)], vec![(0, r.gid, size)])
        }
        _ => (
            maps(mode, crate::util::ids::outer_uid(), uid_count, true).unwrap_or_default(),
            maps(mode, crate::util::ids::outer_gid(), gid_count, false).unwrap_or_default(),
        ),
    };
    if cfg.rootless {
        // Only ids skiff's namespace has can be given on.
        for (what, lines, count) in [("uid", &uids, uid_count), ("gid", &gids, gid_count)] {
            if let Some(l) = lines
                .iter()
                .find(|l| l.1 as u64 + l.2 as u64 > count as u64)
            {
                return Err(invalid(format!(
                    "{what} map {}:{}:{} goes past the {count} ids of skiff's user namespace (0 is yours, 1 and up your subordinate ids in /etc/subuid and /etc/subgid)",
                    l.0, l.1, l.2
                )));
            }
        }
    }
    if uids.is_empty() || gids.is_empty() {
        return Err(invalid(
            "the container's user namespace would map no id (no subordinate ids in /etc/subuid and /etc/subgid?)".into(),
        ));
    }
    let shift = if mode.shifts_image() {
        IdShift::new(uids.clone(), gids.clone())
    } else {
        IdShift::identity()
    };
    Ok(Some(OwnUserns {
        maps: UserNs {
            uids: oci(&uids),
            gids: oci(&gids),
        },
        shift,
    }))
}

/// Ranges of ids: (first, count).
type Pool = Vec<(u32, u32)>;

/// Where `auto` ranges come from: (uid pool, gid pool).
fn auto_pools(cfg: &Config, uid_count: u32, gid_count: u32) -> (Pool, Pool) {
    if cfg.rootless {
        let pool = |n: u32| {
            if n > 1 {
                vec![(1, n - 1)]
            } else {
                Vec::new()
            }
        };
        return (pool(uid_count), pool(gid_count));
    }
    let uid = nix::unistd::User::from_name("containers")
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
        .unwrap_or(u32::MAX);
    let read = |f: &str| {
        crate::ns::rootless::ranges(
            &std::fs::read_to_string(f).unwrap_or_default(),
            Some("containers"),
            uid,
        )
    };
    let (u, g) = (read("/etc/subuid"), read("/etc/subgid"));
    if u.is_empty() || g.is_empty() {
        (vec![AUTO_FIXED], vec![AUTO_FIXED])
    } else {
        (u, g)
    }
}

/// How many ids the image's files need: its highest uid or gid (in its
/// layers' files and its `/etc/passwd` and `/etc/group`) plus one, at
/// least [`AUTO_MIN`].
pub fn needed_ids(layers_top_first: &[PathBuf]) -> u32 {
    let mut max = 0u32;
    for l in layers_top_first {
        max = max.max(max_id_in(l));
    }
    for (file, col) in [("etc/passwd", 2usize), ("etc/group", 2)] {
        let text = crate::runtime::create::image_file(layers_top_first, file).unwrap_or_default();
        for line in text.lines() {
            let id = line.split(':').nth(col).and_then(|v| v.parse::<u32>().ok());
            // nobody (65534) and the like need no range of their own.
            if let Some(id) = id.filter(|i| *i < crate::util::idshift::OVERFLOW - 1) {
                max = max.max(id);
            }
        }
    }
    max.saturating_add(1).max(AUTO_MIN)
}

/// The highest uid or gid of the files under `dir` (no symlink followed).
fn max_id_in(dir: &Path) -> u32 {
    let mut max = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            max = max.max(m.uid()).max(m.gid());
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    max
}

/// keep-id: the image's `/etc/passwd` and `/etc/group` with the caller's
/// names for its ids (when the image has none), written in the container's
/// directory to be bound over the image's.
pub fn keep_id_files(
    dir: &Path,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<(Option<PathBuf>, Option<PathBuf>)> {
    use nix::unistd::{Gid, Group, Uid, User};
    let (uid, gid) = (crate::util::ids::outer_uid(), crate::util::ids::outer_gid());
    let name = User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("user{uid}"));
    let gname = Group::from_gid(Gid::from_raw(gid))
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_else(|| name.clone());
    let write = |file: &str, text: Option<String>| -> Result<Option<PathBuf>> {
        let Some(text) = text else {
            return Ok(None);
        };
        let p = dir.join(file);
        crate::util::fs::atomic_write(&p, text.as_bytes())?;
        Ok(Some(p))
    };
    Ok((
        write(
            "passwd",
            crate::runtime::user::passwd_with(passwd, &name, uid, gid),
        )?,
        write(
            "group",
            crate::runtime::user::group_with(group, &gname, gid),
        )?,
    ))
}

/// Give the files the container's root writes (its `/etc/hosts` and the
/// like, a volume made for it) to the container's root, as Docker and
/// Podman do for a container whose root is someone else outside.
pub fn give_to_root(paths: &[&Path], shift: &IdShift) -> Result<()> {
    if shift.is_identity() {
        return Ok(());
    }
    for p in paths {
        std::os::unix::fs::chown(p, Some(shift.uid(0)), Some(shift.gid(0)))
            .map_err(|e| anyhow::anyhow!("chown {}: {e}", p.display()))?;
    }
    Ok(())
}
