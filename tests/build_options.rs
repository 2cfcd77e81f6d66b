//! `skiff build`'s flags and the rest of its inputs: `-f`, a context on
//! stdin, `--label`, `--iidfile`, `-q`, `--format docker`, zstd layers,
//! `--squash`, `--output`, `RUN --mount` of each kind with `--secret`,
//! and a build killed midway leaving a consistent store.

mod common;

use common::build::{build_ok, context, sh};
use common::run::Ctx;
use std::process::{Command, Stdio};

#[test]
fn file_flag_labels_iidfile_quiet_and_stdin() {
    let c = Ctx::new("build_flags");
    let bb = c.bb();
    let dir = context(
        &c,
        "ctx",
        &[
            (
                "docker/app.Containerfile",
                &format!("FROM {bb}\nCOPY msg /msg\n"),
            ),
            ("msg", "from the context\n"),
        ],
    );
    let iid = c.env.path("iid");
    let f = dir.join("docker/app.Containerfile");
    let out = build_ok(
        &c,
        &[
            "-q",
            "-f",
            f.to_str().unwrap(),
            "--label",
            "team=infra",
            "--iidfile",
            iid.to_str().unwrap(),
            "-t",
            "flags:1",
            "-t",
            "flags:2",
        ],
        &dir,
    );
    let id = out.stdout.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{out}");
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id);
    let img = c.env.inspect("flags:2");
    assert_eq!(img["Id"], id);
    assert_eq!(img["Config"]["Labels"]["team"], "infra");
    assert_eq!(sh(&c, "flags:1", "cat /msg"), "from the context\n");

    // A Containerfile alone on stdin: an empty context.
    let text = format!("FROM {bb}\nRUN echo piped > /p\n");
    let out = c.env.run_stdin(
        &["build", "-q", "-t", "piped:1", "-"],
        Some(text.as_bytes()),
    );
    out.assert_ok();
    assert_eq!(sh(&c, "piped:1", "cat /p"), "piped\n");
    // A tar context on stdin, its Containerfile inside.
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&dir)
        .args(["-cf", "-", "msg", "docker"])
        .output()
        .unwrap()
        .stdout;
    let out = c.env.run_stdin(
        &[
            "build",
            "-q",
            "-f",
            "docker/app.Containerfile",
            "-t",
            "tarctx:1",
            "-",
        ],
        Some(&tar),
    );
    out.assert_ok();
    assert_eq!(sh(&c, "tarctx:1", "cat /msg"), "from the context\n");

    // Wrong input: a missing context, a bad flag value, no Containerfile.
    let out = c.env.run(&["build", "/nonexistent/ctx"]);
    assert_eq!(out.code, 125, "{out}");
    let out = c
        .env
        .run(&["build", "--format", "tar", dir.to_str().unwrap()]);
    assert_eq!(out.code, 125, "{out}");
    out.assert_stderr_has("--format");
    let empty = c.env.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = c.env.run(&["build", empty.to_str().unwrap()]);
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_has("Containerfile");
}

