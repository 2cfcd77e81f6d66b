//! `skiff push`: upload an image from the store to a registry.

use crate::config::Config;
use crate::image::lookup::{find, repo_of};
use crate::image::progress::Progress;
use crate::image::push::{push, PushOptions};
use crate::image::remote::RegistryFlags;
use crate::registry::reference::Reference;
use crate::store::Store;
use anyhow::{Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Push all tags of the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Maximum number of blobs uploaded at once
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_concurrent_uploads: u32,
    /// Upload every blob in chunks of this many bytes
    #[arg(long, hide = true)]
    pub chunk_size: Option<u64>,
    /// Accepted for Docker compatibility; image signing is not supported
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "true")]
    pub disable_content_trust: Option<bool>,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// The image to push: NAME[:TAG]
    pub image: String,
    /// Push to this reference instead of the image's own name
    pub destination: Option<String>,
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let images = store.images()?;
    let opts = PushOptions {
        registry: args.registry.clone(),
        max_concurrent: args.max_concurrent_uploads as usize,
        chunk_size: args.chunk_size,
    };
    let progress = Progress::for_stderr(args.quiet);
    let mut jobs = Vec::new();
    if args.all_tags {
        let r = Reference::parse(&args.image)?;
        for img in &images {
            for n in &img.names {
                if repo_of(n) == r.name() {
                    jobs.push((img.clone(), Reference::parse(n)?));
                }
            }
        }
        if jobs.is_empty() {
            crate::bail_kind!(NotFound, "No such image: {}", args.image);
        }
    } else {
        let img = find(&images, cfg, &args.image)?;
        let dest = args.destination.as_deref().unwrap_or(&args.image);
        let target = Reference::parse(dest).with_context(|| format!("push {dest}"))?;
        jobs.push((img.clone(), target));
    }
    let repo = jobs[0].1.name();
    if !args.quiet {
        println!("The push refers to repository [{repo}]");
    }
    for (img, target) in jobs {
        let pushed = push(&store, cfg, &img, &target, &opts, &progress)
            .with_context(|| format!("push {target}"))?;
        if args.quiet {
            println!("{target}");
        } else {
            println!(
                "{}: digest: {} size: {}",
                target.tag.as_deref().unwrap_or("latest"),
                pushed.digest,
                pushed.size
            );
        }
    }
    Ok(0)
}
