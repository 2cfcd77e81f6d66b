//! A build from start to image: the Containerfile read and parsed, the
//! stages the target needs found, each built in order (`stage`), the
//! target's state committed as an image and tagged.

use super::ast::{Containerfile, Kind};
use super::stage::{Args, StageBuild};
use super::state::State;
use crate::config::Config;
use crate::digest::Digest;
use crate::image::progress::{Mode, Progress};
use crate::registry::manifest::{media, Compression, Descriptor};
use crate::store::Store;
use anyhow::{anyhow, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The image format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Oci,
    Docker,
}

/// Where `--output` puts the result instead of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `type=local,dest=DIR`: the target stage's files.
    Local(PathBuf),
    /// `type=tar,dest=FILE` (`-` for stdout): the same as a tar.
    Tar(PathBuf),
}

/// Everything `skiff build`'s flags ask for.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Containerfile's text and the name errors give it.
    pub file_text: String,
    pub file_name: String,
    /// `--build-arg`: a value, or `None` for one to take from the
    /// environment (`--build-arg NAME`).
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    /// `--cache-from`: images whose inline cache seeds the build's.
    pub cache_from: Vec<String>,
    /// `--pull`: always pull base images (`Some(false)`: never).
    pub pull: crate::runtime::opts::PullPolicy,
    pub labels: BTreeMap<String, String>,
    /// Normalized names to tag the image with.
    pub tags: Vec<String>,
    pub quiet: bool,
    pub format: Format,
    pub compression: Option<Compression>,
    pub squash: bool,
    pub output: Option<Output>,
    /// `--network` for every `RUN` (the default bridge when `None`).
    pub network: Option<String>,
    /// `--add-host` for every `RUN`: lines of its `/etc/hosts`, never
    /// part of the image or of a step's cache key.
    pub extra_hosts: Vec<crate::runtime::opts::net::ExtraHost>,
    pub platform: Option<crate::registry::platform::Platform>,
    /// `--secret id=ID,src=PATH`.
    pub secrets: BTreeMap<String, PathBuf>,
    pub registry: crate::image::remote::RegistryFlags,
    /// Independent stages may be built at once by processes of their own
    /// (`parallel`): the build can be run again from its command line.
    pub parallel: bool,
    /// Build only the stage of this index (and what it needs), for a
    /// build that runs stages at once; nothing is committed.
    pub stage_only: Option<usize>,
}

/// What the build made.
pub struct Built {
    /// The image's ID (its config's digest); `None` with `--output`.
    pub id: Option<Digest>,
}

