//! Whose ids skiff acts with. An unprivileged user's skiff runs inside a
//! user namespace of its own (`ns::rootless`), where it is uid 0; the
//! caller's own ids are then the ones uid 0 and gid 0 map to outside.

/// One line of `/proc/PID/uid_map`: inside, outside, count.
type Line = (u64, u64, u64);

fn parse(text: &str) -> Vec<Line> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(|n| n.parse::<u64>().ok());
            Some((f.next()??, f.next()??, f.next()??))
        })
        .collect()
}

fn read(file: &str) -> Vec<Line> {
    parse(&std::fs::read_to_string(format!("/proc/self/{file}")).unwrap_or_default())
}

/// Read each time: a process moves into a namespace during its life.
fn uid_map() -> Vec<Line> {
    read("uid_map")
}

/// Is the whole id range the identity (the host's user namespace)?
fn is_identity(map: &[Line]) -> bool {
    map.is_empty() || map == [(0, 0, u32::MAX as u64)]
}

/// Does this process run in a user namespace other than the host's?
pub fn in_userns() -> bool {
    !is_identity(&uid_map())
}

/// Where `id` (inside) maps to outside, if it is mapped.
fn outside(map: &[Line], id: u32) -> Option<u32> {
    let id = id as u64;
    map.iter()
        .find(|(inside, _, count)| id >= *inside && id < inside + count)
        .map(|(inside, out, _)| (out + id - inside) as u32)
}

/// How many uids and gids this process's user namespace maps.
pub fn mapped_counts() -> (u32, u32) {
    let count = |m: Vec<Line>| m.iter().map(|l| l.2).sum::<u64>().min(u32::MAX as u64) as u32;
    (count(uid_map()), count(read("gid_map")))
}

/// The caller's uid as the host knows it.
pub fn outer_uid() -> u32 {
    let uid = rustix::process::geteuid().as_raw();
    outside(&uid_map(), uid).unwrap_or(uid)
}

/// The caller's gid as the host knows it.
pub fn outer_gid() -> u32 {
    let gid = rustix::process::getegid().as_raw();
    outside(&read("gid_map"), gid).unwrap_or(gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_ids_outward() {
        let m = parse("         0       1001          1\n         1     100000      65536\n");
        assert_eq!(m, [(0, 1001, 1), (1, 100000, 65536)]);
        assert!(!is_identity(&m));
        assert_eq!(outside(&m, 0), Some(1001));
        assert_eq!(outside(&m, 1), Some(100000));
        assert_eq!(outside(&m, 65536), Some(165535));
        assert_eq!(outside(&m, 65537), None);
        assert!(is_identity(&parse("0 0 4294967295\n")));
    }
}
