//! `skiff commit`: a new image from a container's changes.

use crate::config::Config;
use crate::container::commit::{commit, CommitOptions};
use crate::container::state::find;
use crate::registry::reference::Reference;
use crate::store::Store;
use anyhow::{Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(
        short,
        long,
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub pause: bool,
    /// The container
    pub container: String,
    /// REPOSITORY[:TAG] for the new image
    pub reference: Option<String>,
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let name = match &args.reference {
        Some(r) => {
            let r = Reference::parse(r).with_context(|| format!("commit {r}"))?;
            if r.digest.is_some() {
                crate::bail_kind!(
                    InvalidArgument,
                    "commit: a reference with a digest cannot name a new image"
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
    let store = Store::open(&cfg.root)?;
    let rec = find(&store, &args.container)?;
    let opts = CommitOptions {
        author: args.author.clone(),
        message: args.message.clone(),
        changes: args.change.clone(),
        name,
    };
    let made = || commit(&store, &rec, &opts);
    let img = if args.pause && rec.state.status == "running" {
        crate::container::ops::frozen_during(&store, &rec, made)
    } else {
        made()
    }
    .with_context(|| format!("commit {}", args.container))?;
    println!("{}", img.id);
    Ok(0)
}