#[test]
fn docker_format_zstd_squash_and_output() {
    let c = Ctx::new("build_formats");
    let bb = c.bb();
    let file = format!(
        "FROM {bb}\nRUN echo a > /a && echo gone > /gone\nRUN echo b > /b && rm /gone\nRUN rm /bin/vi\n"
    );
    let dir = context(&c, "ctx", &[("Containerfile", &file)]);
    let base_layers = c.env.inspect(&bb)["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .len();

    build_ok(&c, &["--format", "docker", "-t", "fmt:docker"], &dir);
    let digest = c.env.inspect("fmt:docker")["ManifestDigest"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(c.env.path("root/blobs/sha256").join(&digest[7..])).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.docker.container.image.v1+json"
    );
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );

    build_ok(
        &c,
        &[
            "--no-cache",
            "--compression-format",
            "zstd",
            "-t",
            "fmt:zstd",
        ],
        &dir,
    );
    let img = c.env.inspect("fmt:zstd");
    let layers = img["RootFS"]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), base_layers + 3);
    assert_eq!(
        sh(&c, "fmt:zstd", "cat /a /b; ls /gone /bin/vi 2>&1 | wc -l"),
        "a\nb\n2\n"
    );

    let out = build_ok(&c, &["--squash", "-t", "fmt:squash"], &dir);
    assert!(!out.stdout.contains("Using cache") || out.stdout.contains("COMMIT"));
    let img = c.env.inspect("fmt:squash");
    assert_eq!(
        img["RootFS"]["Layers"].as_array().unwrap().len(),
        base_layers + 1,
        "the build's three layers are one"
    );
    assert_eq!(
        sh(
            &c,
            "fmt:squash",
            "cat /a /b; test -e /gone || echo no-gone; test -e /bin/vi || echo no-vi"
        ),
        "a\nb\nno-gone\nno-vi\n"
    );

    // --output: the files, not an image.
    let images = c.env.image_ids();
    let out_dir = c.env.path("out");
    build_ok(
        &c,
        &["-o", &format!("type=local,dest={}", out_dir.display())],
        &dir,
    );
    assert_eq!(std::fs::read_to_string(out_dir.join("a")).unwrap(), "a\n");
    assert!(!out_dir.join("gone").exists());
    assert!(out_dir.join("bin/busybox").is_file());
    let tar = c.env.path("out.tar");
    build_ok(
        &c,
        &["--output", &format!("type=tar,dest={}", tar.display())],
        &dir,
    );
    let list = Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .unwrap()
        .stdout;
    let list = String::from_utf8_lossy(&list);
    assert!(
        list.lines().any(|l| l.trim_start_matches("./") == "b"),
        "{list}"
    );
    assert_eq!(c.env.image_ids(), images, "--output makes no image");
    c.env.assert_store_clean();
}

