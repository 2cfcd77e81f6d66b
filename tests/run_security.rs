//! Docker's security defaults, observed from inside: capabilities,
//! seccomp (blocked calls fail with EPERM), no-new-privileges, masked and
//! read-only `/proc` and `/sys` paths, and `--privileged` lifting them.
//! The escape attempts are in `run_escapes.rs`.

mod common;

use common::run::{grantable_caps, status_mask, Ctx, CAP_CHOWN, CAP_SYS_ADMIN, DOCKER_CAPS};

fn status(c: &Ctx, flags: &[&str]) -> String {
    let bb = c.bb();
    let mut a = vec!["--rm"];
    a.extend_from_slice(flags);
    a.extend([bb.as_str(), "cat", "/proc/self/status"]);
    c.run_ok(&a).stdout
}

fn mask(st: &str, field: &str) -> u64 {
    status_mask(st, field).unwrap_or_else(|| panic!("no {field} in:\n{st}"))
}

fn field<'a>(st: &'a str, name: &str) -> &'a str {
    st.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in:\n{st}"))
}

#[test]
fn default_capabilities_are_dockers() {
    let c = Ctx::new("run_caps_default");
    let st = status(&c, &[]);
    assert_eq!(mask(&st, "CapEff"), DOCKER_CAPS, "CapEff:\n{st}");
    assert_eq!(mask(&st, "CapPrm"), DOCKER_CAPS, "CapPrm:\n{st}");
    assert_eq!(mask(&st, "CapBnd"), DOCKER_CAPS, "CapBnd:\n{st}");
    assert_eq!(mask(&st, "CapAmb"), 0, "CapAmb:\n{st}");
    let inh = mask(&st, "CapInh");
    assert!(inh == 0 || inh == DOCKER_CAPS, "CapInh:\n{st}");

    // A non-root user gets none in effect (the bounding set stays).
    let st = status(&c, &["-u", "1000"]);
    assert_eq!(mask(&st, "CapEff"), 0, "{st}");
    assert_eq!(mask(&st, "CapPrm"), 0, "{st}");
    assert_eq!(mask(&st, "CapBnd"), DOCKER_CAPS, "{st}");
}

#[test]
fn cap_add_and_cap_drop() {
    let c = Ctx::new("run_caps_flags");
    let eff = |flags: &[&str]| mask(&status(&c, flags), "CapEff");
    let admin = 1u64 << CAP_SYS_ADMIN;
    let chown = 1u64 << CAP_CHOWN;
    assert_eq!(eff(&["--cap-add", "SYS_ADMIN"]), DOCKER_CAPS | admin);
    assert_eq!(eff(&["--cap-add", "CAP_SYS_ADMIN"]), DOCKER_CAPS | admin);
    assert_eq!(eff(&["--cap-add", "sys_admin"]), DOCKER_CAPS | admin);
    assert_eq!(eff(&["--cap-drop", "CHOWN"]), DOCKER_CAPS & !chown);
    assert_eq!(eff(&["--cap-drop", "ALL"]), 0);
    assert_eq!(eff(&["--cap-drop", "ALL", "--cap-add", "CHOWN"]), chown);
    // ALL is whatever this host can grant (here without SYS_RESOURCE).
    assert_eq!(eff(&["--cap-add", "ALL"]), grantable_caps());
    // The bounding set follows.
    let st = status(&c, &["--cap-drop", "ALL"]);
    assert_eq!(mask(&st, "CapBnd"), 0, "{st}");

    let out = c.run(&["--rm", "--cap-add", "NOT_A_CAP", &c.bb(), "true"]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has("NOT_A_CAP");
}

#[test]
fn privileged_lifts_the_defaults() {
    let c = Ctx::new("run_privileged");
    let st = status(&c, &["--privileged"]);
    assert_eq!(mask(&st, "CapEff"), grantable_caps(), "{st}");
    assert_eq!(field(&st, "Seccomp"), "0", "no seccomp filter:\n{st}");
    // The masked paths are visible.
    let out = c.run_ok(&[
        "--rm",
        "--privileged",
        &c.bb(),
        "sh",
        "-c",
        "cat /proc/timer_list | wc -c; ls -A /sys/firmware | wc -l",
    ]);
    for (what, n) in ["/proc/timer_list", "/sys/firmware"]
        .iter()
        .zip(out.lines())
    {
        let n: u64 = n.trim().parse().unwrap_or_else(|_| out.fail("a count"));
        // Rootless, the real /proc/timer_list is the host root's, which
        // the user namespace cannot read: refused, where a masked one
        // would read empty.
        let refused = common::rootless::enabled()
            && *what == "/proc/timer_list"
            && out.stderr.contains("timer_list': Permission denied");
        assert!(n > 0 || refused, "{what} unmasked:\n{out}");
    }
    // ... and /proc/sys and /sys are not read-only mounts.
    let out = c.run_ok(&[
        "--rm",
        "--privileged",
        &c.bb(),
        "cat",
        "/proc/self/mountinfo",
    ]);
    for l in out.stdout.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        if f[4] == "/proc/sys" || f[4] == "/sys" {
            let opts: Vec<&str> = f[5].split(',').collect();
            assert!(!opts.contains(&"ro"), "{} read-write: {l}", f[4]);
        }
    }
}

