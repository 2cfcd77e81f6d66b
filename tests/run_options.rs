//! `skiff run` flags observed from inside the container or in the store:
//! `--hostname`, `--name`, `--label`, `--rm`, `--read-only`, `--ulimit`,
//! `--sysctl`, `--add-host`, `--dns`, `--network none|host`, `--pull`,
//! `--platform`, `--stop-signal`.

mod common;

use common::run::{host_nofile_hard, is_short_id, net_dev_names, Ctx};
use common::run_images::run_images;

#[test]
fn hostname_defaults_to_the_short_id() {
    let c = Ctx::new("run_hostname");
    let bb = c.bb();
    let out = c.run_ok(&[
        "--rm",
        &bb,
        "sh",
        "-c",
        "hostname; echo $(cat /etc/hostname); echo $HOSTNAME",
    ]);
    let l = out.lines();
    assert_eq!(l.len(), 3, "{out}");
    assert!(is_short_id(l[0]), "a 12-hex short id: {out}");
    assert_eq!(l[1], l[0], "/etc/hostname agrees:\n{out}");
    assert_eq!(l[2], l[0], "$HOSTNAME agrees:\n{out}");

    // Kept (no --rm): the hostname is the start of the container's id.
    let out = c.run_ok(&[&bb, "hostname"]);
    let short = out.stdout.trim().to_string();
    let ids = c.container_dirs();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(ids[0].starts_with(&short), "{short} starts {}", ids[0]);

    let out = c.run_ok(&[
        "--rm",
        "--hostname",
        "box1.example",
        &bb,
        "sh",
        "-c",
        "hostname; echo $(cat /etc/hostname); echo $HOSTNAME",
    ]);
    assert_eq!(
        out.lines(),
        ["box1.example", "box1.example", "box1.example"],
        "{out}"
    );
    let out = c.run_ok(&["--rm", "-h", "box2", &bb, "hostname"]);
    assert_eq!(out.stdout, "box2\n");

    // --domainname: the UTS namespace's, and inspect's Domainname.
    let out = c.run_ok(&[
        "--rm",
        "--domainname",
        "corp.example",
        &bb,
        "cat",
        "/proc/sys/kernel/domainname",
    ]);
    assert_eq!(out.stdout, "corp.example\n");
    c.env.ok(&[
        "create",
        "--name",
        "dom",
        "--domainname",
        "corp.example",
        &bb,
    ]);
    assert_eq!(c.inspect("dom")["Config"]["Domainname"], "corp.example");
    let bad = c.run(&["--rm", "--domainname", "-bad", &bb, "true"]);
    bad.assert_code(125);
}

#[test]
fn hosts_file_and_dns() {
    let c = Ctx::new("run_hosts_dns");
    let bb = c.bb();
    let out = c.run_ok(&[
        "--rm",
        "--add-host",
        "db.local:10.1.2.3",
        "--add-host=cache.local:10.1.2.4",
        "--dns",
        "9.9.9.9",
        "--dns=1.0.0.1",
        &bb,
        "sh",
        "-c",
        "cat /etc/hosts; echo ---; cat /etc/resolv.conf",
    ]);
    let (hosts, resolv) = out.stdout.split_once("---\n").unwrap();
    let has_host = |ip: &str, name: &str| {
        hosts.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.first() == Some(&ip) && f[1..].contains(&name)
        })
    };
    assert!(has_host("10.1.2.3", "db.local"), "{out}");
    assert!(has_host("10.1.2.4", "cache.local"), "{out}");
    assert!(has_host("127.0.0.1", "localhost"), "{out}");
    let ns: Vec<&str> = resolv
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver "))
        .map(str::trim)
        .collect();
    assert_eq!(
        ns,
        ["9.9.9.9", "1.0.0.1"],
        "--dns replaces the host's:\n{out}"
    );

    // Without --dns: the host's non-loopback nameservers (or Docker's
    // public fallback when it has only loopback ones).
    let host: Vec<String> = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver "))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.starts_with("127.") && s != "::1")
        .collect();
    let out = c.run_ok(&["--rm", &bb, "cat", "/etc/resolv.conf"]);
    let ns: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver "))
        .map(|s| s.trim().to_string())
        .collect();
    if host.is_empty() {
        assert_eq!(ns, ["8.8.8.8", "8.8.4.4"], "{out}");
    } else {
        assert_eq!(ns, host, "{out}");
    }
}

