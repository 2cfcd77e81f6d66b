//! The test images, built once per test process from Debian's
//! busybox-static: `busybox`, `multi`, `multiarch` (an OCI index and a
//! Docker manifest list), `hello`, one image per malicious layer, and the
//! lying images.

use super::oci::{Compression, Content, Image, ImageSpec, Index, Layer};
use super::tarball::Tarball;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The applets the busybox image links to `/bin/busybox`.
pub const APPLETS: &[&str] = &[
    "sh",
    "ash",
    "ls",
    "cat",
    "echo",
    "true",
    "false",
    "sleep",
    "id",
    "env",
    "mkdir",
    "rm",
    "rmdir",
    "touch",
    "stat",
    "wc",
    "head",
    "tail",
    "grep",
    "sed",
    "ps",
    "mount",
    "umount",
    "hostname",
    "whoami",
    "printf",
    "test",
    "[",
    "uname",
    "chmod",
    "chown",
    "ln",
    "mv",
    "cp",
    "find",
    "readlink",
    "pwd",
    "kill",
    "date",
    "seq",
    "sync",
    "tr",
    "cut",
    "sort",
    "uniq",
    "xargs",
    "tee",
    "du",
    "df",
    "dd",
    "md5sum",
    "sha256sum",
    "nc",
    "wget",
    "ip",
    "free",
    "top",
    "vi",
    "basename",
    "dirname",
    "expr",
    "mknod",
    "nproc",
    "stty",
    "yes",
];

/// A malicious image: what its layer tries, and the image.
pub struct Evil {
    /// The repository suffix: `evil/<case>`.
    pub case: &'static str,
    pub image: Image,
}

/// An image whose documents lie about one blob.
pub struct Lying {
    /// The repository suffix: `lying/<case>`.
    pub case: &'static str,
    pub image: Image,
    /// The digest the error should name.
    pub blame: String,
}

pub struct Fixtures {
    pub busybox: Image,
    pub multi: Image,
    pub multiarch: Index,
    pub multiarch_list: Index,
    pub hello: Image,
    pub evil: Vec<Evil>,
    pub lying: Vec<Lying>,
    /// A directory outside every store that malicious layers aim at; it
    /// holds `victim` (content [`VICTIM`]).
    pub outside: PathBuf,
    /// The file name malicious layers try to create outside their layer.
    pub escape: String,
}

pub const VICTIM: &[u8] = b"victim: must stay as it is\n";

impl Fixtures {
    pub fn evil(&self, case: &str) -> &Evil {
        self.evil
            .iter()
            .find(|e| e.case == case)
            .unwrap_or_else(|| panic!("no evil fixture {case}"))
    }

    pub fn lying(&self, case: &str) -> &Lying {
        self.lying
            .iter()
            .find(|e| e.case == case)
            .unwrap_or_else(|| panic!("no lying fixture {case}"))
    }

    /// Every (repository, tag, content) the seeded registry storage holds.
    pub fn catalog(&self) -> Vec<(String, &'static str, Content)> {
        let mut out = vec![
            ("busybox".to_string(), "latest", self.busybox.content()),
            ("busybox".to_string(), "1.36", self.busybox.content()),
            ("multi".to_string(), "latest", self.multi.content()),
            ("multiarch".to_string(), "latest", self.multiarch.content()),
            (
                "multiarch".to_string(),
                "list",
                self.multiarch_list.content(),
            ),
            ("hello".to_string(), "latest", self.hello.content()),
            ("alltags".to_string(), "one", self.busybox.content()),
            ("alltags".to_string(), "two", self.hello.content()),
        ];
        for e in &self.evil {
            out.push((format!("evil/{}", e.case), "latest", e.image.content()));
        }
        for l in &self.lying {
            out.push((format!("lying/{}", l.case), "latest", l.image.content()));
        }
        out
    }
}

pub fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(build)
}

/// An OCI image layout (built once per process) holding `busybox`,
/// `multi`, `hello` and `multiarch` under those ref names, for tools that
/// read layouts (skopeo, umoci).
pub fn layout() -> &'static Path {
    static L: OnceLock<PathBuf> = OnceLock::new();
    L.get_or_init(|| {
        let f = fixtures();
        let dir = super::work_dir().join("layout");
        let _ = std::fs::remove_dir_all(&dir);
        super::oci::write_layout(
            &dir,
            &[
                ("busybox", &f.busybox.content()),
                ("multi", &f.multi.content()),
                ("hello", &f.hello.content()),
                ("multiarch", &f.multiarch.content()),
            ],
        );
        dir
    })
}