/// Predefined proxy arguments: usable without `ARG`, kept out of the
/// image's history and of the cache keys (Docker's rule).
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Build what `opts` asks for, from the context `ctx`.
pub fn build(
    store: &Store,
    cfg: &Config,
    ctx: &super::context::Context,
    opts: &BuildOptions,
) -> Result<Built> {
    let file = super::parse::parse(&opts.file_text, &opts.file_name)?;
    let target = match opts.stage_only {
        Some(i) if i < file.stages.len() => i,
        Some(i) => return Err(anyhow!("no stage {i}")),
        None => target_index(&file, opts.target.as_deref())?,
    };
    let needed = needed_stages(&file, target)?;
    let globals = global_args(&file, opts)?;
    // gc waits for the build: nothing it uses may go meanwhile.
    let _gc = store.lock_gc_shared()?;
    if !opts.no_cache {
        for name in &opts.cache_from {
            if let Err(e) = seed_cache(store, cfg, name, opts) {
                eprintln!("skiff: warning: --cache-from {name}: {e:#}");
            }
        }
    }
    if opts.parallel && !opts.no_cache && opts.stage_only.is_none() {
        let at_once = super::parallel::prebuild(&file, &needed, target)?;
        if !at_once.is_empty() && !opts.quiet {
            println!("--> stages built at once: {}", at_once.join(", "));
        }
    }
    let mut done: BTreeMap<usize, State> = BTreeMap::new();
    let mut consumed = BTreeSet::new();
    let total = needed.len();
    for (n, &i) in needed.iter().enumerate() {
        let mut sb = StageBuild {
            store,
            cfg,
            ctx,
            opts,
            file: &file,
            stage: &file.stages[i],
            globals: &globals,
            done: &done,
            consumed: &mut consumed,
            label: if total > 1 {
                format!("[{}/{}] ", n + 1, total)
            } else {
                String::new()
            },
            cmd_set: false,
        };
        let state = sb.run()?;
        done.insert(i, state);
    }
    let unused: Vec<&String> = opts
        .build_args
        .keys()
        .filter(|k| {
            !consumed.contains(*k) && !globals.declared(k) && !PROXY_ARGS.contains(&k.as_str())
        })
        .collect();
    if !unused.is_empty() {
        eprintln!(
            "[Warning] One or more build-args [{}] were not consumed",
            unused
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if opts.stage_only.is_some() {
        return Ok(Built { id: None });
    }
    let mut last = done.remove(&target).expect("the target was built");
    if let Some(out) = &opts.output {
        super::output::write(store, cfg, &last, out)?;
        return Ok(Built { id: None });
    }
    if !opts.labels.is_empty() {
        let labels = last.run().labels.get_or_insert_with(BTreeMap::new);
        labels.extend(opts.labels.clone());
    }
    if opts.squash {
        last = super::squash::squash(store, cfg, &last, opts)?;
    }
    let id = commit(store, &last, opts)?;
    Ok(Built { id: Some(id) })
}

/// The index of the stage `--target` names, else the last.
fn target_index(file: &Containerfile, target: Option<&str>) -> Result<usize> {
    match target {
        None => Ok(file.stages.len() - 1),
        Some(t) => file
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(&t.to_lowercase()))
            .ok_or_else(|| {
                crate::error::kind_err(
                    crate::error::ErrorKind::InvalidArgument,
                    format!("target stage \"{t}\" could not be found"),
                )
            }),
    }
}

/// The stage a `--from` or `FROM` word names among the stages before
/// `before`: by name, or by index for `--from`.
pub fn stage_named(
    file: &Containerfile,
    word: &str,
    before: usize,
    index_ok: bool,
) -> Option<usize> {
    let w = word.to_lowercase();
    if let Some(i) = file.stages[..before]
        .iter()
        .position(|s| s.name.as_deref() == Some(w.as_str()))
    {
        return Some(i);
    }
    if index_ok {
        if let Ok(i) = w.parse::<usize>() {
            if i < before {
                return Some(i);
            }
        }
    }
    None
}

/// The stages the target needs, in order: itself and what its `FROM`,
/// `COPY --from` and `RUN --mount=from=` name, transitively.
pub fn needed_stages(file: &Containerfile, target: usize) -> Result<Vec<usize>> {
    let mut need = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !need.insert(i) {
            continue;
        }
        let stage = &file.stages[i];
        let mut refs = vec![(stage.base.as_str(), false)];
        for ins in &stage.instructions {
            match &ins.kind {
                Kind::Copy(c) | Kind::Add(c) => {
                    if let Some(f) = &c.from {
                        refs.push((f.as_str(), true));
                    }
                }
                Kind::Run(r) => {
                    for m in &r.mounts {
                        if let Some(f) = &m.from {
                            refs.push((f.as_str(), true));
                        }
                    }
                }
                _ => {}
            }
        }
        for (word, index_ok) in refs {
            if let Some(j) = stage_named(file, word, i, index_ok) {
                todo.push(j);
            }
        }
    }
    Ok(need.into_iter().collect())
}

/// The `ARG`s before the first `FROM`, with their values, and the
/// platform arguments BuildKit defines.
fn global_args(file: &Containerfile, opts: &BuildOptions) -> Result<Args> {
    let mut args = Args::default();
    let host = crate::registry::platform::Platform::host();
    let target = opts.platform.clone().unwrap_or_else(|| host.clone());
    let plat = |p: &crate::registry::platform::Platform| {
        let mut s = format!("{}/{}", p.os, p.architecture);
        if let Some(v) = &p.variant {
            s.push('/');
            s.push_str(v);
        }
        s
    };
    for (k, v) in [
        ("BUILDPLATFORM", plat(&host)),
        ("BUILDOS", host.os.clone()),
        ("BUILDARCH", host.architecture.clone()),
        ("BUILDVARIANT", host.variant.clone().unwrap_or_default()),
        ("TARGETPLATFORM", plat(&target)),
        ("TARGETOS", target.os.clone()),
        ("TARGETARCH", target.architecture.clone()),
        ("TARGETVARIANT", target.variant.clone().unwrap_or_default()),
    ] {
        args.set_automatic(k, v);
    }
    for decl in &file.global_args {
        let value = match opts.build_args.get(&decl.name) {
            Some(v) => Some(v.clone()),
            None => match &decl.default {
                Some(d) => Some(
                    super::expand::word(d, file.escape, &|n| args.value(n))
                        .with_context(|| format!("ARG {}", decl.name))?,
                ),
                None => None,
            },
        };
        args.declare(&decl.name, value);
    }
    Ok(args)
}