#[test]
fn seccomp_blocks_dockers_list_with_eperm() {
    let c = Ctx::new("run_seccomp_default");
    let st = status(&c, &[]);
    assert_eq!(field(&st, "Seccomp"), "2", "a filter is on:\n{st}");

    let try_ = |flags: &[&str], script: &str| c.sh_out(flags, script);

    // unshare needs no capability for a user namespace: only seccomp
    // stands in its way.
    let out = try_(&[], "unshare -U true");
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_has("Operation not permitted");
    // mount: refused.
    let out = try_(&[], "mount -t tmpfs x /tmp");
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_any(&["not permitted", "permission denied"]);
    // swapoff is on no allow list, whatever the capabilities: EPERM even
    // with SYS_ADMIN, where the kernel itself would say ENOENT.
    let out = try_(&[], "swapoff /nonexistent");
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_has("Operation not permitted");
    let out = try_(&["--cap-add", "SYS_ADMIN"], "swapoff /nonexistent");
    out.assert_stderr_has("Operation not permitted");

    // Docker's profile allows mount and unshare with SYS_ADMIN.
    try_(
        &["--cap-add", "SYS_ADMIN"],
        "mount -t tmpfs x /tmp && umount /tmp",
    )
    .assert_ok();
    try_(&["--cap-add", "SYS_ADMIN"], "unshare -U true").assert_ok();
}

#[test]
fn seccomp_unconfined_lets_them_through() {
    let c = Ctx::new("run_seccomp_unconfined");
    let unconfined = ["--security-opt", "seccomp=unconfined"];
    let st = status(&c, &unconfined);
    assert_eq!(field(&st, "Seccomp"), "0", "{st}");
    c.sh_out(&unconfined, "unshare -U true").assert_ok();
    let both = [
        "--security-opt",
        "seccomp=unconfined",
        "--cap-add",
        "SYS_ADMIN",
    ];
    c.sh_out(&both, "mount -t tmpfs x /tmp && umount /tmp")
        .assert_ok();
    if common::rootless::skip_rootless(
        "swapoff needs the host's CAP_SYS_ADMIN, never a user namespace's",
    ) {
        return;
    }
    let out = c.sh_out(&both, "swapoff /nonexistent");
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_has("No such file or directory");
}

#[test]
fn seccomp_profile_from_a_file() {
    let c = Ctx::new("run_seccomp_profile");
    let profile = c.env.path("no-mkdir.json");
    std::fs::write(
        &profile,
        serde_json::to_vec_pretty(&serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{
                "names": ["mkdir", "mkdirat"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 1
            }]
        }))
        .unwrap(),
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let flags = ["--security-opt", opt.as_str()];
    let out = c.sh_out(&flags, "mkdir /tmp/d");
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_has("Operation not permitted");
    // Everything else is allowed, as the profile says.
    c.sh_out(&flags, "touch /tmp/f && rm /tmp/f").assert_ok();

    let out = c.run(&[
        "--rm",
        "--security-opt",
        "seccomp=/nonexistent.json",
        &c.bb(),
        "true",
    ]);
    out.assert_code(125);
    out.assert_error_line();
    let bad = c.env.path("bad.json");
    std::fs::write(&bad, "{ not json").unwrap();
    let out = c.run(&[
        "--rm",
        "--security-opt",
        &format!("seccomp={}", bad.display()),
        &c.bb(),
        "true",
    ]);
    out.assert_code(125);
    out.assert_error_line();
}

#[test]
fn no_new_privileges() {
    let c = Ctx::with("run_nnp", &["busybox", "run/app"]);
    assert_eq!(field(&status(&c, &[]), "NoNewPrivs"), "0");
    let nnp = ["--security-opt", "no-new-privileges"];
    assert_eq!(field(&status(&c, &nnp), "NoNewPrivs"), "1");
    assert_eq!(
        field(
            &status(&c, &["--security-opt", "no-new-privileges:true"]),
            "NoNewPrivs"
        ),
        "1"
    );

    // A setuid-root binary raises a user to root...
    let app = c.image("run/app");
    let out = c.run_ok(&["--rm", "-u", "app", &app, "/suid/su", "-c", "id -u", "root"]);
    assert_eq!(out.stdout.trim(), "0", "{out}");
    // ... unless no-new-privileges: the setuid bit is ignored.
    let out = c.run(&[
        "--rm",
        "-u",
        "app",
        "--security-opt",
        "no-new-privileges",
        &app,
        "/suid/su",
        "-c",
        "id -u",
        "root",
    ]);
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_has("must be suid");
}

