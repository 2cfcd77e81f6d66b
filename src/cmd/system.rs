//! `skiff system df` and `skiff system check`.

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
    /// Remove unused data (dangling images and unreferenced blobs)
    Prune(super::prune::Args),
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
        SystemCommand::Prune(a) => super::prune::run(a, cfg),
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