/// Write the image: its config, a manifest in the asked format, its
/// record with the tags.
fn commit(store: &Store, state: &State, opts: &BuildOptions) -> Result<Digest> {
    let mut config = state.config.clone();
    config.rootfs.kind = "layers".into();
    config.rootfs.diff_ids = state.layers.iter().map(|l| l.diff_id.clone()).collect();
    config.extra.remove(super::state::INLINE_CACHE);
    if !opts.squash && !state.steps.is_empty() {
        config.extra.insert(
            super::state::INLINE_CACHE.into(),
            serde_json::to_value(&state.steps)?,
        );
    }
    let bytes = serde_json::to_vec(&config)?;
    let layers: Vec<Descriptor> = state
        .layers
        .iter()
        .map(|l| Descriptor::new(&l.media_type, l.digest.clone(), l.size))
        .collect();
    let manifest = match opts.format {
        Format::Oci => None,
        Format::Docker => Some(docker_manifest(&bytes, &layers)?),
    };
    let rec = crate::image::commit::commit_image(
        store,
        &bytes,
        manifest,
        &layers,
        &opts.tags,
        &Progress::new(Mode::Quiet),
    )?;
    Ok(rec.id)
}

/// Image `name`, found or pulled as `pull` says (a base, a `--from`
/// source, a `--cache-from` image).
pub fn find_image(
    store: &Store,
    cfg: &Config,
    opts: &BuildOptions,
    name: &str,
    pull: crate::runtime::opts::PullPolicy,
    platform: Option<crate::registry::platform::Platform>,
) -> Result<crate::store::ImageRecord> {
    let ropts = crate::runtime::opts::RunOpts {
        image: name.to_string(),
        pull,
        platform,
        ..Default::default()
    };
    let pulling = crate::container::create::PullSettings {
        quiet: opts.quiet,
        registry: opts.registry.clone(),
    };
    crate::container::create::resolve_image(store, cfg, &ropts, &pulling)
}

/// Seed the build cache from the inline cache of image `name` (found,
/// else pulled): its steps' keys, with the layers they made.
fn seed_cache(store: &Store, cfg: &Config, name: &str, opts: &BuildOptions) -> Result<()> {
    let img = find_image(
        store,
        cfg,
        opts,
        name,
        crate::runtime::opts::PullPolicy::Missing,
        opts.platform.clone(),
    )?;
    let config = crate::image::config::ImageConfig::parse(&store.read_blob(&img.id)?)?;
    let Some(v) = config.extra.get(super::state::INLINE_CACHE) else {
        return Err(anyhow!(
            "the image has no build cache (it was not built by skiff)"
        ));
    };
    let steps: Vec<super::state::InlineStep> =
        serde_json::from_value(v.clone()).context("its build cache")?;
    let layers = State::of_image(store, &img)?.layers;
    for s in steps {
        if store.cache_get(&s.key).is_some() {
            continue;
        }
        let layer =
            match s.layer {
                Some(i) => Some(layers.get(i).cloned().ok_or_else(|| {
                    anyhow!("its build cache names layer {i} of {}", layers.len())
                })?),
                None => None,
            };
        store.cache_put(
            &s.key,
            &crate::store::build_cache::CacheEntry {
                created: s.created,
                layer,
            },
        )?;
    }
    Ok(())
}

/// A Docker v2 schema 2 manifest for config `config` and `layers`.
fn docker_manifest(config: &[u8], layers: &[Descriptor]) -> Result<(Vec<u8>, String)> {
    let layers = layers
        .iter()
        .map(|l| {
            let mt = match l.media_type.as_str() {
                media::OCI_LAYER_GZIP => media::DOCKER_LAYER_GZIP,
                media::OCI_LAYER => media::DOCKER_LAYER,
                m if m.starts_with("application/vnd.docker.") => m,
                _ => {
                    return Err(anyhow!(
                    "--format docker: a layer compressed as {} has no Docker media type (use gzip)",
                    l.media_type
                ))
                }
            };
            Ok(serde_json::json!({"mediaType": mt, "digest": l.digest, "size": l.size}))
        })
        .collect::<Result<Vec<_>>>()?;
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::DOCKER_MANIFEST,
        "config": {
            "mediaType": media::DOCKER_CONFIG,
            "digest": Digest::of(config),
            "size": config.len(),
        },
        "layers": layers,
    });
    Ok((serde_json::to_vec(&m)?, media::DOCKER_MANIFEST.to_string()))
}
