//! `--userns`, `--uidmap` and `--gidmap`: which user namespace a container
//! runs in, and how its ids map to the ids of the namespace skiff runs in
//! (the host's for root; skiff's rootless namespace otherwise, where 0 is
//! the caller and 1 and up its subordinate ids: Podman's "intermediate"
//! ids).

use super::bad;
use anyhow::Result;

/// One mapping line: container ids `inside..inside+count` are the parent
/// namespace's `outside..`.
pub type MapLine = (u32, u32, u32);

/// The modes of `--userns` (with `--uidmap`/`--gidmap` as one of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UsernsMode {
    /// The namespace skiff runs in: the host's for root, the rootless one
    /// (`ns::rootless`) for everyone else (`host`, or no flag).
    #[default]
    Host,
    /// Rootless: a namespace of the container's own where the caller's uid
    /// and gid are themselves, so files of a bound directory keep their
    /// owner inside and out (`keep-id`).
    KeepId,
    /// A namespace of the container's own, from a range of ids no other
    /// `auto` container has (`auto`, `auto:size=N`).
    Auto { size: Option<u32> },
    /// Rootless: a namespace of the container's own that maps the
    /// subordinate ids only, not the caller's own (`nomap`).
    NoMap,
    /// `--uidmap`/`--gidmap`: the maps given (either copied to the other
    /// when only one is, as Podman does).
    Map {
        uids: Vec<MapLine>,
        gids: Vec<MapLine>,
    },
}

impl UsernsMode {
    /// Does the container get a user namespace of its own?
    pub fn is_own(&self) -> bool {
        *self != UsernsMode::Host
    }

    /// Are the image's files to be seen through the container's maps
    /// (their ids moved where the maps put the image's)? Not with
    /// keep-id, whose point is the caller's files, as Podman's keep-id
    /// without idmapped mounts.
    pub fn shifts_image(&self) -> bool {
        matches!(
            self,
            UsernsMode::Auto { .. } | UsernsMode::NoMap | UsernsMode::Map { .. }
        )
    }
}

/// Parse `--userns`'s value with `--uidmap`s and `--gidmap`s.
pub fn parse(userns: &str, uidmap: &[String], gidmap: &[String]) -> Result<UsernsMode> {
    let mode = parse_userns(userns)?;
    if uidmap.is_empty() && gidmap.is_empty() {
        return Ok(mode);
    }
    if mode != UsernsMode::Host {
        return Err(bad(format!(
            "--userns={userns} and --uidmap/--gidmap cannot be used together"
        )));
    }
    let lines = |flag: &str, v: &[String]| -> Result<Vec<MapLine>> {
        v.iter().map(|s| parse_map_line(flag, s)).collect()
    };
    let mut uids = lines("--uidmap", uidmap)?;
    let mut gids = lines("--gidmap", gidmap)?;
    if uids.is_empty() {
        uids = gids.clone();
    }
    if gids.is_empty() {
        gids = uids.clone();
    }
    for (flag, m) in [("--uidmap", &uids), ("--gidmap", &gids)] {
        check_disjoint(flag, m)?;
    }
    Ok(UsernsMode::Map { uids, gids })
}

/// Parse `--userns`'s value alone.
pub fn parse_userns(s: &str) -> Result<UsernsMode> {
    let (mode, opts) = s.split_once(':').unwrap_or((s, ""));
    match mode {
        "" | "host" if opts.is_empty() => Ok(UsernsMode::Host),
        "keep-id" if opts.is_empty() => Ok(UsernsMode::KeepId),
        "nomap" if opts.is_empty() => Ok(UsernsMode::NoMap),
        "auto" => {
            let mut size = None;
            for o in opts.split(',').filter(|o| !o.is_empty()) {
                match o.split_once('=') {
                    Some(("size", n)) => {
                        size =
                            Some(n.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                                bad(format!("--userns=auto: invalid size {n:?}"))
                            })?);
                    }
                    _ => return Err(bad(format!("--userns=auto: unknown option {o:?} (size=N)"))),
                }
            }
            Ok(UsernsMode::Auto { size })
        }
        _ => Err(bad(format!(
            "--userns: invalid USER mode {s:?} (host, keep-id, auto[:size=N] or nomap)"
        ))),
    }
}

/// `CONTAINER_ID:HOST_ID[:AMOUNT]` (Podman's form; AMOUNT defaults to 1).
fn parse_map_line(flag: &str, s: &str) -> Result<MapLine> {
    let err = || {
        bad(format!(
            "{flag} {s:?}: expected CONTAINER_ID:HOST_ID:AMOUNT"
        ))
    };
    let mut f = s.split(':');
    let num = |v: Option<&str>| v.and_then(|v| v.trim().parse::<u32>().ok());
    let inside = num(f.next()).ok_or_else(err)?;
    let outside = num(f.next()).ok_or_else(err)?;
    let count = match f.next() {
        None => 1,
        v => num(v).ok_or_else(err)?,
    };
    if f.next().is_some() || count == 0 {
        return Err(err());
    }
    if inside.checked_add(count - 1).is_none() || outside.checked_add(count - 1).is_none() {
        return Err(bad(format!("{flag} {s:?}: the range passes the last id")));
    }
    Ok((inside, outside, count))
}

