//! `skiff build`: real builds on the busybox image the tests make, every
//! instruction's effect seen in the image's config or in a container of
//! it; multi-stage builds, the ignore file, the cache's hits and the
//! misses a change must cause, heredocs, a failing step, and a built
//! image pushed, read by skopeo and run by podman.

mod common;

use common::build::{build, build_ok, context, sh};
use common::run::Ctx;
use std::process::Command;

/// The image's config (`image inspect`'s `Config`).
fn config(c: &Ctx, image: &str) -> serde_json::Value {
    c.env.inspect(image)["Config"].clone()
}

#[test]
fn every_instruction_shows_in_the_image() {
    let c = Ctx::new("build_instr");
    let bb = c.bb();
    let file = format!(
        r#"# a comment
ARG BASE={bb}
FROM $BASE
ARG VERSION=1.0
ENV APP_HOME=/app \
    GREETING="hello world"
LABEL version=$VERSION "org.example.name"="demo"
WORKDIR $APP_HOME
WORKDIR sub
COPY greeting.txt ./
COPY --chmod=700 --chown=1000:1000 tool.sh /usr/local/bin/tool
ADD files.tar /extracted/
RUN echo "$GREETING from $VERSION" > built.txt && mkdir -p /data && echo kept > /data/seed
USER 1000:1000
EXPOSE 8080 53/udp
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --retries=2 CMD ["true"]
SHELL ["/bin/sh", "-c"]
ONBUILD RUN echo triggered
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat built.txt"]
"#
    );
    let dir = context(
        &c,
        "ctx",
        &[
            ("Containerfile", &file),
            ("greeting.txt", "hi\n"),
            ("tool.sh", "#!/bin/sh\necho tool\n"),
        ],
    );
    // A tar for ADD to unpack.
    let tar_src = c.env.path("tarsrc");
    std::fs::create_dir_all(tar_src.join("inner")).unwrap();
    std::fs::write(tar_src.join("inner/a.txt"), "from the tar\n").unwrap();
    let st = Command::new("tar")
        .args(["-cf", dir.join("files.tar").to_str().unwrap(), "-C"])
        .arg(&tar_src)
        .arg("inner")
        .status()
        .unwrap();
    assert!(st.success());

    let out = build_ok(&c, &["-t", "built:1", "--build-arg", "VERSION=2.5"], &dir);
    out.assert_stdout_has("STEP 1/");
    out.assert_stdout_has("Successfully tagged built:1");
    let cfg = config(&c, "built:1");
    let env: Vec<&str> = cfg["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"APP_HOME=/app"), "{cfg}");
    assert!(env.contains(&"GREETING=hello world"), "{cfg}");
    assert!(
        !env.iter().any(|e| e.starts_with("VERSION=")),
        "ARG is no ENV: {cfg}"
    );
    assert_eq!(cfg["Labels"]["version"], "2.5", "{cfg}");
    assert_eq!(cfg["Labels"]["org.example.name"], "demo", "{cfg}");
    assert_eq!(cfg["WorkingDir"], "/app/sub", "{cfg}");
    assert_eq!(cfg["User"], "1000:1000", "{cfg}");
    assert!(cfg["ExposedPorts"]["8080/tcp"].is_object(), "{cfg}");
    assert!(cfg["ExposedPorts"]["53/udp"].is_object(), "{cfg}");
    assert!(cfg["Volumes"]["/data"].is_object(), "{cfg}");
    assert_eq!(cfg["StopSignal"], "SIGTERM", "{cfg}");
    assert_eq!(
        cfg["Healthcheck"]["Test"],
        serde_json::json!(["CMD", "true"])
    );
    assert_eq!(cfg["Healthcheck"]["Interval"], 30_000_000_000i64);
    assert_eq!(cfg["Healthcheck"]["Retries"], 2);
    assert_eq!(cfg["OnBuild"], serde_json::json!(["RUN echo triggered"]));
    assert_eq!(cfg["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(cfg["Cmd"], serde_json::json!(["cat built.txt"]));

    // The image runs as the config says, with the files in place.
    let run = c.run_ok(&["--rm", "built:1"]);
    assert_eq!(run.stdout, "hello world from 2.5\n");
    let seen = c
        .run_ok(&[
            "--rm",
            "--user",
            "0",
            "--entrypoint",
            "sh",
            "built:1",
            "-c",
            "pwd; cat greeting.txt /extracted/inner/a.txt; \
             stat -c '%a %u:%g' /usr/local/bin/tool; stat -c '%u' greeting.txt; id -u",
        ])
        .stdout;
    assert_eq!(
        seen, "/app/sub\nhi\nfrom the tar\n700 1000:1000\n0\n0\n",
        "files and owners"
    );
    assert_eq!(
        c.run_ok(&["--rm", "built:1", "id -u; tool"]).stdout,
        "1000\ntool\n"
    );

    // The history names each step; ONBUILD fires in a build from it.
    let child = context(&c, "child", &[("Containerfile", "FROM built:1\n")]);
    let out = build_ok(&c, &["-t", "child:1"], &child);
    out.assert_stdout_has("triggered");
    assert!(config(&c, "child:1")["OnBuild"].is_null());
}

#[test]
fn multi_stage_builds_only_what_the_target_needs() {
    let c = Ctx::new("build_stages");
    let bb = c.bb();
    let file = format!(
        "FROM {bb} AS base\n\
         RUN echo base > /base.txt\n\
         \n\
         FROM base AS build\n\
         RUN mkdir /out && echo built > /out/app && cat /base.txt >> /out/app\n\
         \n\
         FROM {bb} AS broken\n\
         RUN echo broken-stage-ran && exit 1\n\
         \n\
         FROM {bb} AS final\n\
         COPY --from=build /out/app /app\n\
         COPY --from=0 /base.txt /from-index\n\
         CMD [\"cat\", \"/app\", \"/from-index\"]\n"
    );
    let dir = context(&c, "ctx", &[("Containerfile", &file)]);
    let out = build_ok(&c, &["-t", "ms:1"], &dir);
    out.assert_stdout_lacks("broken-stage-ran");
    assert_eq!(c.run_ok(&["--rm", "ms:1"]).stdout, "built\nbase\nbase\n");
    // The final stage's image has only its own and busybox's layers.
    assert_eq!(
        c.env.inspect("ms:1")["RootFS"]["Layers"]
            .as_array()
            .unwrap()
            .len(),
        c.env.inspect(&bb)["RootFS"]["Layers"]
            .as_array()
            .unwrap()
            .len()
            + 2
    );
    // --target stops at a stage; a stage that fails fails the build.
    let out = build_ok(&c, &["-t", "ms:base", "--target", "base"], &dir);
    out.assert_stdout_lacks("COPY --from");
    assert_eq!(sh(&c, "ms:base", "cat /base.txt"), "base\n");
    let out = build(&c, &["--target", "broken"], &dir);
    assert_eq!(out.code, 1, "{out}");
    let out = build(&c, &["--target", "nope"], &dir);
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_has("target stage \"nope\" could not be found");
    // FROM scratch with files from a stage.
    let file = format!(
        "FROM {bb} AS b\nRUN echo x > /x\nFROM scratch\nCOPY --from=b /x /x\nCOPY --from=b /bin/busybox /busybox\n"
    );
    let dir = context(&c, "scratch", &[("Containerfile", &file)]);
    build_ok(&c, &["-t", "fromscratch:1"], &dir);
    assert_eq!(
        c.run_ok(&["--rm", "fromscratch:1", "/busybox", "cat", "/x"])
            .stdout,
        "x\n"
    );
}

#[test]
fn the_ignore_file_and_its_exceptions() {
    let c = Ctx::new("build_ignore");
    let bb = c.bb();
    let file = format!("FROM {bb}\nCOPY . /ctx/\nRUN find /ctx -type f | sort\n");
    let dir = context(
        &c,
        "ctx",
        &[
            ("Containerfile", &file),
            (".dockerignore", "*.log\nsecret/\n!keep.log\nbuild/**/tmp\n"),
            ("a.txt", "a"),
            ("debug.log", "x"),
            ("keep.log", "k"),
            ("secret/key", "s"),
            ("build/x/tmp", "t"),
            ("build/x/ok", "o"),
        ],
    );
    build_ok(&c, &["-t", "ign:1"], &dir);
    let files = sh(&c, "ign:1", "cd /ctx && find . -type f | sort");
    assert_eq!(
        files,
        "./.dockerignore\n./Containerfile\n./a.txt\n./build/x/ok\n./keep.log\n"
    );
}

#[test]
fn the_cache_hits_and_misses_as_it_must() {
    let c = Ctx::new("build_cache");
    let bb = c.bb();
    let file = format!(
        "FROM {bb}\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy && cat /proc/sys/kernel/random/uuid > /stamp\nARG LEVEL=1\nRUN echo $LEVEL > /level && cat /proc/sys/kernel/random/uuid > /stamp2\nCOPY b.txt /b.txt\n"
    );
    let dir = context(
        &c,
        "ctx",
        &[("Containerfile", &file), ("a.txt", "one"), ("b.txt", "bee")],
    );
    let first = build_ok(&c, &["-q", "-t", "cached:1"], &dir);
    let id = first.stdout.trim().to_string();
    assert!(id.starts_with("sha256:"), "{first}");
    let stamp = sh(&c, "cached:1", "cat /stamp /stamp2");
    let blobs = std::fs::read_dir(c.env.path("root/blobs/sha256"))
        .unwrap()
        .count();

    // Nothing changed: every step cached, the same image, nothing made.
    let again = build_ok(&c, &["-t", "cached:1"], &dir);
    assert_eq!(again.stdout.matches("Using cache").count(), 4, "{again}");
    assert_eq!(
        again.last_line(),
        id.trim_start_matches("sha256:"),
        "{again}"
    );
    assert_eq!(
        std::fs::read_dir(c.env.path("root/blobs/sha256"))
            .unwrap()
            .count(),
        blobs
    );
    assert_eq!(sh(&c, "cached:1", "cat /stamp /stamp2"), stamp);

    // A build-arg changes the RUN after its ARG, not the steps before.
    let out = build_ok(&c, &["-t", "cached:2", "--build-arg", "LEVEL=2"], &dir);
    assert_eq!(out.stdout.matches("Using cache").count(), 2, "{out}");
    assert_eq!(sh(&c, "cached:2", "cat /level"), "2\n");

    // A changed file misses at its COPY and at every step after it.
    std::fs::write(dir.join("a.txt"), "two").unwrap();
    let out = build_ok(&c, &["-t", "cached:3"], &dir);
    assert_eq!(out.stdout.matches("Using cache").count(), 0, "{out}");
    assert_eq!(sh(&c, "cached:3", "cat /copy"), "two");
    // A file no step reads changes nothing.
    std::fs::write(dir.join("unread.txt"), "x").unwrap();
    let out = build_ok(&c, &["-t", "cached:3"], &dir);
    assert_eq!(out.stdout.matches("Using cache").count(), 4, "{out}");
    // --no-cache runs everything again.
    let out = build_ok(&c, &["--no-cache", "-t", "cached:4"], &dir);
    assert_eq!(out.stdout.matches("Using cache").count(), 0, "{out}");
    assert_ne!(
        sh(&c, "cached:4", "cat /stamp"),
        sh(&c, "cached:3", "cat /stamp")
    );
    c.env.assert_store_clean();
}

#[test]
fn heredocs_in_run_and_copy() {
    let c = Ctx::new("build_heredoc");
    let bb = c.bb();
    let file = format!(
        "FROM {bb}\n\
         ARG WHO=world\n\
         RUN <<EOF\n\
         echo \"hello $WHO\" > /greeting\n\
         echo second >> /greeting\n\
         EOF\n\
         RUN cat <<'END' > /literal\n\
         not $expanded\n\
         END\n\
         COPY <<EOT /etc/conf.txt\n\
         who=${{WHO}}\n\
         EOT\n\
         RUN <<EOF\n\
         #!/bin/sh\n\
         echo from-script > /script-out\n\
         EOF\n"
    );
    let dir = context(&c, "ctx", &[("Containerfile", &file)]);
    build_ok(&c, &["-t", "hd:1"], &dir);
    assert_eq!(
        sh(
            &c,
            "hd:1",
            "cat /greeting /literal /etc/conf.txt /script-out"
        ),
        "hello world\nsecond\nnot $expanded\nwho=world\nfrom-script\n"
    );
}

#[test]
fn a_failing_step_stops_the_build_and_leaves_nothing() {
    let c = Ctx::new("build_fail");
    let bb = c.bb();
    let file =
        format!("FROM {bb}\nRUN echo fine > /ok\nRUN echo about to fail; exit 3\nRUN echo never\n");
    let dir = context(&c, "ctx", &[("Containerfile", &file)]);
    let images = c.env.image_ids();
    let out = build(&c, &["-t", "failed:1"], &dir);
    assert_eq!(out.code, 1, "{out}");
    out.assert_stdout_has("about to fail");
    out.assert_stdout_lacks("never");
    let last = out
        .stderr
        .trim()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(last.contains("Containerfile:3"), "{out}");
    assert!(last.contains("exit code: 3"), "{out}");
    assert!(last.contains("exit 3"), "{out}");
    assert_eq!(c.env.image_ids(), images, "no image made");
    let left = c.env.ok(&["ps", "-a", "--external", "-q"]);
    assert!(left.stdout.trim().is_empty(), "{left}");
    // Bad input: an unknown instruction names the file and line.
    let dir = context(
        &c,
        "bad",
        &[("Containerfile", &format!("FROM {bb}\nRUNN x\n"))],
    );
    let out = build(&c, &[], &dir);
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_has(":2");
    out.assert_stderr_has("RUNN");
    c.env.assert_store_clean();
}

#[test]
fn a_built_image_is_pushed_read_by_skopeo_and_run_by_podman() {
    let c = Ctx::new("build_push");
    let bb = c.bb();
    let file = format!("FROM {bb}\nRUN echo pushed-and-run > /msg\nCMD [\"cat\", \"/msg\"]\n");
    let dir = context(&c, "ctx", &[("Containerfile", &file)]);
    let name = c.reg.image("built:v1");
    build_ok(&c, &["-t", &name], &dir);
    c.env.ok(&["push", &name]);
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", &format!("docker://{name}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["Layers"].as_array().unwrap().len(),
        c.env.inspect(&bb)["RootFS"]["Layers"]
            .as_array()
            .unwrap()
            .len()
            + 1
    );

    let proot = c.env.path("podman-root");
    let prun = tempfile::tempdir().unwrap();
    let podman = |args: &[&str]| common::podman(&proot, prun.path(), args);
    let pulled = podman(&["pull", "-q", "--tls-verify=false", &name]);
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    // This machine's hard limits are below podman's defaults.
    let ran = podman(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        &name,
    ]);
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "pushed-and-run\n");
}