fn build() -> Fixtures {
    let busybox_layer = Layer::new(busybox_tar(), Compression::Gzip, false);
    let busybox = Image::build(&ImageSpec::new("busybox"), vec![busybox_layer.clone()]);

    let multi = multi_image();

    let amd64 = Image::build(&ImageSpec::new("multiarch"), vec![busybox_layer.clone()]);
    let mut arm = ImageSpec::new("multiarch");
    arm.architecture = "arm64".into();
    arm.variant = Some("v8".into());
    let arm64 = Image::build(&arm, vec![busybox_layer.clone()]);
    let multiarch = Index::build(vec![amd64, arm64], false);

    let docker_layer = busybox_layer.as_docker();
    let mut d_amd = ImageSpec::new("multiarch");
    d_amd.docker = true;
    let mut d_arm = arm.clone();
    d_arm.docker = true;
    let multiarch_list = Index::build(
        vec![
            Image::build(&d_amd, vec![docker_layer.clone()]),
            Image::build(&d_arm, vec![docker_layer]),
        ],
        true,
    );

    let hello = Image::build(
        &ImageSpec {
            cmd: vec!["cat".into(), "/hello.txt".into()],
            ..ImageSpec::new("hello")
        },
        vec![Layer::new(
            Tarball::new()
                .file("hello.txt", 0o644, b"hello from the skiff tests\n")
                .finish(),
            Compression::Gzip,
            false,
        )],
    );

    let outside = super::work_dir().join("outside");
    std::fs::create_dir_all(&outside).expect("create the outside dir");
    std::fs::write(outside.join("victim"), VICTIM).expect("write the victim file");
    let escape = super::unique("skiff-escape");
    let evil = evil_images(&outside, &escape);
    let lying = lying_images();

    Fixtures {
        busybox,
        multi,
        multiarch,
        multiarch_list,
        hello,
        evil,
        lying,
        outside,
        escape,
    }
}

fn busybox_tar() -> Vec<u8> {
    let bin = std::fs::read("/bin/busybox").expect("read /bin/busybox (install busybox-static)");
    let mut t = Tarball::new();
    t.dir("bin/", 0o755).file("bin/busybox", 0o755, &bin);
    for a in APPLETS {
        t.symlink(&format!("bin/{a}"), "busybox");
    }
    t.dir("etc/", 0o755)
        .file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .file("etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n")
        .file("etc/hostname", 0o644, b"busybox\n");
    for d in ["dev/", "proc/", "sys/", "home/", "var/", "usr/", "usr/bin/"] {
        t.dir(d, 0o755);
    }
    t.dir("root/", 0o700).dir("tmp/", 0o1777);
    t.finish()
}

/// Four layers (gzip, zstd, plain tar, gzip); the second deletes a file of
/// the first, makes a directory opaque, and holds hardlinks, a symlink, a
/// setuid file, a file owned by 1000:1000 and a fifo.
fn multi_image() -> Image {
    let l1 = Tarball::new()
        .dir("etc/", 0o755)
        .file("etc/multi-release", 0o644, b"multi 1\n")
        .dir("data/", 0o755)
        .file("data/deleted.txt", 0o644, b"deleted by layer 2\n")
        .file("data/keep.txt", 0o644, b"kept\n")
        .dir("opq/", 0o755)
        .file("opq/old1", 0o644, b"hidden by the opaque dir\n")
        .file("opq/old2", 0o644, b"hidden too\n")
        .finish();
    let l2 = Tarball::new()
        .dir("data/", 0o755)
        .file("data/.wh.deleted.txt", 0o644, b"")
        .dir("opq/", 0o755)
        .file("opq/.wh..wh..opq", 0o644, b"")
        .file("opq/new", 0o644, b"new in layer 2\n")
        .dir("hl/", 0o755)
        .file("hl/orig", 0o644, b"one inode, three names\n")
        .hardlink("hl/link", "hl/orig")
        .hardlink("hl/link2", "hl/orig")
        .symlink("sym", "data/keep.txt")
        .dir("bin/", 0o755)
        .file("bin/suid", 0o4755, b"#!/bin/sh\necho suid\n")
        .dir("home/", 0o755)
        .file_owned("home/user-file", 0o600, (1000, 1000), b"owned by 1000\n")
        .dir("run/", 0o755)
        .fifo("run/fifo", 0o644)
        .finish();
    let l3 = Tarball::new()
        .dir("l3/", 0o755)
        .file("l3/file.txt", 0o644, b"third layer\n")
        .dir("etc/", 0o755)
        .file("etc/multi-release", 0o644, b"multi 3\n")
        .finish();
    let l4 = Tarball::new()
        .file("l4.txt", 0o644, b"fourth layer\n")
        .dir("sticky/", 0o1777)
        .finish();
    let spec = ImageSpec {
        history: vec![
            Some("ADD layer1 /".into()),
            Some("RUN layer2".into()),
            Some("ADD layer3 /".into()),
            None,
            Some("ADD layer4 /".into()),
        ],
        ..ImageSpec::new("multi")
    };
    Image::build(
        &spec,
        vec![
            Layer::new(l1, Compression::Gzip, false),
            Layer::new(l2, Compression::Zstd, false),
            Layer::new(l3, Compression::None, false),
            Layer::new(l4, Compression::Gzip, false),
        ],
    )
}

