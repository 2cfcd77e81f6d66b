//! How a container's user namespace moves ids: its maps (inside, outside,
//! count), the outside being the ids of the namespace skiff runs in. Used
//! to give copied files the ids the container will see as the image's
//! (`shift`), and to give a committed layer back the image's ids
//! (`unshift`).

/// One map line: `inside..inside+count` are `outside..`.
pub type Line = (u32, u32, u32);

/// The overflow id (`nobody`), what the kernel shows for an unmapped id.
pub const OVERFLOW: u32 = 65534;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdShift {
    uids: Vec<Line>,
    gids: Vec<Line>,
}

fn out(map: &[Line], id: u32) -> Option<u32> {
    map.iter()
        .find(|(i, _, n)| id >= *i && (id - i) < *n)
        .map(|(i, o, _)| o + (id - i))
}

fn back(map: &[Line], id: u32) -> Option<u32> {
    map.iter()
        .find(|(_, o, n)| id >= *o && (id - o) < *n)
        .map(|(i, o, _)| i + (id - o))
}

impl IdShift {
    /// No shift: every id is itself.
    pub fn identity() -> IdShift {
        IdShift::default()
    }

    pub fn new(uids: Vec<Line>, gids: Vec<Line>) -> IdShift {
        IdShift { uids, gids }
    }

    pub fn is_identity(&self) -> bool {
        self.uids.is_empty() && self.gids.is_empty()
    }

    /// Where the container's uid `id` lies outside; an unmapped one goes
    /// where the container's `nobody` does (its files show as nobody's,
    /// as they would through the kernel's own mapping).
    pub fn uid(&self, id: u32) -> u32 {
        shift(&self.uids, id)
    }

    pub fn gid(&self, id: u32) -> u32 {
        shift(&self.gids, id)
    }

    /// The container's uid for outside uid `id` (nobody when unmapped).
    pub fn unuid(&self, id: u32) -> u32 {
        unshift(&self.uids, id)
    }

    pub fn ungid(&self, id: u32) -> u32 {
        unshift(&self.gids, id)
    }
}

fn shift(map: &[Line], id: u32) -> u32 {
    if map.is_empty() {
        return id;
    }
    out(map, id).or_else(|| out(map, OVERFLOW)).unwrap_or(id)
}

fn unshift(map: &[Line], id: u32) -> u32 {
    if map.is_empty() {
        return id;
    }
    back(map, id).unwrap_or(OVERFLOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_both_ways() {
        let s = IdShift::new(vec![(0, 100000, 65536)], vec![(0, 200000, 10)]);
        assert_eq!(s.uid(0), 100000);
        assert_eq!(s.uid(1000), 101000);
        assert_eq!(s.unuid(101000), 1000);
        assert_eq!(s.unuid(5), OVERFLOW);
        assert_eq!(s.gid(3), 200003);
        // Unmapped: where nobody is, when it is mapped.
        assert_eq!(s.uid(70000), 100000 + OVERFLOW);
        assert_eq!(s.gid(70000), 70000);
        let id = IdShift::identity();
        assert!(id.is_identity());
        assert_eq!((id.uid(7), id.unuid(7)), (7, 7));
    }
}
