//! Bind mounts (`-v` and `--mount type=bind`), tmpfs mounts (`--tmpfs`,
//! `--mount type=tmpfs`), `--device` and `--shm-size`, as Docker makes
//! them. Volumes are in `run_volumes.rs`.

mod common;

use common::run::Ctx;

#[test]
fn bind_mount_reads_and_writes() {
    let c = Ctx::new("run_bind_rw");
    let dir = c.env.path("shared");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("in.txt"), b"from the host\n").unwrap();
    // The directory is skiff's user's (rootless: the test user's).
    common::rootless::give(&dir);
    let v = format!("{}:/data", dir.display());
    let out = c.run_ok(&[
        "--rm",
        "-v",
        &v,
        &c.bb(),
        "sh",
        "-c",
        "cat /data/in.txt; echo from the container > /data/out.txt",
    ]);
    assert_eq!(out.stdout, "from the host\n", "{out}");
    assert_eq!(
        std::fs::read(dir.join("out.txt")).unwrap(),
        b"from the container\n"
    );
    // :rw is the default spelled out.
    let v = format!("{}:/data:rw", dir.display());
    c.run_ok(&["--rm", "-v", &v, &c.bb(), "touch", "/data/rw.txt"]);
    assert!(dir.join("rw.txt").exists());
    // --volume is -v.
    let v = format!("{}:/data", dir.display());
    c.run_ok(&[
        "--rm",
        "--volume",
        &v,
        &c.bb(),
        "test",
        "-f",
        "/data/in.txt",
    ]);
}

#[test]
fn read_only_bind_refuses_writes() {
    let c = Ctx::new("run_bind_ro");
    let dir = c.env.path("ro");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f"), b"keep\n").unwrap();
    for spec in [
        vec!["-v".to_string(), format!("{}:/data:ro", dir.display())],
        vec![
            "--mount".to_string(),
            format!("type=bind,source={},target=/data,readonly", dir.display()),
        ],
        vec![
            "--mount".to_string(),
            format!("type=bind,src={},dst=/data,ro=true", dir.display()),
        ],
    ] {
        let mut a: Vec<&str> = vec!["--rm"];
        a.extend(spec.iter().map(String::as_str));
        let bb = c.bb();
        a.extend([bb.as_str(), "sh", "-c", "cat /data/f; echo x > /data/f"]);
        let out = c.run(&a);
        assert_ne!(out.code, 0, "{out}");
        assert_eq!(out.stdout, "keep\n", "readable:\n{out}");
        out.assert_stderr_has("Read-only file system");
        assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"keep\n");
    }
}

#[test]
fn a_missing_host_dir_is_created_for_v_but_not_for_mount() {
    let c = Ctx::new("run_bind_missing");
    let dir = c.env.path("not/there/yet");
    let v = format!("{}:/data", dir.display());
    c.run_ok(&["--rm", "-v", &v, &c.bb(), "touch", "/data/x"]);
    assert!(dir.join("x").exists(), "-v made {}", dir.display());

    // Docker: --mount type=bind wants the source to exist.
    let gone = c.env.path("still/not/there");
    let m = format!("type=bind,source={},target=/data", gone.display());
    let out = c.run(&["--rm", "--mount", &m, &c.bb(), "true"]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has(&gone.display().to_string());
    assert!(!gone.exists());

    // A source that cannot be created.
    let out = c.run(&["--rm", "-v", "/proc/no/such/dir:/data", &c.bb(), "true"]);
    out.assert_code(125);
    out.assert_error_line();
    assert!(c.container_dirs().is_empty(), "nothing half-made");
}

#[test]
fn bind_a_single_file() {
    let c = Ctx::new("run_bind_file");
    let f = c.env.path("app.conf");
    std::fs::write(&f, b"setting=1\n").unwrap();
    let v = format!("{}:/etc/app.conf:ro", f.display());
    let out = c.run_ok(&["--rm", "-v", &v, &c.bb(), "cat", "/etc/app.conf"]);
    assert_eq!(out.stdout, "setting=1\n", "{out}");
    // Over a file the image has.
    let v = format!("{}:/etc/hostname-from-host", f.display());
    c.run_ok(&[
        "--rm",
        "-v",
        &v,
        &c.bb(),
        "test",
        "-f",
        "/etc/hostname-from-host",
    ]);
}

#[test]
fn tmpfs_mounts() {
    let c = Ctx::new("run_tmpfs");
    let bb = c.bb();
    let out = c.run_ok(&[
        "--rm",
        "--tmpfs",
        "/scratch",
        &bb,
        "sh",
        "-c",
        "echo hi > /scratch/f && cat /scratch/f && grep ' /scratch ' /proc/mounts",
    ]);
    out.assert_stdout_has("hi\n");
    out.assert_stdout_has("tmpfs /scratch tmpfs");

    let out = c.run_ok(&[
        "--rm",
        "--tmpfs",
        "/scratch:size=1m,mode=1770",
        &bb,
        "sh",
        "-c",
        "grep ' /scratch ' /proc/mounts; stat -c %a /scratch",
    ]);
    out.assert_stdout_has("size=1024k");
    out.assert_stdout_has("1770");

    let out = c.run(&[
        "--rm",
        "--mount",
        "type=tmpfs,target=/small,tmpfs-size=1048576",
        &bb,
        "sh",
        "-c",
        "grep ' /small ' /proc/mounts; dd if=/dev/zero of=/small/big bs=1024 count=2048",
    ]);
    out.assert_stdout_has("tmpfs /small tmpfs");
    assert_ne!(out.code, 0, "a 1 MiB tmpfs refuses 2 MiB:\n{out}");
    out.assert_stderr_has("No space left on device");

    // Nothing of a tmpfs survives the container.
    c.run_ok(&[
        "--tmpfs",
        "/scratch",
        "--name",
        "tmpfs-kept",
        &bb,
        "touch",
        "/scratch/gone",
    ]);
    let upper = c.env.root.join("containers");
    assert!(
        common::expect::find_named(&upper, "gone").is_empty(),
        "tmpfs content is not in the container's layer"
    );
}

#[test]
fn devices_and_shm() {
    let c = Ctx::new("run_devices");
    let bb = c.bb();
    let out = c.run_ok(&[
        "--rm",
        "--device",
        "/dev/null:/dev/mynull",
        &bb,
        "sh",
        "-c",
        "stat -c '%t:%T %F' /dev/mynull; echo x > /dev/mynull",
    ]);
    assert_eq!(out.stdout, "1:3 character special file\n", "{out}");
    let out = c.run_ok(&[
        "--rm",
        "--device",
        "/dev/zero",
        &bb,
        "head",
        "-c",
        "3",
        "/dev/zero",
    ]);
    assert_eq!(out.stdout_bytes, [0, 0, 0], "{out}");
    let out = c.run(&["--rm", "--device", "/dev/no-such-device", &bb, "true"]);
    out.assert_code(125);
    out.assert_error_line();

    // /dev/shm: 64 MB by default, as Docker's.
    let shm = |flags: &[&str]| -> u64 {
        let mut a = vec!["--rm"];
        a.extend_from_slice(flags);
        a.extend([bb.as_str(), "df", "-k", "/dev/shm"]);
        let out = c.run_ok(&a);
        out.lines()[1]
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| out.fail("df -k prints 1K blocks"))
    };
    assert_eq!(shm(&[]), 65536);
    assert_eq!(shm(&["--shm-size", "128m"]), 131072);
    assert_eq!(shm(&["--shm-size=16777216"]), 16384);
}
