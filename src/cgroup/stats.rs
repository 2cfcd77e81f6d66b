//! What a cgroup's processes have used, for `skiff stats`: CPU time,
//! memory, block I/O and tasks, read from the controllers' files where the
//! cgroup has them.
//!
//! A v1 cgroup has a directory only in the hierarchies it has limits in,
//! and the hybrid layout's cgroup2 group has no controllers (a v2 group
//! only those its limits enabled). What no file of the cgroup counts is
//! summed over its processes from /proc instead, at the cost of the
//! `stats` command alone. Making a memory (or blkio, cpuacct) directory
//! for every container would give exact figures, but a v1 directory is
//! joined by writing the child's pid to its `cgroup.procs`, and that write
//! waits for an RCU grace period (the cgroup core's threadgroup lock):
//! 6 to 16 ms here under strace, and `run --rm IMG true` took a median
//! 23.9 ms with `--memory` against 12.8 ms without (100 interleaved
//! rounds, release build), nearly doubling every container's start. The
//! cgroup2 group's `cpu.stat` counts CPU time in every group (Linux 4.15+,
//! controllers or not), so CPU time stays exact on hybrid without it.

use super::fs::{keyed, read};
use super::Cgroup;
use std::path::{Path, PathBuf};

/// What a cgroup has used, read at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// CPU time of its processes since they started, in nanoseconds.
    pub cpu_ns: u64,
    /// Memory in use less the inactive file cache: Docker's figure, which
    /// leaves out what the kernel reclaims first.
    pub memory: u64,
    /// Its memory limit; `None` when it has none.
    pub memory_limit: Option<u64>,
    /// Bytes read from and written to block devices.
    pub block_read: u64,
    pub block_write: u64,
    /// Tasks (threads) in it: what the pids controller counts.
    pub pids: u64,
}

impl Cgroup {
    /// What its processes have used so far.
    pub fn usage(&self) -> Usage {
        match self {
            Cgroup::V2(g) => usage_v2(&g.dir),
            Cgroup::V1 { dirs, tracker } => {
                let dir = |name: &str| {
                    dirs.dirs
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, d)| d.as_path())
                };
                let v1 = V1Dirs {
                    cpu: dir("cpu"),
                    memory: dir("memory"),
                    pids: dir("pids"),
                    tracker: tracker.as_ref().map(|t| t.dir.as_path()),
                };
                usage_v1(v1, self.members())
            }
        }
    }

    /// The processes in it (host pids), its subgroups' too.
    pub fn processes(&self) -> Vec<u32> {
        self.members().map(pids_in).unwrap_or_default()
    }

    /// A directory listing all of its processes: the v2 group, the
    /// tracker, or any v1 directory (each holds them all).
    fn members(&self) -> Option<&Path> {
        match self {
            Cgroup::V2(g) => Some(&g.dir),
            Cgroup::V1 { dirs, tracker } => tracker
                .as_ref()
                .map(|t| t.dir.as_path())
                .or_else(|| dirs.dirs.first().map(|(_, d)| d.as_path())),
        }
    }
}

/// A v2 directory: the limits' controllers' files where they are enabled,
/// `cpu.stat` always.
pub fn usage_v2(dir: &Path) -> Usage {
    let procs = Lazy::new(dir);
    let (memory, memory_limit) = match memory_v2(dir) {
        Some(m) => m,
        None => (procs.get().memory, None),
    };
    let (block_read, block_write) = match read(dir, "io.stat") {
        Ok(s) => io_stat(&s),
        Err(_) => (procs.get().read, procs.get().write),
    };
    Usage {
        cpu_ns: cpu_v2(dir).unwrap_or_else(|| procs.get().cpu_ns),
        memory,
        memory_limit,
        block_read,
        block_write,
        pids: read_u64(dir, "pids.current").unwrap_or_else(|| tasks(dir)),
    }
}

/// The directories of a v1 cgroup that count something.
struct V1Dirs<'a> {
    cpu: Option<&'a Path>,
    memory: Option<&'a Path>,
    pids: Option<&'a Path>,
    /// The hybrid layout's controller-less cgroup2 group.
    tracker: Option<&'a Path>,
}

fn usage_v1(d: V1Dirs, members: Option<&Path>) -> Usage {
    let procs = members.map(Lazy::new);
    let summed = || procs.as_ref().map(|p| *p.get()).unwrap_or_default();
    // cpuacct is mounted with cpu on most hosts (`cpu,cpuacct`).
    let cpu_ns = d
        .cpu
        .and_then(|c| read_u64(c, "cpuacct.usage"))
        .or_else(|| d.tracker.and_then(cpu_v2))
        .unwrap_or_else(|| summed().cpu_ns);
    let (memory, memory_limit) = match d.memory.and_then(memory_v1) {
        Some(m) => m,
        None => (summed().memory, None),
    };
    let pids = d
        .pids
        .and_then(|p| read_u64(p, "pids.current"))
        .or_else(|| d.tracker.map(tasks))
        .or_else(|| members.map(|m| count_lines(m, "tasks")))
        .unwrap_or(0);
    // No blkio directory is ever made (see above): block I/O is summed.
    let s = summed();
    Usage {
        cpu_ns,
        memory,
        memory_limit,
        block_read: s.read,
        block_write: s.write,
        pids,
    }
}

fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    read(dir, file).ok()?.parse().ok()
}