/// One image per way a layer can try to write outside itself.
fn evil_images(outside: &Path, escape: &str) -> Vec<Evil> {
    let out = outside.display().to_string();
    let cases: Vec<(&'static str, Vec<u8>)> = vec![
        // `../x`: straight out of the layer.
        (
            "dotdot",
            Tarball::new()
                .file(&format!("../{escape}"), 0o644, b"escaped\n")
                .finish(),
        ),
        // `a/../../x`: out through a real directory.
        (
            "nested-dotdot",
            Tarball::new()
                .dir("a/", 0o755)
                .file(&format!("a/../../{escape}"), 0o644, b"escaped\n")
                .finish(),
        ),
        // `/x`: an absolute name.
        (
            "absolute",
            Tarball::new()
                .file(&format!("/{escape}"), 0o644, b"escaped\n")
                .finish(),
        ),
        // `a -> /outside`, then `a/x`: writing through an absolute symlink.
        (
            "symlink-absolute",
            Tarball::new()
                .symlink("a", &out)
                .file(&format!("a/{escape}"), 0o644, b"escaped\n")
                .finish(),
        ),
        // `a -> ..`, then `a/x`: writing through a relative symlink.
        (
            "symlink-dotdot",
            Tarball::new()
                .symlink("a", "..")
                .file(&format!("a/{escape}"), 0o644, b"escaped\n")
                .finish(),
        ),
        // A hardlink to `../x`. Where `..` lands depends on the store's
        // layout, so only the refusal is checked; the absolute cases below
        // aim at files that exist.
        (
            "hardlink-dotdot",
            Tarball::new()
                .hardlink("h", &format!("../{escape}"))
                .finish(),
        ),
        // A hardlink to the host's /etc/passwd.
        (
            "hardlink-passwd",
            Tarball::new().hardlink("h", "/etc/passwd").finish(),
        ),
        // A hardlink to an absolute outside file, then a write to it.
        (
            "hardlink-overwrite",
            Tarball::new()
                .hardlink("h", &format!("{out}/victim"))
                .file("h", 0o644, b"overwritten\n")
                .finish(),
        ),
        // A hardlink whose target goes through a symlinked directory.
        (
            "hardlink-via-symlink",
            Tarball::new()
                .symlink("d", &out)
                .hardlink("h", "d/victim")
                .finish(),
        ),
    ];
    cases
        .into_iter()
        .map(|(case, tar)| Evil {
            case,
            image: Image::build(
                &ImageSpec::new(&format!("evil-{case}")),
                vec![Layer::new(tar, Compression::Gzip, false)],
            ),
        })
        .collect()
}

/// A small layer of its own for each lying image, so no honest image
/// shares the blob a lie is about.
fn small_layer(what: &str) -> Layer {
    Layer::new(
        Tarball::new()
            .file(&format!("{what}.txt"), 0o644, what.as_bytes())
            .finish(),
        Compression::Gzip,
        false,
    )
}

fn lying_images() -> Vec<Lying> {
    let spec = ImageSpec::new("lying");

    // The manifest names a digest the bytes served under it do not hash to.
    let mut layer = small_layer("lying-digest");
    let fake = super::sha256(b"not the bytes of this layer");
    layer.blob.digest = fake.clone();
    let digest = Image::build(&spec, vec![layer]);

    // The manifest declares more bytes than the blob has.
    let mut layer = small_layer("lying-size");
    layer.blob.size += 1000;
    let blame = layer.blob.digest.clone();
    let size = Image::build(&spec, vec![layer]);

    // The config's diff_id is not the uncompressed layer's digest.
    let mut layer = small_layer("lying-diffid");
    layer.diff_id = super::sha256(b"not the uncompressed layer");
    let diff = layer.diff_id.clone();
    let diffid = Image::build(&spec, vec![layer]);

    vec![
        Lying {
            case: "digest",
            image: digest,
            blame: fake,
        },
        Lying {
            case: "size",
            image: size,
            blame,
        },
        Lying {
            case: "diffid",
            image: diffid,
            blame: diff,
        },
    ]
}
