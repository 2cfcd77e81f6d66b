//! `--userns`: which user namespace a container runs in.

use super::bad;
use anyhow::Result;

/// The modes of `--userns`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UsernsMode {
    /// The namespace skiff runs in: the host's for root, the rootless one
    /// (`ns::rootless`) for everyone else (`host`, or no flag).
    #[default]
    Host,
    /// Rootless: a namespace of the container's own where the caller's uid
    /// and gid are themselves, so files of a bound directory keep their
    /// owner inside and out (`keep-id`).
    KeepId,
}

/// Parse `--userns`'s value.
pub fn parse_userns(s: &str) -> Result<UsernsMode> {
    match s {
        "" | "host" => Ok(UsernsMode::Host),
        "keep-id" => Ok(UsernsMode::KeepId),
        // Both need the image's files owned by ids the container maps
        // (a copy, or an idmapped mount): not made yet.
        "auto" | "nomap" => Err(bad(format!("--userns={s} is not supported yet"))),
        other => Err(bad(format!(
            "--userns: invalid USER mode {other:?} (host or keep-id)"
        ))),
    }
}

/// One mapping line: container ids `inside..inside+count` are the parent
/// namespace's `outside..`.
pub type MapLine = (u32, u32, u32);

/// The maps of a container's own namespace in `mode`, in the ids of the
/// namespace skiff runs in: there `0` is the caller and `1..size` the
/// subordinate ids; `own` is the caller's id as the host knows it.
/// `None` for [`UsernsMode::Host`].
pub fn maps(mode: UsernsMode, own: u32, size: u32) -> Option<Vec<MapLine>> {
    let mut out = Vec::new();
    match mode {
        UsernsMode::Host => return None,
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
        assert!(parse_userns("nomap").is_err());
        assert!(parse_userns("auto").is_err());
        assert!(parse_userns("bogus").is_err());
    }

    #[test]
    fn keep_id_maps_the_caller_to_itself() {
        // 65537 ids: the caller (0) and 65536 subordinate ones.
        let m = maps(UsernsMode::KeepId, 1001, 65537).unwrap();
        assert_eq!(m, [(0, 1, 1001), (1001, 0, 1), (1002, 1002, 64535)]);
        // Every id of the namespace once.
        assert_eq!(m.iter().map(|l| l.2).sum::<u32>(), 65537);
        // Only the caller's id (no subordinate ones).
        assert_eq!(maps(UsernsMode::KeepId, 1001, 1).unwrap(), [(1001, 0, 1)]);
        assert_eq!(maps(UsernsMode::Host, 1001, 65537), None);
    }
}
