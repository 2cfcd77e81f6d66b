//! The images the `run` tests need besides `busybox`, built once per test
//! process on top of the busybox layer and added to the shared registry
//! storage under `run/<name>:latest`.
//!
//! - `run/app`: users and groups (`app` is uid 1000 with supplementary
//!   groups `audio` and `video`), an empty root password and a setuid-root
//!   copy of busybox at `/suid/su` (busybox's `su` refuses to work unless
//!   it really runs setuid, which makes no-new-privileges observable), and
//!   image environment variables.
//! - `run/entry`: `Entrypoint ["/bin/echo", "entry:"]`, `Cmd
//!   ["default-cmd"]` and a `WorkingDir` the image does not contain.
//! - `run/user`: `User app`, `Cmd ["id"]`, and no `PATH` in its `Env`.
//! - `run/volume`: `VOLUME /data`, with `/data/seed.txt` in the image.
//! - `run/evil-mount`: `/etc/evil -> /../../../tmp/<unique>` and a relative
//!   twin, symlinks aimed out of the rootfs at mount targets
//!   (CVE-2021-30465).
//! - `run/evil-devnull`: `/dev/null` a symlink to a procfs file, the shape
//!   of CVE-2025-31133 (a runtime that masks paths by binding the image's
//!   `/dev/null` binds the file instead).
//! - `run/evil-exe`: `/evil`, a script whose interpreter is
//!   `/proc/self/exe`, so exec'ing it runs the runtime's own binary inside
//!   the container (CVE-2019-5736).
//! - `run/health`: a `HEALTHCHECK` (`test -f /tmp/ok` every 200 ms, two
//!   failures for unhealthy).
//! - [`RunImages::which`]: two images that differ only in `/which.txt`
//!   (`A` or `B`), for tests that move a tag between them.

use super::fixtures::fixtures;
use super::oci::{Compression, Image, ImageSpec, Layer};
use super::tarball::Tarball;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::OnceLock;

pub const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What `/data/seed.txt` holds in `run/volume`.
pub const SEED: &str = "seeded by the image\n";

pub struct RunImages {
    pub app: Image,
    pub entry: Image,
    pub user: Image,
    pub volume: Image,
    pub evil_mount: Image,
    pub evil_devnull: Image,
    pub evil_exe: Image,
    pub health: Image,
    /// `[A, B]`: `/which.txt` holds `A\n` or `B\n`.
    pub which: [Image; 2],
    /// The host paths `run/evil-mount`'s symlinks resolve to when followed
    /// on the host: `/tmp/skiff-mount-escape-<pid>` and its `-rel` twin.
    /// Nothing may ever appear there.
    pub escape_targets: [PathBuf; 2],
}

/// The images, seeded into the registry storage on first use.
pub fn run_images() -> &'static RunImages {
    static R: OnceLock<RunImages> = OnceLock::new();
    R.get_or_init(|| {
        let imgs = build();
        let storage = super::seed::storage();
        for (name, img) in [
            ("app", &imgs.app),
            ("entry", &imgs.entry),
            ("user", &imgs.user),
            ("volume", &imgs.volume),
            ("evil-mount", &imgs.evil_mount),
            ("evil-devnull", &imgs.evil_devnull),
            ("evil-exe", &imgs.evil_exe),
            ("health", &imgs.health),
        ] {
            super::seed::put(storage, &format!("run/{name}"), "latest", &img.content());
        }
        imgs
    })
}

fn busybox_layer() -> Layer {
    fixtures().busybox.layers[0].clone()
}

fn layer(t: &mut Tarball) -> Layer {
    Layer::new(t.finish(), Compression::Gzip, false)
}

fn spec(label: &str, extra: Value) -> ImageSpec {
    let mut s = ImageSpec::new(label);
    if let Value::Object(m) = extra {
        s.extra_config = m;
    }
    s
}

