//! `skiff inspect`, `skiff container inspect` and `skiff image inspect`:
//! Docker's JSON for containers and images.

pub mod container;

use super::format::render;
use super::images::parse_time;
use crate::config::Config;
use crate::container::state;
use crate::error::{kind_err, kind_of, ErrorKind};
use crate::image::config::ImageConfig;
use crate::image::lookup::{familiar_name, find};
use crate::store::{ImageRecord, Store};
use anyhow::Result;
use serde_json::{json, Map, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Format the output using the given Go template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    pub size: bool,
    /// Only inspect objects of this type (container or image)
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Containers or images to inspect (name or ID)
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

/// Docker's `Config` object, with its empty defaults filled in so
/// templates like `{{.Config.Cmd}}` see what Docker shows.
fn docker_config(c: &ImageConfig) -> Value {
    let mut base = json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null,
        "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": null,
    });
    if let (Some(rc), Some(obj)) = (&c.config, base.as_object_mut()) {
        if let Ok(Value::Object(m)) = serde_json::to_value(rc) {
            for (k, v) in m {
                obj.insert(k, v);
            }
        }
    }
    base
}

pub fn image_json(store: &Store, img: &ImageRecord) -> Result<Value> {
    let cfg_bytes = store.read_blob(&img.id)?;
    let c = ImageConfig::parse(&cfg_bytes)?;
    let mut out = Map::new();
    out.insert("Id".into(), json!(img.id));
    out.insert(
        "RepoTags".into(),
        json!(img
            .names
            .iter()
            .map(|n| familiar_name(n))
            .collect::<Vec<_>>()),
    );
    out.insert(
        "RepoDigests".into(),
        json!(img
            .repo_digests
            .iter()
            .map(|n| familiar_name(n))
            .collect::<Vec<_>>()),
    );
    out.insert("Parent".into(), json!(""));
    out.insert(
        "Comment".into(),
        json!(c
            .history
            .last()
            .and_then(|h| h.comment.clone())
            .unwrap_or_default()),
    );
    out.insert(
        "Created".into(),
        json!(parse_time(c.created.as_deref())
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())),
    );
    out.insert(
        "DockerVersion".into(),
        c.extra.get("docker_version").cloned().unwrap_or(json!("")),
    );
    out.insert("Author".into(), json!(c.author.clone().unwrap_or_default()));
    out.insert("Config".into(), docker_config(&c));
    out.insert("Architecture".into(), json!(c.architecture));
    if let Some(v) = &c.variant {
        out.insert("Variant".into(), json!(v));
    }
    out.insert("Os".into(), json!(c.os));
    out.insert("Size".into(), json!(img.size));
    out.insert("VirtualSize".into(), json!(img.size));
    let dirs: Vec<String> = img
        .layers
        .iter()
        .rev()
        .map(|l| store.layer_dir(l).display().to_string())
        .collect();
    out.insert(
        "GraphDriver".into(),
        json!({"Name": "overlay", "Data": {"LowerDir": dirs.join(":")}}),
    );
    out.insert(
        "RootFS".into(),
        json!({"Type": "layers", "Layers": c.rootfs.diff_ids}),
    );
    out.insert("Metadata".into(), json!({"LastTagTime": img.added}));
    out.insert("ManifestDigest".into(), json!(img.manifest_digest));
    Ok(Value::Object(out))
}

/// Which objects a name may denote.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Any,
    Container,
    Image,
}

/// `skiff inspect`: containers first, then images, as Docker looks.
pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let kind = match args.kind.as_deref() {
        None | Some("") => Kind::Any,
        Some("container") => Kind::Container,
        Some("image") => Kind::Image,
        Some(k) => crate::bail_kind!(InvalidArgument, "{k:?} is not a valid value for --type"),
    };
    inspect(args, cfg, kind)
}

/// `skiff container inspect`.
pub fn container_cmd(args: Args, cfg: &Config) -> Result<i32> {
    inspect(args, cfg, Kind::Container)
}

/// `skiff image inspect`.
pub fn image_cmd(args: Args, cfg: &Config) -> Result<i32> {
    inspect(args, cfg, Kind::Image)
}

/// The object `name` denotes, as JSON. The image records are read only
/// when some name is not a container's, once.
fn lookup(
    store: &Store,
    images: &mut Option<Vec<ImageRecord>>,
    cfg: &Config,
    kind: Kind,
    name: &str,
    size: bool,
) -> Result<Value> {
    if kind != Kind::Image {
        match state::find(store, name) {
            Ok(rec) => return Ok(container::container_json(store, &rec, size)),
            Err(e) if kind == Kind::Container || kind_of(&e) != Some(ErrorKind::NotFound) => {
                return Err(e)
            }
            Err(_) => {}
        }
    }
    let images = match images {
        Some(i) => i,
        None => images.insert(store.images()?),
    };
    match find(images, cfg, name) {
        Ok(img) => image_json(store, img),
        Err(e) if kind == Kind::Any && kind_of(&e) == Some(ErrorKind::NotFound) => Err(kind_err(
            ErrorKind::NotFound,
            format!("No such object: {name}"),
        )),
        Err(e) => Err(e),
    }
}

fn inspect(args: Args, cfg: &Config, kind: Kind) -> Result<i32> {
    let store = Store::open_to_read(&cfg.root)?;
    let mut images = None;
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for n in &args.names {
        match lookup(&store, &mut images, cfg, kind, n, args.size) {
            Ok(v) => out.push(v),
            Err(e) => missing.push(e),
        }
    }
    match &args.format {
        Some(f) if f != "json" => {
            for v in &out {
                println!(
                    "{}",
                    render(&f.replace("\\n", "\n").replace("\\t", "\t"), v)?
                );
            }
        }
        _ => println!("{}", serde_json::to_string_pretty(&Value::Array(out))?),
    }
    // Docker names every missing object; the last one is the error.
    let last = missing.pop();
    for e in &missing {
        eprintln!("skiff: {e:#}");
    }
    match last {
        Some(e) => Err(e),
        None => Ok(0),
    }
}