#[test]
fn name_is_unique() {
    let c = Ctx::new("run_name");
    let bb = c.bb();
    c.run_ok(&["--name", "named-one", &bb, "true"]);
    let recs = c.container_records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["name"], "named-one", "{:#}", recs[0]);

    // Docker: a name stays taken while its container exists, running or not.
    let out = c.run(&["--name", "named-one", &bb, "true"]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has("already in use");
    out.assert_stderr_has("named-one");
    let out = c.run(&["--rm", "--name", "named-one", &bb, "true"]);
    out.assert_code(125);
    assert_eq!(c.container_dirs().len(), 1, "nothing half-made");

    let out = c.run(&["--rm", "--name", "bad name!", &bb, "true"]);
    out.assert_code(125);
    out.assert_error_line();

    // With --rm the name is free again afterwards.
    c.run_ok(&["--rm", "--name", "reused", &bb, "true"]);
    c.run_ok(&["--rm", "--name", "reused", &bb, "true"]);
}

#[test]
fn rm_leaves_no_container_and_no_flag_keeps_one() {
    let c = Ctx::new("run_rm");
    let bb = c.bb();
    c.run_ok(&["--rm", &bb, "true"]);
    assert!(c.container_dirs().is_empty(), "{:?}", c.container_dirs());
    c.run(&["--rm", &bb, "sh", "-c", "exit 4"]).assert_code(4);
    assert!(c.container_dirs().is_empty(), "{:?}", c.container_dirs());
    c.run_ok(&[&bb, "true"]);
    assert_eq!(c.container_dirs().len(), 1);
    c.env.assert_store_clean();
}

#[test]
fn labels_are_recorded() {
    let c = Ctx::new("run_labels");
    c.run_ok(&[
        "--name",
        "labelled",
        "--label",
        "com.example.a=1",
        "-l",
        "flag",
        &c.bb(),
        "true",
    ]);
    let recs = c.container_records();
    assert_eq!(recs.len(), 1);
    let labels = &recs[0]["labels"];
    assert_eq!(labels["com.example.a"], "1", "{:#}", recs[0]);
    assert_eq!(labels["flag"], "", "{:#}", recs[0]);
}

#[test]
fn read_only_rootfs_with_a_tmpfs() {
    let c = Ctx::new("run_read_only");
    let bb = c.bb();
    let out = c.run(&["--rm", "--read-only", &bb, "touch", "/newfile"]);
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_has("Read-only file system");
    let out = c.run(&["--rm", "--read-only", &bb, "touch", "/tmp/x"]);
    assert_ne!(out.code, 0, "/tmp is part of the read-only root:\n{out}");
    c.run_ok(&[
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        &bb,
        "touch",
        "/tmp/x",
    ]);
    // /dev stays writable, as in Docker.
    c.run_ok(&[
        "--rm",
        "--read-only",
        &bb,
        "sh",
        "-c",
        "echo x > /dev/shm/f",
    ]);
    // Without the flag the root is writable.
    c.run_ok(&["--rm", &bb, "touch", "/newfile"]);
}

#[test]
fn ulimits_are_applied_and_clamped_to_the_hard_limit() {
    let c = Ctx::new("run_ulimit");
    let bb = c.bb();
    let out = c.run_ok(&[
        "--rm",
        "--ulimit",
        "nofile=1024:2048",
        &bb,
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn",
    ]);
    assert_eq!(out.lines(), ["1024", "2048"], "{out}");
    let out = c.run_ok(&[
        "--rm",
        "--ulimit",
        "nofile=512",
        &bb,
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn",
    ]);
    assert_eq!(out.lines(), ["512", "512"], "one value sets both:\n{out}");

    // Above this machine's hard limit (no CAP_SYS_RESOURCE to raise it):
    // not a failure, the limit is the hard one.
    let hard = host_nofile_hard();
    let above = format!("nofile={}:{}", hard + 100_000, hard + 100_000);
    let out = c.run_ok(&[
        "--rm",
        "--ulimit",
        &above,
        &bb,
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn",
    ]);
    for v in out.lines() {
        let n: u64 = v.parse().unwrap_or_else(|_| out.fail("a number"));
        assert!(n <= hard, "clamped to {hard}:\n{out}");
    }
    // Without the flag the container inherits a usable limit, never
    // one above the hard limit (raising it would fail here).
    let out = c.run_ok(&["--rm", &bb, "sh", "-c", "ulimit -Hn"]);
    let n: u64 = out.stdout.trim().parse().unwrap();
    assert!(n <= hard && n >= 1024, "{out}");
}

