//! What a stage has built so far: its layers, its image config, and the
//! cache key of that state (every step's key is derived from it).

use crate::digest::Digest;
use crate::image::config::{History, ImageConfig, RunConfig};
use crate::registry::manifest::{parse_manifest, Manifest};
use crate::store::build_cache::CachedLayer;
use crate::store::{ImageRecord, Store};
use anyhow::{bail, Context, Result};

/// A stage's state after some of its steps.
#[derive(Debug, Clone)]
pub struct State {
    /// Bottom first.
    pub layers: Vec<CachedLayer>,
    pub config: ImageConfig,
    /// The cache key this state is known by.
    pub key: Digest,
    /// How many of its layers are the base image's (`--squash` keeps
    /// them).
    pub base_layers: usize,
    /// The steps taken since the base image, for the image's inline cache.
    pub steps: Vec<InlineStep>,
}

/// One step as the image's inline cache keeps it (`--cache-from`): its
/// key, the index of the layer it made among the image's, and its time.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct InlineStep {
    pub key: Digest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    pub created: String,
}

/// Where an image keeps its inline cache, in its config.
pub const INLINE_CACHE: &str = "skiff.build.cache";

impl State {
    /// `FROM scratch`: nothing, for this machine's platform.
    pub fn scratch() -> State {
        State {
            layers: Vec::new(),
            config: ImageConfig {
                architecture: crate::registry::platform::Platform::host().architecture,
                os: "linux".into(),
                config: Some(RunConfig::default()),
                rootfs: crate::image::config::RootFs {
                    kind: "layers".into(),
                    diff_ids: Vec::new(),
                },
                ..Default::default()
            },
            key: Digest::of(b"scratch"),
            base_layers: 0,
            steps: Vec::new(),
        }
    }

    /// An image of the store as a stage's start.
    pub fn of_image(store: &Store, img: &ImageRecord) -> Result<State> {
        let config = ImageConfig::parse(&store.read_blob(&img.id)?)?;
        let manifest = store.read_blob(&img.manifest_digest)?;
        let descs = match parse_manifest(&manifest, Some(&img.manifest_media_type))? {
            Manifest::Image(m) => m.layers,
            _ => bail!("image {}: not an image manifest", img.id),
        };
        let diff_ids = &config.rootfs.diff_ids;
        if descs.len() != diff_ids.len() || descs.len() != img.layers.len() {
            bail!("image {}: its manifest and config disagree", img.id);
        }
        let layers: Vec<CachedLayer> = descs
            .into_iter()
            .zip(diff_ids)
            .zip(&img.layers)
            .map(|((d, diff), chain)| CachedLayer {
                diff_id: diff.clone(),
                digest: d.digest,
                media_type: d.media_type,
                size: d.size,
                chain_id: chain.clone(),
            })
            .collect();
        let mut config = config;
        config.config.get_or_insert_with(Default::default);
        // The base's own cache is no part of what is built on it.
        config.extra.remove(INLINE_CACHE);
        Ok(State {
            steps: Vec::new(),
            base_layers: layers.len(),
            layers,
            config,
            key: img.id.clone(),
        })
    }

    /// The chain ID of the top layer.
    pub fn top(&self) -> Option<&Digest> {
        self.layers.last().map(|l| &l.chain_id)
    }

    /// The run settings of its config.
    pub fn run(&mut self) -> &mut RunConfig {
        self.config.config.get_or_insert_with(Default::default)
    }

    /// The run settings, read only.
    pub fn run_ref(&self) -> Option<&RunConfig> {
        self.config.config.as_ref()
    }

    /// The value of environment variable `name` in its config.
    pub fn env(&self, name: &str) -> Option<String> {
        self.run_ref()?.env.as_ref()?.iter().find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then(|| v.to_string())
        })
    }

    /// Set environment variable `name` in its config (replacing, in place).
    pub fn set_env(&mut self, name: &str, value: &str) {
        let env = self.run().env.get_or_insert_with(Vec::new);
        let line = format!("{name}={value}");
        match env
            .iter_mut()
            .find(|kv| kv.split_once('=').map_or(kv.as_str(), |(k, _)| k) == name)
        {
            Some(kv) => *kv = line,
            None => env.push(line),
        }
    }

    /// `SHELL`, else `/bin/sh -c`.
    pub fn shell(&self) -> Vec<String> {
        self.run_ref()
            .and_then(|r| r.extra.get("Shell"))
            .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    /// `WORKDIR`, else `/`.
    pub fn workdir(&self) -> String {
        self.run_ref()
            .and_then(|r| r.working_dir.clone())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into())
    }

    /// The next state: a step known by `what` (everything that makes its
    /// result what it is) ran on this one.
    pub fn next_key(&self, what: &str) -> Digest {
        Digest::of(format!("{}\n{what}", self.key).as_bytes())
    }

    /// Record a step in the history (and, with a layer, the layer).
    pub fn add_step(
        &mut self,
        key: Digest,
        created_by: String,
        created: String,
        layer: Option<CachedLayer>,
    ) {
        let empty_layer = layer.is_none();
        self.steps.push(InlineStep {
            key: key.clone(),
            layer: layer.as_ref().map(|_| self.layers.len()),
            created: created.clone(),
        });
        if let Some(l) = layer {
            self.config.rootfs.diff_ids.push(l.diff_id.clone());
            self.layers.push(l);
        }
        self.config.history.push(History {
            created: Some(created.clone()),
            created_by: Some(created_by),
            comment: Some("skiff build".into()),
            empty_layer,
            ..Default::default()
        });
        self.config.created = Some(created);
        self.key = key;
    }

    /// The image record (never stored) a step's container is made on.
    pub fn image_record(&self) -> ImageRecord {
        crate::image::commit::new_record(
            &self.key,
            (&self.key, "", 0),
            &self.config,
            self.layers.iter().map(|l| l.chain_id.clone()).collect(),
            0,
            Vec::new(),
        )
    }

    /// Make sure every layer is unpacked in the store (a cache hit's may
    /// have been collected, its blob kept).
    pub fn ensure_unpacked(&self, store: &Store) -> Result<()> {
        let mut parent = None;
        for l in &self.layers {
            super::layer::unpack(store, l, parent).context("the build cache's layer")?;
            parent = Some(&l.chain_id);
        }
        Ok(())
    }
}
