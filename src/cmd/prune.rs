//! `skiff image prune`: remove dangling (or, with -a, unused) images.

use crate::config::Config;
use crate::image::lookup::familiar_name;
use crate::store::Store;
use crate::util::human;
use anyhow::Result;
use std::io::{BufRead, Write};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (label=<key>[=<value>])
    #[arg(long)]
    pub filter: Vec<String>,
}

/// Ask "Are you sure" the way Docker does; false unless the user says y.
pub fn confirm(warning: &str) -> bool {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim().to_lowercase().as_str(), "y" | "yes")
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !args.force && !confirm(warning) {
        return Ok(0);
    }
    let mut labels = Vec::new();
    for f in &args.filter {
        match f.split_once('=') {
            Some(("label", v)) => labels.push(match v.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (v.to_string(), None),
            }),
            _ => crate::bail_kind!(
                InvalidArgument,
                "invalid filter {f:?}: only label= is supported"
            ),
        }
    }
    let store = Store::open(&cfg.root)?;
    // Images a container uses are never "unused", tagged or not.
    let used: Vec<_> = store
        .containers()?
        .into_iter()
        .map(|c| c.image_id)
        .collect();
    let removed = store.update_images(|images| {
        let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(images).into_iter().partition(|i| {
            !used.contains(&i.id)
                && (args.all || i.names.is_empty())
                && labels.iter().all(|(k, v)| match (i.labels.get(k), v) {
                    (Some(_), None) => true,
                    (Some(a), Some(b)) => a == b,
                    _ => false,
                })
        });
        *images = keep;
        Ok(gone)
    })?;
    let report = store.gc()?;
    if !removed.is_empty() {
        println!("Deleted Images:");
        for img in &removed {
            for n in img.names.iter().chain(&img.repo_digests) {
                println!("untagged: {}", familiar_name(n));
            }
            println!("deleted: {}", img.id);
        }
        println!();
    }
    println!("Total reclaimed space: {}", human::size(report.bytes_freed));
    Ok(0)
}
