//! `skiff pull`: fetch an image from a registry into the store.

use crate::config::Config;
use crate::error::{kind_of, ErrorKind};
use crate::image::lookup::candidates;
use crate::image::progress::Progress;
use crate::image::pull::{pull_with, PullOptions};
use crate::image::remote::{client_for, RegistryFlags};
use crate::registry::platform::Platform;
use crate::registry::reference::Reference;
use crate::store::Store;
use anyhow::{Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long, env = "DOCKER_DEFAULT_PLATFORM")]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Maximum number of layers downloaded at once
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_concurrent_downloads: u32,
    /// Accepted for Docker compatibility; image signing is not supported
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "true")]
    pub disable_content_trust: Option<bool>,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// The image to pull: NAME[:TAG|@DIGEST]
    pub image: String,
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let platform = args.platform.as_deref().map(Platform::parse).transpose()?;
    let opts = PullOptions {
        platform,
        max_concurrent: args.max_concurrent_downloads as usize,
        registry: args.registry.clone(),
    };
    let refs = candidates(cfg, &args.image);
    if refs.is_empty() {
        // Parse again for the reason the name is invalid.
        Reference::parse(&args.image).with_context(|| format!("pull {}", args.image))?;
    }
    let store = Store::open(&cfg.root)?;
    let progress = Progress::for_stderr(args.quiet);
    let mut last_err = None;
    for r in &refs {
        let res = if args.all_tags {
            pull_all_tags(&store, cfg, r, &opts, &progress, args.quiet)
        } else {
            pull_one(&store, cfg, r, &opts, &progress, args.quiet, &args.image)
        };
        match res {
            Ok(()) => return Ok(0),
            Err(e) => {
                // Only a missing image moves on to the next search registry.
                let next = matches!(
                    kind_of(&e),
                    Some(ErrorKind::NotFound) | Some(ErrorKind::Unauthorized)
                );
                last_err = Some(e);
                if !next {
                    break;
                }
            }
        }
    }
    Err(last_err.unwrap_or_else(|| {
        crate::error::kind_err(
            ErrorKind::InvalidArgument,
            format!(
                "pull {}: a short name needs a registry, and no unqualified-search-registries are configured",
                args.image
            ),
        )
    }))
}

fn pull_one(
    store: &Store,
    cfg: &Config,
    r: &Reference,
    opts: &PullOptions,
    progress: &Progress,
    quiet: bool,
    typed: &str,
) -> Result<()> {
    let defaulted = !typed.contains('@') && !typed.rsplit('/').next().unwrap_or("").contains(':');
    if defaulted && !quiet {
        println!("Using default tag: latest");
    }
    let client = client_for(cfg, r, &opts.registry)?;
    let pulled = pull_with(store, &client, r, opts, progress)?;
    store.event("image", "pull", &r.to_string(), &[("name", &r.to_string())]);
    if !quiet {
        println!("Digest: {}", pulled.digest);
        if pulled.up_to_date {
            println!("Status: Image is up to date for {}", r.familiar());
        } else {
            println!("Status: Downloaded newer image for {}", r.familiar());
        }
    }
    println!("{r}");
    Ok(())
}

fn pull_all_tags(
    store: &Store,
    cfg: &Config,
    r: &Reference,
    opts: &PullOptions,
    progress: &Progress,
    quiet: bool,
) -> Result<()> {
    if r.digest.is_some() || r.tag.as_deref().is_some_and(|t| t != "latest") {
        crate::bail_kind!(InvalidArgument, "tag can't be used with --all-tags/-a");
    }
    let client = client_for(cfg, r, &opts.registry)?;
    let mut tags = client
        .list_tags(&r.path)
        .with_context(|| format!("list tags of {}", r.name()))?;
    tags.sort();
    let mut any_new = false;
    for t in &tags {
        let tr = r.with_tag(t);
        let pulled = pull_with(store, &client, &tr, opts, progress)?;
        any_new |= !pulled.up_to_date;
        if !quiet {
            println!("{t}: Digest: {}", pulled.digest);
        }
    }
    let name = r.familiar_name();
    if !quiet {
        if any_new {
            println!("Status: Downloaded newer image for {name}");
        } else {
            println!("Status: Image is up to date for {name}");
        }
    }
    println!("{}", r.name());
    Ok(())
}