#[test]
fn sysctls_are_applied() {
    let c = Ctx::new("run_sysctl");
    let bb = c.bb();
    let out = c.run_ok(&[
        "--rm",
        "--sysctl",
        "kernel.shmmax=68719476736",
        &bb,
        "cat",
        "/proc/sys/kernel/shmmax",
    ]);
    assert_eq!(out.stdout, "68719476736\n", "{out}");
    let out = c.run_ok(&[
        "--rm",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--network",
        "none",
        &bb,
        "cat",
        "/proc/sys/net/ipv4/ip_forward",
    ]);
    assert_eq!(out.stdout, "1\n", "{out}");
    // The host's values are untouched.
    let host = std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    assert_ne!(host, "68719476736\n");
    // A sysctl that is not namespaced would change the host: refused.
    let out = c.run(&["--rm", "--sysctl", "kernel.panic=5", &bb, "true"]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has("kernel.panic");
}

#[test]
fn network_none_has_only_loopback() {
    let c = Ctx::new("run_network_none");
    let out = c.run_ok(&[
        "--rm",
        "--network",
        "none",
        &c.bb(),
        "sh",
        "-c",
        "cat /proc/net/dev; echo ---; ip -o link",
    ]);
    let (dev, links) = out.stdout.split_once("---\n").unwrap();
    assert_eq!(net_dev_names(dev), ["lo"], "{out}");
    let names: Vec<&str> = links
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(str::trim)
        .collect();
    assert_eq!(names, ["lo"], "{out}");
    let out = c.run_ok(&["--rm", "--net=none", &c.bb(), "cat", "/proc/net/dev"]);
    assert_eq!(net_dev_names(&out.stdout), ["lo"], "--net is --network");
}

#[test]
fn network_host_shares_the_hosts_interfaces() {
    let c = Ctx::new("run_network_host");
    let host_devs = net_dev_names(&std::fs::read_to_string("/proc/net/dev").unwrap());
    let out = c.run_ok(&[
        "--rm",
        "--network",
        "host",
        &c.bb(),
        "sh",
        "-c",
        "cat /proc/net/dev; echo ---; readlink /proc/self/ns/net; hostname",
    ]);
    let (dev, rest) = out.stdout.split_once("---\n").unwrap();
    // Other tests' containers come and go on the host meanwhile: their
    // veths and bridges are left out of the comparison.
    let settled = |v: Vec<String>| -> Vec<String> {
        v.into_iter().filter(|n| !n.starts_with("sk")).collect()
    };
    assert_eq!(settled(net_dev_names(dev)), settled(host_devs), "{out}");
    let rest: Vec<&str> = rest.lines().collect();
    assert_eq!(rest[0], common::run::host_ns("net"), "{out}");
    // Docker: a host-network container takes the host's name.
    let hn = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(rest[1], hn.trim(), "{out}");
}

#[test]
fn pull_never_missing_always() {
    let c = Ctx::with("run_pull_policy", &[]);
    let imgs = run_images();
    let repo = common::unique("run/pull-policy");
    let storage = common::seed::storage();
    common::seed::put(storage, &repo, "latest", &imgs.which[0].content());
    let img = c.reg.image(&format!("{repo}:latest"));

    // Not in the store: --pull never fails without pulling.
    let out = c.run(&["--rm", "--pull", "never", &img, "cat", "/which.txt"]);
    out.assert_code(125);
    out.assert_error_line();
    assert!(c.env.image_ids().is_empty(), "nothing pulled");

    // The default (missing) pulls it once.
    let out = c.run_ok(&["--rm", &img, "cat", "/which.txt"]);
    assert_eq!(out.stdout, "A\n", "{out}");

    // The tag moves on in the registry.
    common::seed::put(storage, &repo, "latest", &imgs.which[1].content());
    let out = c.run_ok(&["--rm", "--pull", "missing", &img, "cat", "/which.txt"]);
    assert_eq!(out.stdout, "A\n", "missing keeps what is there:\n{out}");
    let out = c.run_ok(&["--rm", "--pull", "never", &img, "cat", "/which.txt"]);
    assert_eq!(out.stdout, "A\n", "{out}");
    let out = c.run_ok(&["--rm", "--pull", "always", &img, "cat", "/which.txt"]);
    assert_eq!(out.stdout, "B\n", "always pulls again:\n{out}");
    let out = c.run_ok(&["--rm", "--pull=always", &img, "cat", "/which.txt"]);
    assert_eq!(out.stdout, "B\n", "and again, up to date:\n{out}");
    let out = c.run_ok(&["--rm", &img, "cat", "/which.txt"]);
    assert_eq!(out.stdout, "B\n", "{out}");
    c.env.assert_store_clean();
}

#[test]
fn platform_is_checked() {
    let c = Ctx::new("run_platform");
    let bb = c.bb();
    let arch = common::expect::host_arch();
    let out = c.run_ok(&["--rm", "--platform", &format!("linux/{arch}"), &bb, "true"]);
    assert!(out.stdout.is_empty());
    // An image of another platform is not run as this one.
    let out = c.run(&[
        "--rm",
        "--pull",
        "never",
        "--platform",
        "linux/s390x",
        &bb,
        "true",
    ]);
    out.assert_code(125);
    out.assert_error_line();
}

#[test]
fn stop_signal_is_checked() {
    // What it changes shows with `stop` (detached runs); here: a valid
    // one is accepted, a bad one refused before anything starts.
    let c = Ctx::new("run_stop_signal");
    c.run_ok(&["--rm", "--stop-signal", "SIGUSR1", &c.bb(), "true"]);
    c.run_ok(&["--rm", "--stop-signal", "TERM", &c.bb(), "true"]);
    c.run_ok(&["--rm", "--stop-signal", "9", &c.bb(), "true"]);
    let out = c.run(&["--rm", "--stop-signal", "NOPE", &c.bb(), "true"]);
    out.assert_code(125);
    out.assert_error_line();
    assert!(c.container_dirs().is_empty());
}

#[test]
fn cidfile_holds_the_id_and_is_never_overwritten() {
    let c = Ctx::new("run_cidfile");
    let bb = c.bb();
    let f = c.env.path("one.cid");
    let fs = f.to_str().unwrap();
    let id = c
        .run_ok(&["-d", "--cidfile", fs, &bb, "sleep", "60"])
        .stdout
        .trim()
        .to_string();
    assert_eq!(std::fs::read_to_string(&f).unwrap(), id);
    // Taken: refused before anything is made.
    let before = c.container_dirs().len();
    let out = c.run(&["--rm", "--cidfile", fs, &bb, "true"]);
    out.assert_code(125).assert_error_line();
    out.assert_stderr_has("Container ID file found");
    assert_eq!(c.container_dirs().len(), before);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), id);
    // create and a foreground run write it too.
    let g = c.env.path("two.cid");
    let made = c.env.ok(&["create", "--cidfile", g.to_str().unwrap(), &bb]);
    assert_eq!(std::fs::read_to_string(&g).unwrap(), made.stdout.trim());
    let h = c.env.path("three.cid");
    c.run_ok(&["--rm", "--cidfile", h.to_str().unwrap(), &bb, "true"]);
    assert_eq!(std::fs::read_to_string(&h).unwrap().len(), 64);
    // A create that fails leaves no file.
    let k = c.env.path("four.cid");
    let out = c.run(&[
        "--cidfile",
        k.to_str().unwrap(),
        "--pull",
        "never",
        "nosuchimage:1",
        "true",
    ]);
    out.assert_code(125);
    assert!(!k.exists());
    c.env.ok(&["rm", "-f", &id, made.stdout.trim()]);
}

#[test]
fn oom_score_adj_is_the_processes() {
    let c = Ctx::new("run_oom_adj");
    let bb = c.bb();
    // Raised: lowering it takes CAP_SYS_RESOURCE, which root here lacks.
    let out = c.run_ok(&[
        "--rm",
        "--oom-score-adj",
        "300",
        &bb,
        "cat",
        "/proc/self/oom_score_adj",
    ]);
    assert_eq!(out.stdout.trim(), "300");
    c.env
        .ok(&["create", "--name", "adj", "--oom-score-adj", "500", &bb]);
    assert_eq!(c.inspect("adj")["HostConfig"]["OomScoreAdj"], 500);
    let out = c.run(&["--rm", "--oom-score-adj", "1001", &bb, "true"]);
    out.assert_code(125).assert_error_line();
    out.assert_stderr_has("range for oom score adj is [-1000, 1000]");
    c.env.ok(&["rm", "adj"]);
}
