//! The known runtime escapes, each tried from inside a container; none
//! may work against skiff.
//!
//! - CVE-2019-5736: the container overwrites the runtime's binary through
//!   `/proc/self/exe` (or `/proc/1/exe` while the runtime's init runs).
//! - CVE-2024-21626: a host file descriptor leaked into the container, or
//!   a working directory (`-w /proc/self/fd/N`) opening onto the host.
//! - CVE-2021-30465: a mount target that is a symlink in the image,
//!   aimed out of the rootfs, so the mount lands on the host.
//! - CVE-2025-31133: `/dev/null` in the image a symlink to a procfs file,
//!   so masking a path with "/dev/null" binds that file instead.

mod common;

use common::run::{mounts_under, Ctx};
use common::run_images::run_images;
use std::path::Path;

fn sha256_file(p: &Path) -> String {
    common::sha256(&std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())))
}

#[test]
fn cve_2019_5736_the_runtime_binary_cannot_be_overwritten() {
    let c = Ctx::with("run_cve_2019_5736", &["busybox", "run/evil-exe"]);
    let bin = common::skiff::skiff_bin();
    let before = sha256_file(Path::new(&bin));

    // The image's entry is a script interpreted by /proc/self/exe: the
    // kernel runs whatever binary is exec'ing it, inside the container.
    // Whatever that does, it must not be a way to the host's binary.
    let out = c.run(&["--rm", &c.image("run/evil-exe"), "/evil"]);
    assert_ne!(out.code, 0, "{out}");

    // With --init, pid 1 is the runtime's init while the command runs:
    // every way to its executable is tried for writing.
    let script = "ls -l /proc/1/exe /proc/self/exe; \
                  echo pwned >> /proc/1/exe && echo WROTE-exe; \
                  exec 3</proc/1/exe && { echo pwned >> /proc/self/fd/3 && echo WROTE-fd; }; \
                  : > /proc/1/exe && echo WROTE-truncate; \
                  true";
    let out = c.run(&["--rm", "--init", &c.bb(), "sh", "-c", script]);
    out.assert_stdout_lacks("WROTE");
    assert_eq!(
        sha256_file(Path::new(&bin)),
        before,
        "the host's skiff binary changed:\n{out}"
    );
    // The same from a privileged container, which has every capability.
    let out = c.run(&[
        "--rm",
        "--init",
        "--privileged",
        &c.bb(),
        "sh",
        "-c",
        script,
    ]);
    out.assert_stdout_lacks("WROTE");
    assert_eq!(sha256_file(Path::new(&bin)), before, "{out}");
}

#[test]
fn cve_2024_21626_no_host_fd_inside() {
    let c = Ctx::new("run_cve_2024_21626_fds");
    // ls opens /proc/self/fd itself: that one is its own.
    let out = c.run_ok(&["--rm", &c.bb(), "ls", "-l", "/proc/self/fd"]);
    let mut fds = Vec::new();
    for l in out.lines().iter().filter(|l| l.contains(" -> ")) {
        let (left, target) = l.split_once(" -> ").unwrap();
        let fd: u32 = left.split_whitespace().last().unwrap().parse().unwrap();
        if fd > 2 {
            assert!(
                target.starts_with("/proc/") && target.ends_with("/fd"),
                "fd {fd} -> {target} leaked into the container:\n{out}"
            );
        }
        fds.push(fd);
    }
    assert!(fds.starts_with(&[0, 1, 2]) && fds.len() <= 4, "{out}");

    // What the command was given: exactly 0, 1 and 2. (Read from a child
    // of the shell: busybox runs `ls` inside the shell, whose own listing
    // would show the directory it reads.) The shell points a background
    // job's stdin at /dev/null between fork and exec: list only once the
    // child is `sleep`, or the listing can fall between close and open.
    let script = "sleep 10 & p=$!; i=0; \
        while read c </proc/$p/comm && [ \"$c\" != sleep ] && [ $i -lt 5000 ]; do i=$((i+1)); done; \
        ls /proc/$p/fd";
    let out = c.run_ok(&["--rm", &c.bb(), "sh", "-c", script]);
    let mut own: Vec<u32> = out
        .stdout
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    own.sort();
    assert_eq!(own, [0, 1, 2], "{out}");
    // And it starts in the container's root, not somewhere of the host's.
    let out = c.run_ok(&["--rm", &c.bb(), "readlink", "/proc/self/cwd"]);
    assert_eq!(out.stdout, "/\n");
}