/// No id may be mapped twice, on either side (the kernel refuses it).
fn check_disjoint(flag: &str, m: &[MapLine]) -> Result<()> {
    let overlap =
        |a: u32, an: u32, b: u32, bn: u32| a < b.saturating_add(bn) && b < a.saturating_add(an);
    for (i, x) in m.iter().enumerate() {
        for y in &m[i + 1..] {
            if overlap(x.0, x.2, y.0, y.2) || overlap(x.1, x.2, y.1, y.2) {
                return Err(bad(format!(
                    "{flag}: the ranges {}:{}:{} and {}:{}:{} overlap",
                    x.0, x.1, x.2, y.0, y.1, y.2
                )));
            }
        }
    }
    Ok(())
}

/// The maps of a container's own namespace in `mode`, in the ids of the
/// namespace skiff runs in, for the modes that need no store: `own` is
/// the caller's id as the host knows it and `size` the number of ids
/// skiff's namespace maps (rootless: 0 is the caller, `1..size` the
/// subordinate ids). `None` for [`UsernsMode::Host`] and `auto`.
pub fn maps(mode: &UsernsMode, own: u32, size: u32, uids: bool) -> Option<Vec<MapLine>> {
    let mut out = Vec::new();
    match mode {
        UsernsMode::Host | UsernsMode::Auto { .. } => return None,
        UsernsMode::KeepId => {
            // Below the caller's id: the subordinate ids, in order.
            let below = own.min(size.saturating_sub(1));
            if below > 0 {
                out.push((0, 1, below));
            }
            out.push((own, 0, 1));
            // Above it: the rest of the subordinate ids, as they are.
            let next = below + 1;
            if next < size && own < u32::MAX {
                out.push((own + 1, next, size - next));
            }
        }
        UsernsMode::NoMap => {
            // The subordinate ids from 0 up; the caller's own not at all.
            if size > 1 {
                out.push((0, 1, size - 1));
            }
        }
        UsernsMode::Map { uids: u, gids: g } => out = if uids { u.clone() } else { g.clone() },
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes() {
        assert_eq!(parse_userns("").unwrap(), UsernsMode::Host);
        assert_eq!(parse_userns("host").unwrap(), UsernsMode::Host);
        assert_eq!(parse_userns("keep-id").unwrap(), UsernsMode::KeepId);
        assert_eq!(parse_userns("nomap").unwrap(), UsernsMode::NoMap);
        assert_eq!(
            parse_userns("auto").unwrap(),
            UsernsMode::Auto { size: None }
        );
        assert_eq!(
            parse_userns("auto:size=2048").unwrap(),
            UsernsMode::Auto { size: Some(2048) }
        );
        for bad in ["bogus", "auto:size=0", "auto:colour=red", "keep-id:uid=5"] {
            assert!(parse_userns(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_uidmap_and_gidmap() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let m = parse("", &s(&["0:100000:65536"]), &[]).unwrap();
        assert_eq!(
            m,
            UsernsMode::Map {
                uids: vec![(0, 100000, 65536)],
                gids: vec![(0, 100000, 65536)]
            }
        );
        let m = parse("", &s(&["0:1000:1", "1:200000:10"]), &s(&["0:300:5"])).unwrap();
        assert_eq!(
            m,
            UsernsMode::Map {
                uids: vec![(0, 1000, 1), (1, 200000, 10)],
                gids: vec![(0, 300, 5)]
            }
        );
        assert_eq!(
            parse("", &s(&["5:7"]), &[]).unwrap(),
            UsernsMode::Map {
                uids: vec![(5, 7, 1)],
                gids: vec![(5, 7, 1)]
            }
        );
        for bad in ["x:1:1", "0:1:0", "0:1:1:1", "4294967295:0:2", ""] {
            assert!(parse("", &s(&[bad]), &[]).is_err(), "{bad}");
        }
        assert!(parse("", &s(&["0:100:10", "5:200:10"]), &[]).is_err());
        assert!(parse("keep-id", &s(&["0:1:1"]), &[]).is_err());
    }

    #[test]
    fn keep_id_maps_the_caller_to_itself() {
        // 65537 ids: the caller (0) and 65536 subordinate ones.
        let m = maps(&UsernsMode::KeepId, 1001, 65537, true).unwrap();
        assert_eq!(m, [(0, 1, 1001), (1001, 0, 1), (1002, 1002, 64535)]);
        // Every id of the namespace once.
        assert_eq!(m.iter().map(|l| l.2).sum::<u32>(), 65537);
        // Only the caller's id (no subordinate ones).
        assert_eq!(
            maps(&UsernsMode::KeepId, 1001, 1, true).unwrap(),
            [(1001, 0, 1)]
        );
        assert_eq!(maps(&UsernsMode::Host, 1001, 65537, true), None);
    }

    #[test]
    fn nomap_leaves_the_caller_out() {
        assert_eq!(
            maps(&UsernsMode::NoMap, 1001, 65537, true).unwrap(),
            [(0, 1, 65536)]
        );
        assert_eq!(maps(&UsernsMode::NoMap, 1001, 1, true).unwrap(), []);
    }
}
