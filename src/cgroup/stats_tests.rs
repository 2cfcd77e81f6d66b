//! Usage read from temporary directories laid out like cgroupfs: a v2
//! group with its controllers, one without (the hybrid layout's tracker,
//! or a v2 group its limits enabled nothing in), and the hybrid layout
//! with a v1 memory directory beside the tracker.

use super::*;
use crate::cgroup::{Hierarchies, Layout};
use std::fs::{create_dir_all, write};

fn files(dir: &Path, list: &[(&str, &str)]) {
    create_dir_all(dir).unwrap();
    for (name, text) in list {
        write(dir.join(name), text).unwrap();
    }
}

const CPU_STAT: &str = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnice_usec 0\n";

#[test]
fn v2_reads_each_controllers_file() {
    let t = tempfile::tempdir().unwrap();
    let leaf = t.path().join("skiff/c1");
    files(
        &leaf,
        &[
            ("cgroup.procs", "11\n12\n"),
            ("cgroup.threads", "11\n12\n13\n"),
            ("cpu.stat", CPU_STAT),
            ("memory.current", "10485760\n"),
            (
                "memory.stat",
                "anon 8388608\nfile 2097152\nactive_file 1048576\ninactive_file 1048576\n",
            ),
            ("memory.max", "67108864\n"),
            (
                "io.stat",
                "8:0 rbytes=4096 wbytes=1000 rios=1 wios=2 dbytes=0 dios=0\n\
                 259:0 rbytes=100 wbytes=24 rios=1 wios=1 dbytes=0 dios=0\n",
            ),
            ("pids.current", "4\n"),
        ],
    );
    let h = Hierarchies {
        layout: Layout::Unified,
        base: t.path().to_path_buf(),
    };
    let cg = Cgroup::open(&h, Path::new("/skiff/c1")).unwrap().unwrap();
    assert_eq!(
        cg.usage(),
        Usage {
            cpu_ns: 1_500_000,
            memory: 9 << 20,
            memory_limit: Some(64 << 20),
            block_read: 4196,
            block_write: 1024,
            pids: 4,
        }
    );
    assert_eq!(cg.processes(), [11, 12]);

    // No limit; a cache above the usage is not taken off it (Docker's rule).
    write(leaf.join("memory.max"), "max\n").unwrap();
    write(leaf.join("memory.stat"), "inactive_file 99999999\n").unwrap();
    let u = usage_v2(&leaf);
    assert_eq!((u.memory, u.memory_limit), (10 << 20, None));
}

#[test]
fn v2_without_controllers_counts_threads_and_sums_processes() {
    let t = tempfile::tempdir().unwrap();
    let leaf = t.path().join("skiff/c2");
    let me = std::process::id().to_string();
    files(
        &leaf,
        &[
            ("cgroup.procs", &format!("{me}\n")),
            ("cgroup.threads", &format!("{me}\n1\n")),
            ("cpu.stat", CPU_STAT),
        ],
    );
    // A group nested inside (a container may make its own): its tasks
    // count too.
    files(
        &leaf.join("inner"),
        &[("cgroup.procs", ""), ("cgroup.threads", "7\n")],
    );
    let u = usage_v2(&leaf);
    assert_eq!(u.cpu_ns, 1_500_000, "cpu.stat is in every cgroup2 group");
    assert_eq!(u.pids, 3);
    assert_eq!(u.memory_limit, None);
    // This test process's own memory, summed from /proc.
    assert!(u.memory > 0, "{u:?}");

    // Not even cpu.stat (a kernel before 4.15): CPU time from /proc too.
    std::fs::remove_file(leaf.join("cpu.stat")).unwrap();
    let spin = std::time::Instant::now();
    while spin.elapsed() < std::time::Duration::from_millis(30) {
        std::hint::black_box(spin.elapsed());
    }
    assert!(usage_v2(&leaf).cpu_ns > 0);
}

#[test]
fn hybrid_reads_the_memory_directory_and_the_tracker() {
    let t = tempfile::tempdir().unwrap();
    let base = t.path();
    let me = std::process::id().to_string();
    files(
        &base.join("memory/skiff/c3"),
        &[
            ("cgroup.procs", &format!("{me}\n")),
            ("tasks", &format!("{me}\n")),
            ("memory.usage_in_bytes", "20971520\n"),
            ("memory.limit_in_bytes", "33554432\n"),
            (
                "memory.stat",
                "cache 4194304\nrss 16777216\ntotal_inactive_file 3145728\n",
            ),
        ],
    );
    files(
        &base.join("unified/skiff/c3"),
        &[
            ("cgroup.procs", &format!("{me}\n")),
            ("cgroup.threads", &format!("{me}\n2\n")),
            ("cpu.stat", CPU_STAT),
        ],
    );
    let h = Hierarchies {
        layout: Layout::Hybrid,
        base: base.to_path_buf(),
    };
    let cg = Cgroup::open(&h, Path::new("/skiff/c3")).unwrap().unwrap();
    let u = cg.usage();
    assert_eq!(u.cpu_ns, 1_500_000);
    assert_eq!(u.memory, 17 << 20);
    assert_eq!(u.memory_limit, Some(32 << 20));
    assert_eq!(u.pids, 2);
    assert_eq!(cg.processes(), [std::process::id()]);

    // A pids directory counts the tasks itself; cpuacct co-mounted with
    // cpu counts the CPU time.
    files(
        &base.join("pids/skiff/c3"),
        &[("cgroup.procs", ""), ("pids.current", "5\n")],
    );
    files(
        &base.join("cpu/skiff/c3"),
        &[("cgroup.procs", ""), ("cpuacct.usage", "987654321\n")],
    );
    let u = Cgroup::open(&h, Path::new("/skiff/c3"))
        .unwrap()
        .unwrap()
        .usage();
    assert_eq!((u.pids, u.cpu_ns), (5, 987_654_321));
}

#[test]
fn proc_figures_parse() {
    let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 11 22 33 44 20 0 1 0 5555 0 0";
    assert_eq!(cpu_ticks(stat), Some(110));
    assert_eq!(cpu_ticks("4242 (x) S 1 2"), None);
    let io = "rchar: 500\nwchar: 20\nsyscr: 5\nsyscw: 2\nread_bytes: 4096\nwrite_bytes: 8192\n";
    assert_eq!(number_after(io, "read_bytes:"), 4096);
    assert_eq!(number_after(io, "write_bytes:"), 8192);
    assert_eq!(number_after("Rss: 10 kB\nPss:   7 kB\n", "Pss:"), 7);
    assert_eq!(io_stat(""), (0, 0));
}