#[test]
fn cve_2024_21626_workdir_through_proc_self_fd_fails() {
    let c = Ctx::new("run_cve_2024_21626_cwd");
    let bb = c.bb();
    for n in 3..=12 {
        let w = format!("/proc/self/fd/{n}");
        let out = c.run(&[
            "--rm",
            "-w",
            &w,
            &bb,
            "sh",
            "-c",
            "pwd; ls -a ../../..; echo ESCAPED",
        ]);
        assert!(
            (125..=127).contains(&out.code),
            "-w {w} must fail before the command runs:\n{out}"
        );
        out.assert_stdout_lacks("ESCAPED");
        out.assert_error_line();
    }
    assert!(c.container_dirs().is_empty());
}

fn assert_no_escape(c: &Ctx, what: &str) {
    for t in &run_images().escape_targets {
        let mounted = mounts_under(&[t.as_path()]);
        let exists = t.exists() || t.symlink_metadata().is_ok();
        if exists || !mounted.is_empty() {
            // Undo the escape before failing, so the host is not left
            // with a stray mount or directory.
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(t)
                .status();
            let _ = std::fs::remove_dir_all(t).or_else(|_| std::fs::remove_file(t));
            panic!(
                "{what}: the mount escaped the rootfs to {} (mounted: {mounted:?})",
                t.display()
            );
        }
    }
    assert!(c.container_dirs().is_empty(), "{what}: --rm");
}

#[test]
fn cve_2021_30465_bind_targets_resolve_inside_the_rootfs() {
    let c = Ctx::with("run_cve_2021_30465_bind", &["run/evil-mount"]);
    let img = c.image("run/evil-mount");
    let src = c.env.path("bind-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("marker"), b"bind source\n").unwrap();
    let s = src.display().to_string();

    for target in ["/etc/evil", "/etc/evil-rel"] {
        let v = format!("{s}:{target}");
        let out = c.run_ok(&["--rm", "-v", &v, &img, "cat", &format!("{target}/marker")]);
        assert_eq!(out.stdout, "bind source\n", "{out}");
        assert_no_escape(&c, &format!("-v {v}"));

        let m = format!("type=bind,source={s},target={target}");
        let out = c.run_ok(&[
            "--rm",
            "--mount",
            &m,
            &img,
            "cat",
            &format!("{target}/marker"),
        ]);
        assert_eq!(out.stdout, "bind source\n", "{out}");
        assert_no_escape(&c, &format!("--mount {m}"));
    }
}

#[test]
fn cve_2021_30465_tmpfs_and_volume_targets_resolve_inside_the_rootfs() {
    let c = Ctx::with("run_cve_2021_30465_tmpfs", &["run/evil-mount"]);
    let img = c.image("run/evil-mount");
    for target in ["/etc/evil", "/etc/evil-rel"] {
        let out = c.run_ok(&[
            "--rm",
            "--tmpfs",
            target,
            &img,
            "sh",
            "-c",
            &format!("touch {target}/made-inside && ls {target}"),
        ]);
        out.assert_stdout_has("made-inside");
        assert_no_escape(&c, &format!("--tmpfs {target}"));

        let v = format!("evilvol:{target}");
        c.run_ok(&[
            "--rm",
            "-v",
            &v,
            &img,
            "touch",
            &format!("{target}/in-volume"),
        ]);
        assert_no_escape(&c, &format!("-v {v}"));
    }
    // The volume got what was written into it.
    let out = c.env.ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Mountpoint}}",
        "evilvol",
    ]);
    let mp = Path::new(out.stdout.trim());
    assert!(mp.join("in-volume").exists(), "{}", mp.display());
}

#[test]
fn cve_2025_31133_dev_null_symlink_in_the_image() {
    let c = Ctx::with("run_cve_2025_31133", &["run/evil-devnull"]);
    let img = c.image("run/evil-devnull");
    let core = std::fs::read("/proc/sys/kernel/core_pattern").unwrap();
    let out = c.run_ok(&[
        "--rm",
        &img,
        "sh",
        "-c",
        "stat -c '%F' /dev/null; wc -c < /proc/timer_list; \
         echo '|/bin/pwned' > /proc/sys/kernel/core_pattern && echo WROTE; true",
    ]);
    let l = out.lines();
    assert_eq!(l[0], "character special file", "a real /dev/null:\n{out}");
    assert_eq!(l[1].trim(), "0", "/proc/timer_list still masked:\n{out}");
    out.assert_stdout_lacks("WROTE");
    assert_eq!(
        std::fs::read("/proc/sys/kernel/core_pattern").unwrap(),
        core,
        "the host's core_pattern is unchanged"
    );
}