/// Docker's masked paths that this kernel has (they vary by config).
fn masked_on_this_host() -> Vec<&'static str> {
    [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
        "/proc/latency_stats",
        "/proc/timer_stats",
    ]
    .into_iter()
    .filter(|p| std::path::Path::new(p).exists())
    .collect()
}

#[test]
fn masked_paths_are_empty() {
    let c = Ctx::new("run_masked");
    let paths = masked_on_this_host();
    assert!(!paths.is_empty(), "some masked path exists here");
    let script = format!(
        "for p in {}; do echo \"$p $(cat $p 2>/dev/null | wc -c)\"; done; \
         echo /sys/firmware $(ls -A /sys/firmware | wc -l)",
        paths.join(" ")
    );
    let out = c.run_ok(&["--rm", &c.bb(), "sh", "-c", &script]);
    let lines = out.lines();
    assert_eq!(lines.len(), paths.len() + 1, "{out}");
    for l in lines {
        let (p, n) = l.rsplit_once(' ').unwrap();
        assert_eq!(n, "0", "{p} masked (reads empty):\n{out}");
    }
}

#[test]
fn proc_sys_and_sys_are_read_only() {
    let c = Ctx::new("run_readonly_paths");
    // A namespaced value, harmless if the write were to succeed.
    let out = c.sh_out(&[], "echo skiff > /proc/sys/kernel/domainname");
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_has("Read-only file system");
    let out = c.sh_out(&[], "touch /sys/kernel/skiff-test");
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_has("Read-only file system");

    let out = c.run_ok(&["--rm", &c.bb(), "cat", "/proc/self/mountinfo"]);
    let ro = |point: &str| {
        out.stdout.lines().any(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            f[4] == point && f[5].split(',').any(|o| o == "ro")
        })
    };
    for p in [
        "/proc/sys",
        "/proc/sysrq-trigger",
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/sys",
    ] {
        if std::path::Path::new(p).exists() {
            assert!(ro(p), "{p} is mounted read-only:\n{out}");
        }
    }
}

#[test]
fn the_device_cgroup_keeps_host_disks_out_of_reach() {
    let c = Ctx::new("sec_devices");
    let bb = c.bb();
    // A block device the host can read, which the container must not.
    let lo = common::run::LoopDev::new("sec_devices_loop");
    let (maj, min) = lo.major_minor.split_once(':').unwrap();
    // CAP_MKNOD makes the node (Docker allows it); reading it is refused.
    let script = format!(
        "mknod /tmp/disk b {maj} {min} && echo made; head -c 512 /tmp/disk >/dev/null && echo read; \
         head -c 4 /dev/zero | wc -c; echo ok > /dev/null && echo null"
    );
    let out = c.run(&["--rm", &bb, "sh", "-c", &script]);
    if common::rootless::enabled() {
        // Rootless, the node cannot even be made (no CAP_MKNOD over the
        // host's devices), --privileged or not.
        for flags in [&[][..], &["--privileged"][..]] {
            let mut a = vec!["--rm"];
            a.extend_from_slice(flags);
            a.extend_from_slice(&[&bb, "sh", "-c", &script]);
            let out = c.run(&a);
            assert!(!out.stdout.contains("made\n"), "{out}");
            assert!(!out.stdout.contains("read\n"), "{out}");
            assert!(out.stdout.contains("4\nnull\n"), "{out}");
        }
        return;
    }
    assert!(out.stdout.contains("made\n"), "{out}");
    assert!(
        !out.stdout.contains("read\n"),
        "the host's disk was read:\n{out}"
    );
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
    // The standard devices work.
    assert!(out.stdout.contains("4\nnull\n"), "{out}");
    // --privileged lifts it, as Docker's does.
    let out = c.run(&["--rm", "--privileged", &bb, "sh", "-c", &script]);
    assert!(out.stdout.contains("made\nread\n"), "{out}");
    // So does a rule for that one device, read only.
    let with_rule = |rule: &str, script: &str| {
        c.run(&[
            "--rm",
            "--device-cgroup-rule",
            rule,
            &bb,
            "sh",
            "-c",
            script,
        ])
    };
    let rule = format!("b {maj}:{min} r");
    let out = with_rule(&rule, &script);
    assert!(out.stdout.contains("made\nread\n"), "{out}");
    let write = format!("mknod /tmp/disk b {maj} {min} && echo x > /tmp/disk && echo wrote");
    let out = with_rule(&rule, &write);
    assert!(!out.stdout.contains("wrote"), "{out}");
    // A rule for every block device with that major number.
    let out = with_rule(&format!("b {maj}:* rw"), &script);
    assert!(out.stdout.contains("made\nread\n"), "{out}");
    let bad = c.run(&["--rm", "--device-cgroup-rule", "b 7", &bb, "true"]);
    bad.assert_code(125).assert_error_line();
    bad.assert_stderr_has("invalid device cgroup format 'b 7'");
}