fn app_layer() -> Layer {
    let bin = std::fs::read("/bin/busybox").expect("read /bin/busybox (install busybox-static)");
    layer(
        Tarball::new()
            .dir("etc/", 0o755)
            .file(
                "etc/passwd",
                0o644,
                b"root::0:0:root:/root:/bin/sh\n\
                  nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
                  app:x:1000:1000:app user:/home/app:/bin/sh\n",
            )
            .file(
                "etc/group",
                0o644,
                b"root:x:0:\n\
                  audio:x:29:app\n\
                  video:x:44:nobody,app\n\
                  staff:x:50:\n\
                  app:x:1000:\n\
                  nogroup:x:65534:\n",
            )
            .dir("home/", 0o755)
            .dir("home/app/", 0o755)
            .dir("suid/", 0o755)
            .file("suid/su", 0o4755, &bin),
    )
}

fn build() -> RunImages {
    let bb = busybox_layer();
    let app_env = json!([PATH, "FROM_IMAGE=yes", "OVERRIDE=image"]);

    let app = Image::build(
        &spec("run-app", json!({ "Env": app_env })),
        vec![bb.clone(), app_layer()],
    );

    let entry = Image::build(
        &spec(
            "run-entry",
            json!({
                "Entrypoint": ["/bin/echo", "entry:"],
                "Cmd": ["default-cmd"],
                "WorkingDir": "/srv/work",
                "Env": app_env,
            }),
        ),
        vec![bb.clone()],
    );

    let user = Image::build(
        &spec(
            "run-user",
            json!({ "User": "app", "Cmd": ["id"], "Env": ["ONLY_USER_IMAGE=1"] }),
        ),
        vec![bb.clone(), app_layer()],
    );

    let volume = Image::build(
        &spec("run-volume", json!({ "Volumes": { "/data": {} } })),
        vec![
            bb.clone(),
            layer(
                Tarball::new()
                    .dir("data/", 0o755)
                    .file("data/seed.txt", 0o644, SEED.as_bytes()),
            ),
        ],
    );

    let escape = format!("skiff-mount-escape-{}", std::process::id());
    let escape_targets = [
        PathBuf::from("/tmp").join(&escape),
        PathBuf::from("/tmp").join(format!("{escape}-rel")),
    ];
    let evil_mount = Image::build(
        &spec("run-evil-mount", json!({})),
        vec![
            bb.clone(),
            layer(
                Tarball::new()
                    .dir("etc/", 0o755)
                    .symlink("etc/evil", &format!("/../../../tmp/{escape}"))
                    .symlink(
                        "etc/evil-rel",
                        &format!("../../../../../../../../tmp/{escape}-rel"),
                    ),
            ),
        ],
    );

    let evil_devnull = Image::build(
        &spec("run-evil-devnull", json!({})),
        vec![
            bb.clone(),
            layer(
                Tarball::new()
                    .dir("dev/", 0o755)
                    .symlink("dev/null", "/proc/sys/kernel/core_pattern"),
            ),
        ],
    );

    let evil_exe = Image::build(
        &spec("run-evil-exe", json!({})),
        vec![
            bb.clone(),
            layer(Tarball::new().file("evil", 0o755, b"#!/proc/self/exe\n")),
        ],
    );

    let health = Image::build(
        &spec(
            "run-health",
            json!({ "Healthcheck": {
                "Test": ["CMD-SHELL", "test -f /tmp/ok"],
                "Interval": 200_000_000,
                "Retries": 2,
            } }),
        ),
        vec![bb.clone()],
    );

    let which = ["A", "B"].map(|w| {
        Image::build(
            &spec(&format!("run-which-{w}"), json!({})),
            vec![
                bb.clone(),
                layer(Tarball::new().file("which.txt", 0o644, format!("{w}\n").as_bytes())),
            ],
        )
    });

    RunImages {
        app,
        entry,
        user,
        volume,
        evil_mount,
        evil_devnull,
        evil_exe,
        health,
        which,
        escape_targets,
    }
}