#[test]
fn cache_from_an_image_built_elsewhere() {
    let c = Ctx::new("build_cache_from");
    let bb = c.bb();
    let file = format!("FROM {bb}\nCOPY a.txt /a\nRUN cat /a > /b\nENV X=1\n");
    let dir = context(&c, "ctx", &[("Containerfile", &file), ("a.txt", "aaa")]);
    let name = c.reg.image("cached:v1");
    let id = build_ok(&c, &["-q", "-t", &name], &dir).stdout;
    c.env.ok(&["push", &name]);

    // Another machine: only the base image and the pushed one's cache.
    let other = common::Skiff::new("build_cache_from_other");
    other.ok(&["pull", &bb]);
    let out = other.run(&[
        "build",
        "--cache-from",
        &name,
        "-t",
        "again:1",
        dir.to_str().unwrap(),
    ]);
    out.assert_ok();
    assert_eq!(out.stdout.matches("Using cache").count(), 2, "{out}");
    assert_eq!(out.last_line(), id.trim().trim_start_matches("sha256:"));
    // A changed file still misses.
    std::fs::write(dir.join("a.txt"), "changed").unwrap();
    let out = other.run(&["build", "--cache-from", &name, dir.to_str().unwrap()]);
    out.assert_ok();
    assert_eq!(out.stdout.matches("Using cache").count(), 0, "{out}");
    // An image without a cache is a warning, not a failure.
    let out = other.run(&["build", "--cache-from", &bb, dir.to_str().unwrap()]);
    out.assert_ok();
    out.assert_stderr_has("no build cache");
}

