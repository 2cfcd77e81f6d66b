//! `skiff system df`, `system check` and `system prune`.

use super::format::{render_rows, Format};
use crate::config::Config;
use crate::store::Store;
use crate::util::human;
use anyhow::Result;
use serde_json::json;
use std::collections::HashSet;

#[derive(Debug, clap::Subcommand)]
pub enum SystemCommand {
    /// Show disk usage
    Df(DfArgs),
    /// Check the store for consistency
    Check,
    /// Display system-wide information
    Info(super::info::Args),
    /// Remove unused data: stopped containers, unused networks, dangling images, build cache
    Prune(PruneArgs),
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Prune anonymous volumes
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (label=<key>[=<value>], label!=..., until=<timestamp>)
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct DfArgs {
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Show detailed information on space usage (accepted, summary only)
    #[arg(short, long)]
    pub verbose: bool,
}

pub fn run(cmd: SystemCommand, cfg: &Config) -> Result<i32> {
    match cmd {
        SystemCommand::Df(a) => df(a, cfg),
        SystemCommand::Check => check(cfg),
        SystemCommand::Info(a) => super::info::run(a, cfg),
        SystemCommand::Prune(a) => prune(a, cfg),
    }
}

fn df(args: DfArgs, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let images = store.images()?;
    let mut seen = HashSet::new();
    let mut size = 0u64;
    for img in &images {
        for l in &img.layers {
            if seen.insert(l.clone()) {
                size += store.layer_record(l).map(|r| r.size).unwrap_or(0);
            }
        }
    }
    // No containers exist yet, so every image is reclaimable.
    let pct = |part: u64, total: u64| match (part * 100).checked_div(total) {
        Some(p) => format!("{} ({p}%)", human::size(part)),
        None => "0B".to_string(),
    };
    let rows = vec![
        json!({"Type": "Images", "TotalCount": images.len(), "Active": 0,
               "Size": human::size(size), "Reclaimable": pct(size, size)}),
        json!({"Type": "Containers", "TotalCount": 0, "Active": 0,
               "Size": "0B", "Reclaimable": "0B"}),
        json!({"Type": "Local Volumes", "TotalCount": 0, "Active": 0,
               "Size": "0B", "Reclaimable": "0B"}),
        json!({"Type": "Build Cache", "TotalCount": 0, "Active": 0,
               "Size": "0B", "Reclaimable": "0B"}),
    ];
    let out = render_rows(
        &Format::parse(args.format.as_deref()),
        "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        &[
            ("Type", "TYPE"),
            ("TotalCount", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ],
        &rows,
    )?;
    print!("{out}");
    Ok(0)
}

fn check(cfg: &Config) -> Result<i32> {
    if Store::open_existing(&cfg.root)?.is_none() {
        return Ok(0);
    }
    // Opening cleans what dead processes left behind, as any command would.
    let store = Store::open(&cfg.root)?;
    let problems = store.check()?;
    for p in &problems {
        println!("{p}");
    }
    Ok(if problems.is_empty() { 0 } else { 1 })
}

/// Docker's `system prune`: stopped containers, networks no container
/// uses, dangling (with `-a` every unused) images, the build cache and,
/// with `--volumes`, anonymous volumes no container uses; each part
/// reported as its own command reports it, then the space it all held.
fn prune(a: PruneArgs, cfg: &Config) -> Result<i32> {
    // Every filter is checked before anything is asked or removed.
    let containers = super::container_prune::parse_filters(&a.filter)?;
    let networks = super::network::prune_filters(&a.filter)?;
    let images = super::prune::ImageFilters::parse(&a.filter)?;
    let volumes = a
        .volumes
        .then(|| super::volume::volume_filters(&a.filter))
        .transpose()?;
    let until = images.until();
    let mut warning = String::from(
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
    );
    if a.volumes {
        warning += "  - all anonymous volumes not used by at least one container\n";
    }
    warning += if a.all {
        "  - all images without at least one container associated to them\n  - all build cache\n"
    } else {
        "  - all dangling images\n  - unused build cache\n"
    };
    if !a.force && !super::prune::confirm(&warning) {
        return Ok(0);
    }
    let store = Store::open(&cfg.root)?;
    // Each part reported as soon as it is done, as Docker does: a later
    // part that fails leaves the report of what went.
    let (containers, mut freed) = super::container_prune::prune_containers(&store, &containers)?;
    containers.print()?;
    super::network::prune_networks(&store, &networks)?.print()?;
    if let Some(filters) = &volumes {
        let (s, bytes) = super::volume::prune_volumes(&store, false, filters)?;
        freed += bytes;
        s.print()?;
    }
    super::prune::prune_images(&store, a.all, &images)?.print()?;
    // The cache by age when `until=` is given (its entries carry no
    // labels: label filters alone leave it).
    let labels_only = until.is_none() && !a.filter.is_empty();
    if !labels_only {
        super::build::prune_cache(&store, until)?.print()?;
    }
    freed += store.gc()?.bytes_freed;
    println!("Total reclaimed space: {}", human::size(freed));
    Ok(0)
}