/// `usage_usec` of `cpu.stat`, in nanoseconds.
fn cpu_v2(dir: &Path) -> Option<u64> {
    let s = read(dir, "cpu.stat").ok()?;
    keyed(&s, "usage_usec").map(|us| us.saturating_mul(1000))
}

/// Usage less inactive file pages, and the limit (`max`: none).
fn memory_v2(dir: &Path) -> Option<(u64, Option<u64>)> {
    let current = read_u64(dir, "memory.current")?;
    let inactive = read(dir, "memory.stat")
        .ok()
        .and_then(|s| keyed(&s, "inactive_file"))
        .unwrap_or(0);
    let limit = read(dir, "memory.max").ok().and_then(|s| s.parse().ok());
    Some((without_cache(current, inactive), limit))
}

/// v1: `memory.usage_in_bytes` less `total_inactive_file`, and
/// `memory.limit_in_bytes` (the largest page-aligned number when unset:
/// the caller caps it at the host's memory, as Docker does).
fn memory_v1(dir: &Path) -> Option<(u64, Option<u64>)> {
    let usage = read_u64(dir, "memory.usage_in_bytes")?;
    let inactive = read(dir, "memory.stat")
        .ok()
        .and_then(|s| keyed(&s, "total_inactive_file"))
        .unwrap_or(0);
    Some((
        without_cache(usage, inactive),
        read_u64(dir, "memory.limit_in_bytes"),
    ))
}

/// Docker's rule: the cache is left out only when it is below the usage.
fn without_cache(usage: u64, inactive_file: u64) -> u64 {
    if inactive_file < usage {
        usage - inactive_file
    } else {
        usage
    }
}

/// Bytes read and written, summed over the devices of an `io.stat`:
/// `8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0`.
pub fn io_stat(text: &str) -> (u64, u64) {
    let mut read = 0u64;
    let mut write = 0u64;
    for field in text.split_whitespace() {
        let Some((k, v)) = field.split_once('=') else {
            continue;
        };
        let n: u64 = v.parse().unwrap_or(0);
        match k {
            "rbytes" => read = read.saturating_add(n),
            "wbytes" => write = write.saturating_add(n),
            _ => {}
        }
    }
    (read, write)
}

/// The tasks of the cgroup2 group at `dir` and below (`cgroup.threads`).
fn tasks(dir: &Path) -> u64 {
    count_lines(dir, "cgroup.threads")
}

fn count_lines(dir: &Path, file: &str) -> u64 {
    let mut n = 0;
    for_each_line(dir, file, &mut |_| n += 1);
    n
}

/// The processes of the group at `dir` and below, sorted.
fn pids_in(dir: &Path) -> Vec<u32> {
    let mut out = Vec::new();
    for_each_line(dir, "cgroup.procs", &mut |l| {
        if let Ok(p) = l.parse() {
            out.push(p);
        }
    });
    out.sort_unstable();
    out.dedup();
    out
}

/// Call `f` on each line of `file` in `dir` and in every group below it.
fn for_each_line(dir: &Path, file: &str, f: &mut dyn FnMut(&str)) {
    if let Ok(s) = std::fs::read_to_string(dir.join(file)) {
        s.lines().filter(|l| !l.is_empty()).for_each(&mut *f);
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let subdirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    for sub in subdirs {
        for_each_line(&sub, file, f);
    }
}

/// Sums over a cgroup's processes, from /proc.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Summed {
    cpu_ns: u64,
    memory: u64,
    read: u64,
    write: u64,
}

/// [`Summed`] read on first use only: /proc is walked when some file is
/// missing, not otherwise.
struct Lazy<'a> {
    dir: &'a Path,
    cell: std::cell::OnceCell<Summed>,
}

impl<'a> Lazy<'a> {
    fn new(dir: &'a Path) -> Lazy<'a> {
        Lazy {
            dir,
            cell: std::cell::OnceCell::new(),
        }
    }

    fn get(&self) -> &Summed {
        self.cell.get_or_init(|| sum_processes(&pids_in(self.dir)))
    }
}

fn sum_processes(pids: &[u32]) -> Summed {
    let ticks = rustix::param::clock_ticks_per_second().max(1);
    let mut s = Summed::default();
    for pid in pids {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        if let Some(t) = std::fs::read_to_string(proc.join("stat"))
            .ok()
            .and_then(|t| cpu_ticks(&t))
        {
            s.cpu_ns = s
                .cpu_ns
                .saturating_add(t.saturating_mul(1_000_000_000) / ticks);
        }
        // Proportional set size: a page shared by several of its
        // processes (their binary, libraries) counts once in all.
        if let Ok(t) = std::fs::read_to_string(proc.join("smaps_rollup")) {
            s.memory = s.memory.saturating_add(number_after(&t, "Pss:") * 1024);
        }
        if let Ok(t) = std::fs::read_to_string(proc.join("io")) {
            s.read = s.read.saturating_add(number_after(&t, "read_bytes:"));
            s.write = s.write.saturating_add(number_after(&t, "write_bytes:"));
        }
    }
    s
}

/// User and system time of a process and of its waited-for children
/// (fields 14 to 17 of `/proc/PID/stat`), in clock ticks: children that
/// ended inside the container still count, as they do in `cpu.stat`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let fields = crate::util::fs::stat_fields(stat)?;
    // stat_fields starts at field 3 (the state).
    let times: Vec<u64> = fields
        .skip(11)
        .take(4)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    (times.len() == 4).then(|| times.iter().sum())
}

/// The first number after `key` at the start of a line: `Pss:  123 kB`,
/// `read_bytes: 4096`.
fn number_after(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
