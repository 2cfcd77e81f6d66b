//! `skiff container prune`: remove every stopped container.

use super::prune::{confirm, Section};
use crate::config::Config;
use crate::container::{ops, state};
use crate::store::Store;
use crate::util::human;
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (label=<key>[=<value>], label!=..., until=<timestamp>)
    #[arg(long)]
    pub filter: Vec<String>,
}

/// One `--filter` of `container prune`.
pub enum Filter {
    Label(String, Option<String>, bool),
    Until(chrono::DateTime<chrono::Utc>),
}

fn parse_filter(f: &str) -> Result<Filter> {
    let bad = || {
        crate::error::kind_err(
            crate::error::ErrorKind::InvalidArgument,
            format!("invalid filter {f:?}: expected label=, label!= or until="),
        )
    };
    let (key, value) = f.split_once('=').ok_or_else(bad)?;
    let kv = |v: &str| match v.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (v.to_string(), None),
    };
    match key {
        "label" => {
            let (k, v) = kv(value);
            Ok(Filter::Label(k, v, true))
        }
        "label!" => {
            let (k, v) = kv(value);
            Ok(Filter::Label(k, v, false))
        }
        "until" => Ok(Filter::Until(
            crate::util::timespec::parse(value, chrono::Utc::now()).map_err(|_| bad())?,
        )),
        _ => Err(bad()),
    }
}

/// `--filter`s of `container prune` (and `system prune`).
pub fn parse_filters(filters: &[String]) -> Result<Vec<Filter>> {
    filters.iter().map(|f| parse_filter(f)).collect()
}

/// Remove the stopped containers `filters` do not keep; the report's
/// part, and the bytes their own layers held.
pub fn prune_containers(store: &Store, filters: &[Filter]) -> Result<(Section, u64)> {
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for rec in state::list(store)? {
        // Running, or still being made (a build's step, a `run` between
        // its create and its start): not stopped.
        if matches!(
            rec.state.status.as_str(),
            "running" | "restarting" | "paused"
        ) || rec.build
            || store.being_made(&rec)
        {
            continue;
        }
        let created = super::images::parse_time(Some(&rec.created));
        let keep = filters.iter().any(|f| match f {
            Filter::Label(k, v, want) => {
                crate::util::labels::has(&rec.labels, k, v.as_deref()) != *want
            }
            Filter::Until(t) => created.is_none_or(|c| c >= *t),
        });
        if keep {
            continue;
        }
        let size = crate::util::fs::tree_size(&store.container_dir(&rec.id).join("upper"));
        match ops::remove(store, &rec, false, false) {
            Ok(()) => {
                reclaimed += size;
                deleted.push(rec.id.clone());
            }
            Err(e) => eprintln!("skiff: {e:#}"),
        }
    }
    Ok((
        Section {
            title: "Deleted Containers",
            lines: deleted,
        },
        reclaimed,
    ))
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let filters = parse_filters(&args.filter)?;
    if !args.force && !confirm("WARNING! This will remove all stopped containers.") {
        return Ok(0);
    }
    let store = Store::open(&cfg.root)?;
    let (section, reclaimed) = prune_containers(&store, &filters)?;
    section.print()?;
    println!("Total reclaimed space: {}", human::size(reclaimed));
    Ok(0)
}