#[test]
fn run_mounts_of_each_kind() {
    let c = Ctx::new("build_mounts");
    let bb = c.bb();
    let file = format!(
        "FROM {bb} AS tools\n\
         RUN mkdir /kit && echo from-stage > /kit/note\n\
         FROM {bb}\n\
         RUN --mount=type=bind,from=tools,source=/kit,target=/kit cat /kit/note > /from-stage\n\
         RUN --mount=type=bind,from=tools,source=/kit/note,target=/one cat /one >> /from-stage\n\
         RUN --mount=type=cache,target=/cache echo run >> /cache/log && wc -l < /cache/log > /count\n\
         RUN --mount=type=bind,source=data,target=/src cat /src/input > /from-bind\n\
         RUN --mount=type=secret,id=token cat /run/secrets/token | wc -c > /secret-len\n\
         RUN --mount=type=secret,id=token,env=TOKEN test ${{#TOKEN}} -eq 7 && echo ok > /secret-env\n\
         RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/x && test -f /scratch/x\n"
    );
    let dir = context(
        &c,
        "ctx",
        &[("Containerfile", &file), ("data/input", "bound\n")],
    );
    let secret = c.env.path("token.txt");
    std::fs::write(&secret, "hunter2").unwrap();
    let sec = format!("id=token,src={}", secret.display());
    build_ok(&c, &["--secret", &sec, "-t", "mnt:1"], &dir);
    assert_eq!(
        sh(
            &c,
            "mnt:1",
            "cat /from-stage /count /from-bind /secret-len /secret-env; test -e /kit/note && echo leaked || echo clean; \
             { ls -A /cache /scratch; cat /run/secrets/token; } 2>/dev/null | wc -c"
        ),
        "from-stage\nfrom-stage\n1\nbound\n7\nok\nclean\n0\n"
    );
    // The cache mount keeps its content across builds; the secret is in
    // no layer.
    build_ok(&c, &["--no-cache", "--secret", &sec, "-t", "mnt:2"], &dir);
    assert_eq!(sh(&c, "mnt:2", "cat /count"), "2\n");
    let saved = c.env.path("mnt.tar");
    c.env.ok(&["save", "-o", saved.to_str().unwrap(), "mnt:2"]);
    let all = std::fs::read(&saved).unwrap();
    assert!(
        !all.windows(7).any(|w| w == b"hunter2"),
        "the secret's value is in the image"
    );
    // A required secret not given fails the step.
    let file = format!(
        "FROM {bb}\nRUN --mount=type=secret,id=missing,required cat /run/secrets/missing\n"
    );
    let dir = context(&c, "ctx2", &[("Containerfile", &file)]);
    let out = c.env.run(&["build", dir.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out}");
    out.assert_stderr_has("secret missing");
}

#[test]
fn a_build_killed_midway_leaves_a_consistent_store() {
    let c = Ctx::new("build_kill");
    let bb = c.bb();
    let file = format!("FROM {bb}\nRUN echo one > /one\nRUN sleep 47\n");
    let dir = context(&c, "ctx", &[("Containerfile", &file)]);
    let images = c.env.image_ids();
    let mut ch = c
        .env
        .command(&["build", "-t", "killed:1", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Until the second RUN is under way.
    let mut seen = String::new();
    let mut out = ch.stdout.take().unwrap();
    let mut buf = [0u8; 4096];
    while !seen.contains("STEP 3/3") {
        use std::io::Read;
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "the build ended early:\n{seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    ch.kill().unwrap();
    ch.wait().unwrap();
    // The next command finds no step container; nothing was tagged; the
    // store is consistent; and the step that finished is cached.
    let left = c.env.ok(&["ps", "-a", "--external", "-q"]);
    assert!(left.stdout.trim().is_empty(), "{left}");
    assert_eq!(c.env.image_ids(), images);
    c.env.assert_store_clean();
    let file = format!("FROM {bb}\nRUN echo one > /one\nRUN echo two > /two\n");
    std::fs::write(dir.join("Containerfile"), file).unwrap();
    let out = build_ok(&c, &["-t", "killed:2"], &dir);
    assert_eq!(out.stdout.matches("Using cache").count(), 1, "{out}");
    // The sleeping step's process went with the build.
    // (Its exact command line: `sleep 30` would also find a `sleep 300`
    // of anyone's.)
    let ps = Command::new("pgrep")
        .args(["-f", "^sleep 47$"])
        .output()
        .unwrap();
    assert!(
        ps.stdout.is_empty(),
        "the step's process outlived the build"
    );
    // Nor did its network stack (rootless: pasta) outlive the repair.
    let root = c.env.root.to_string_lossy().to_string();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let stacks = || {
        let out = Command::new("pgrep").args(["-f", &root]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    while !stacks().is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(stacks(), "", "a process of the store outlived the build");
}

#[test]
fn add_host_names_hosts_for_run_steps_only() {
    let c = Ctx::new("build_add_host");
    let bb = c.bb();
    let file = format!(
        "FROM {bb}\nRUN grep db.internal /etc/hosts > /found && grep gw.internal /etc/hosts >> /found\n"
    );
    let dir = context(&c, "ctx", &[("Containerfile", &file)]);
    build_ok(
        &c,
        &[
            "-t",
            "hosts:1",
            "--add-host",
            "db.internal:10.1.2.3",
            "--add-host",
            "gw.internal=10.1.2.4",
        ],
        &dir,
    );
    assert_eq!(
        sh(&c, "hosts:1", "cat /found"),
        "10.1.2.3\tdb.internal\n10.1.2.4\tgw.internal\n"
    );
    // The mapping is the build's, not the image's.
    let out = c.run(&["--rm", "hosts:1", "grep", "db.internal", "/etc/hosts"]);
    assert_eq!(out.code, 1, "{out}");
    let out = c
        .env
        .fails(&["build", "--add-host", "nocolon", dir.to_str().unwrap()]);
    out.assert_stderr_has("bad format for add-host");
}
