//! `skiff save`, `skiff load`, `skiff import`.

use crate::config::Config;
use crate::image::import::{import, ImportOptions};
use crate::image::load::load;
use crate::image::lookup::{familiar_name, find, local_candidates};
use crate::image::progress::Progress;
use crate::image::save::{save, ArchiveFormat, SaveItem};
use crate::registry::platform::Platform;
use crate::registry::reference::Reference;
use crate::store::Store;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Archive format
    #[arg(long, value_enum, default_value = "docker-archive")]
    pub format: ArchiveFormat,
    /// Images to save
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress output
    #[arg(short, long)]
    pub quiet: bool,
    /// A tarball (plain, gzip or zstd), or - for STDIN
    pub file: String,
    /// REPOSITORY[:TAG] for the new image
    pub reference: Option<String>,
}

pub fn save_cmd(args: SaveArgs, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let images = store.images()?;
    let mut items: Vec<SaveItem> = Vec::new();
    for s in &args.images {
        let img = find(&images, cfg, s)?;
        // Saved by name: that name goes in the archive; by ID: all its tags.
        let named: Vec<String> = local_candidates(cfg, s)
            .iter()
            .filter_map(|r| {
                r.tag
                    .as_ref()
                    .map(|t| format!("{}:{}", r.name(), t))
                    .filter(|n| img.names.contains(n))
            })
            .take(1)
            .collect();
        let names = if named.is_empty() {
            img.names.clone()
        } else {
            named
        };
        match items.iter_mut().find(|i| i.image.id == img.id) {
            Some(i) => {
                for n in names {
                    if !i.names.contains(&n) {
                        i.names.push(n);
                    }
                }
            }
            None => items.push(SaveItem {
                image: img.clone(),
                names,
            }),
        }
    }
    match &args.output {
        Some(p) => {
            let tmp = crate::util::fs::tmp_sibling(p);
            let res = (|| -> Result<()> {
                let f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
                let mut w = BufWriter::with_capacity(1 << 20, f);
                save(&store, &items, args.format, &mut w)?;
                let f = w.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()?;
                std::fs::rename(&tmp, p).with_context(|| format!("rename to {}", p.display()))?;
                Ok(())
            })();
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res.with_context(|| format!("save to {}", p.display()))?;
        }
        None => {
            if crate::sys::isatty(&std::io::stdout()) {
                crate::bail_kind!(
                    InvalidArgument,
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect"
                );
            }
            let out = std::io::stdout();
            let mut w = BufWriter::with_capacity(1 << 20, out.lock());
            save(&store, &items, args.format, &mut w)?;
            w.flush()?;
        }
    }
    Ok(0)
}

pub fn load_cmd(args: LoadArgs, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let progress = Progress::for_stderr(true);
    let loaded = match &args.input {
        Some(p) => {
            let f = File::open(p).with_context(|| format!("open {}", p.display()))?;
            load(
                &store,
                std::io::BufReader::with_capacity(1 << 20, f),
                &progress,
            )
            .with_context(|| format!("load {}", p.display()))?
        }
        None => {
            if crate::sys::isatty(&std::io::stdin()) {
                crate::bail_kind!(
                    InvalidArgument,
                    "requested load from stdin, but stdin is empty"
                );
            }
            load(&store, std::io::stdin().lock(), &progress).context("load from stdin")?
        }
    };
    if !args.quiet {
        for l in &loaded {
            if l.names.is_empty() {
                println!("Loaded image ID: {}", l.id);
            }
            for n in &l.names {
                println!("Loaded image: {}", familiar_name(n));
            }
        }
    }
    Ok(0)
}

pub fn import_cmd(args: ImportArgs, cfg: &Config) -> Result<i32> {
    let name = match &args.reference {
        Some(r) => {
            let r = Reference::parse(r).with_context(|| format!("import {r}"))?;
            if r.digest.is_some() {
                crate::bail_kind!(
                    InvalidArgument,
                    "import: a reference with a digest cannot name a new image"
                );
            }
            Some(format!(
                "{}:{}",
                r.name(),
                r.tag.as_deref().unwrap_or("latest")
            ))
        }
        None => None,
    };
    let opts = ImportOptions {
        changes: args.change.clone(),
        message: args.message.clone(),
        platform: args.platform.as_deref().map(Platform::parse).transpose()?,
        name,
    };
    let store = Store::open(&cfg.root)?;
    let progress = Progress::for_stderr(true);
    let rec = if args.file == "-" {
        import(&store, std::io::stdin().lock(), &opts, &progress)
    } else {
        let f = File::open(&args.file).with_context(|| format!("open {}", args.file))?;
        import(&store, std::io::BufReader::new(f), &opts, &progress)
    }
    .with_context(|| format!("import {}", args.file))?;
    println!("{}", rec.id);
    Ok(0)
}