#[test]
fn independent_stages_are_built_at_once() {
    let c = Ctx::new("build_parallel");
    let bb = c.bb();
    let file = format!(
        "FROM {bb} AS left\nRUN echo left > /l\n\
         FROM {bb} AS right\nRUN echo right > /r\n\
         FROM {bb}\nCOPY --from=left /l /l\nCOPY --from=right /r /r\n"
    );
    let dir = context(&c, "ctx", &[("Containerfile", &file)]);
    let out = build_ok(&c, &["-t", "par:1"], &dir);
    out.assert_stdout_has("stages built at once: left, right");
    // Built by the processes at once, then found in the cache in order.
    assert_eq!(out.stdout.matches("Using cache").count(), 2, "{out}");
    assert_eq!(sh(&c, "par:1", "cat /l /r"), "left\nright\n");
    let left = c.env.ok(&["ps", "-a", "--external", "-q"]);
    assert!(left.stdout.trim().is_empty(), "{left}");
}

#[test]
fn history_lists_each_step_with_the_size_of_its_layer() {
    let c = Ctx::new("build_history");
    let bb = c.bb();
    let long = "echo this command line is long enough to be cut short by the table";
    let file = format!(
        "FROM {bb}\n\
         ENV A=1\n\
         RUN echo hello > /hello.txt && head -c 5000 /dev/zero > /zeros\n\
         COPY data.bin /data.bin\n\
         LABEL x=y\n\
         CMD [\"sh\", \"-c\", \"{long}\"]\n"
    );
    let dir = context(
        &c,
        "ctx",
        &[("Containerfile", &file), ("data.bin", &"d".repeat(1234))],
    );
    build_ok(&c, &["-t", "hist:1"], &dir);
    let id = c.env.inspect("hist:1")["Id"].as_str().unwrap().to_string();
    let base = c.env.ok(&["history", "-q", &bb]).lines().len();

    // Docker's table: the image's own ID on top, newest step first.
    let out = c.env.ok(&["history", "hist:1"]);
    let lines = out.lines();
    assert!(
        lines[0].starts_with("IMAGE") && lines[0].contains("CREATED BY"),
        "{out}"
    );
    assert!(lines[1].starts_with(&id[7..19]), "{out}");
    assert_eq!(lines.len(), 1 + base + 5, "{out}");

    // Exact sizes: the layer each step made, 0 for config-only steps.
    let out = c.env.ok(&[
        "history",
        "-H=false",
        "--format",
        "{{.ID}}|{{.Size}}|{{.CreatedBy}}",
        "hist:1",
    ]);
    let rows: Vec<Vec<String>> = out
        .lines()
        .iter()
        .take(5)
        .map(|l| l.split('|').map(String::from).collect())
        .collect();
    let sizes: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(sizes, ["0", "0", "1234", "5006", "0"], "{out}");
    assert_eq!(rows[0][0], &id[7..19], "{out}");
    assert!(rows[1..].iter().all(|r| r[0] == "<missing>"), "{out}");
    assert_eq!(rows[1][2], "LABEL x=y", "{out}");
    assert_eq!(rows[2][2], "COPY data.bin /data.bin", "{out}");
    assert_eq!(rows[4][2], "ENV A=1", "{out}");
    // Cut at 45 characters, unless --no-trunc.
    assert_eq!(rows[0][2].chars().count(), 45, "{out}");
    assert!(rows[0][2].ends_with('…'), "{out}");
    let out = c.env.ok(&[
        "image",
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.CreatedBy}}",
        "hist:1",
    ]);
    assert!(out.lines()[0].starts_with(&format!("{id} CMD")), "{out}");
    assert!(out.lines()[0].contains(long), "{out}");

    // -q: the IDs alone; json: Docker's fields.
    let out = c.env.ok(&["history", "-q", "hist:1"]);
    assert_eq!(out.lines()[0], &id[7..19], "{out}");
    assert_eq!(out.lines()[1], "<missing>", "{out}");
    let out = c.env.ok(&["history", "--format", "json", "hist:1"]);
    let first: serde_json::Value = serde_json::from_str(out.lines()[0]).unwrap();
    for k in [
        "ID",
        "CreatedAt",
        "CreatedSince",
        "CreatedBy",
        "Size",
        "Comment",
    ] {
        assert!(first.get(k).is_some(), "{k} missing: {out}");
    }
    assert_eq!(first["Size"], "0B", "{out}");

    let out = c.env.fails(&["history", "nosuch:1"]);
    assert_eq!(out.code, 125, "{out}");
    out.assert_stderr_has("No such image: nosuch:1");
}

#[test]
fn system_prune_takes_what_docker_takes_and_spares_what_is_used() {
    let c = Ctx::new("system_prune");
    let bb = c.bb();
    // A build (its cache), then a rebuild of the tag: the first image is
    // left dangling.
    let dir = context(
        &c,
        "ctx",
        &[("Containerfile", &format!("FROM {bb}\nRUN echo one > /v\n"))],
    );
    let first = build_ok(&c, &["-q", "-t", "app:1"], &dir)
        .stdout
        .trim()
        .to_string();
    std::fs::write(
        dir.join("Containerfile"),
        format!("FROM {bb}\nRUN echo two > /v\n"),
    )
    .unwrap();
    build_ok(&c, &["-q", "-t", "app:1"], &dir);
    // A stopped container with an anonymous volume, a running one on a
    // network of its own, and a network nothing uses.
    c.run_ok(&[
        "--name",
        "done",
        "-v",
        "/data",
        &bb,
        "sh",
        "-c",
        "echo x > /data/f",
    ]);
    let vol = c.inspect("done")["Mounts"][0]["Name"]
        .as_str()
        .unwrap()
        .to_string();
    c.env.ok(&["network", "create", "inuse"]);
    c.env.ok(&["network", "create", "idle"]);
    c.run_ok(&[
        "-d",
        "--name",
        "busy",
        "--network",
        "inuse",
        &bb,
        "sleep",
        "60",
    ]);
    let done_id = c.inspect("done")["Id"].as_str().unwrap().to_string();

    // Without -f it asks; "n" keeps everything.
    let out = c.env.run_stdin(&["system", "prune"], Some(b"n\n"));
    out.assert_ok();
    assert!(out.stdout.contains("WARNING! This will remove:"), "{out}");
    assert!(out.stdout.contains("  - all stopped containers"), "{out}");
    assert!(
        c.env.ok(&["ps", "-aq"]).stdout.lines().count() == 2,
        "{out}"
    );

    // A container still being made (its maker's lock held, as a running
    // build's step or a `run` between its create and its start): spared.
    let held = c
        .env
        .ok(&["create", "--name", "held", &bb, "true"])
        .stdout
        .trim()
        .to_string();
    let held_dir = c.env.root.join("containers").join(&held);
    let holder = c.hold_as_being_made(&held, std::process::id());

    let out = c.env.ok(&["system", "prune", "-f"]);
    assert!(held_dir.exists(), "{out}");
    assert!(!out.stdout.contains(&held), "{out}");
    drop(holder);
    let text = &out.stdout;
    assert!(
        text.contains(&format!("Deleted Containers:\n{done_id}\n")),
        "{out}"
    );
    assert!(text.contains("Deleted Networks:\nidle\n"), "{out}");
    assert!(text.contains(&format!("deleted: {first}")), "{out}");
    assert!(text.contains("Deleted build cache objects:"), "{out}");
    assert!(text.contains("Total reclaimed space:"), "{out}");
    // What is used, tagged or named stays; volumes need --volumes.
    assert_eq!(c.env.ok(&["ps", "-q"]).stdout.lines().count(), 1);
    let nets = c.env.ok(&["network", "ls", "--format", "{{.Name}}"]).stdout;
    assert!(nets.contains("inuse") && !nets.contains("idle"), "{nets}");
    c.env.ok(&["image", "inspect", "app:1"]);
    c.env.ok(&["volume", "inspect", &vol]);

    // Filters are checked before anything goes; volumes take labels only.
    let out = c
        .env
        .fails(&["system", "prune", "-f", "--volumes", "--filter", "until=1h"]);
    out.assert_stderr_has("volumes take label=, label!= and all=");
    let out = c
        .env
        .fails(&["system", "prune", "-f", "--filter", "colour=red"]);
    out.assert_stderr_has("invalid filter");
    c.env.ok(&["volume", "inspect", &vol]);

    // -a --volumes: every unused image and the anonymous volume too; the
    // running container's image stays.
    let out = c.env.ok(&["system", "prune", "-a", "-f", "--volumes"]);
    assert!(
        out.stdout.contains(&format!("Deleted Volumes:\n{vol}\n")),
        "{out}"
    );
    assert!(out.stdout.contains("untagged: app:1"), "{out}");
    c.env.ok(&["image", "inspect", &bb]);
    c.env.ok(&["rm", "-f", "busy"]);
    c.env.assert_store_clean();
}
