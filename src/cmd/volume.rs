//! `skiff volume create|ls|inspect|rm|prune`.

use super::format::{render, render_rows, Format};
use super::prune::confirm;
use crate::config::Config;
use crate::store::Store;
use crate::util::human;
use anyhow::Result;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, clap::Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused volumes
    Prune(PruneArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Volume driver name (only "local")
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short, long = "opt")]
    pub opt: Vec<String>,
    /// Specify volume name
    #[arg(long = "name")]
    pub name_flag: Option<String>,
    /// The volume name (a random one when absent)
    pub name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Provide filter values (dangling=, driver=, label=, name=)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (label=)
    #[arg(long)]
    pub filter: Vec<String>,
}

/// `volume prune`'s filters: `label=K[=V]`, `label!=K[=V]`, `all=true`.
pub struct VolumeFilters {
    labels: Vec<(String, String, bool)>,
    all: bool,
}

pub fn volume_filters(filters: &[String]) -> Result<VolumeFilters> {
    let mut out = VolumeFilters {
        labels: Vec::new(),
        all: false,
    };
    for f in filters {
        let (k, v) = f.split_once('=').unwrap_or((f, ""));
        let (lk, lv) = v.split_once('=').unwrap_or((v, ""));
        match k {
            "label" => out.labels.push((lk.to_string(), lv.to_string(), true)),
            "label!" => out.labels.push((lk.to_string(), lv.to_string(), false)),
            "all" if matches!(v, "true" | "1") => out.all = true,
            "all" if matches!(v, "false" | "0") => {}
            _ => crate::bail_kind!(
                InvalidArgument,
                "invalid filter {f:?}: volumes take label=, label!= and all="
            ),
        }
    }
    Ok(out)
}

/// Remove the volumes no container uses (anonymous ones only, unless
/// `all`) that carry the `label=` filters' labels; the report's part
/// and the bytes they held.
pub fn prune_volumes(
    store: &Store,
    all: bool,
    filters: &VolumeFilters,
) -> Result<(super::prune::Section, u64)> {
    let all = all || filters.all;
    let mut freed = 0;
    let mut removed = Vec::new();
    let containers = store.containers()?;
    for v in store.volumes()? {
        if containers.iter().any(|c| c.volumes.contains(&v.name)) {
            continue;
        }
        let labelled = |(k, val, want): &(String, String, bool)| {
            let val = Some(val.as_str()).filter(|s| !s.is_empty());
            crate::util::labels::has(&v.labels, k, val) == *want
        };
        if (all || v.anonymous) && filters.labels.iter().all(labelled) {
            let size = store.volume_size(&v.name);
            match store.remove_volume(&v.name) {
                Ok(_) => {
                    freed += size;
                    removed.push(v.name);
                }
                Err(e) => eprintln!("skiff: {e:#}"),
            }
        }
    }
    Ok((
        super::prune::Section {
            title: "Deleted Volumes",
            lines: removed,
        },
        freed,
    ))
}

/// `KEY=VALUE` flags (`--label`, `--opt`) as a map; a bare `KEY` maps to "".
pub fn kv(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// A random 64-hex name, as Docker gives anonymous volumes.
pub fn random_name() -> String {
    let mut buf = [0u8; 32];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        buf[..16].copy_from_slice(&t.as_nanos().to_le_bytes());
        buf[16..20].copy_from_slice(&std::process::id().to_le_bytes());
    }
    hex::encode(buf)
}

pub fn run(cmd: VolumeCommand, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    match cmd {
        VolumeCommand::Create(a) => {
            if a.driver != "local" {
                crate::bail_kind!(
                    InvalidArgument,
                    "create volume: driver {:?} is not supported (only \"local\")",
                    a.driver
                );
            }
            if a.name.is_some() && a.name_flag.is_some() && a.name != a.name_flag {
                crate::bail_kind!(InvalidArgument, "conflicting options: either specify --name or provide positional arg, not both");
            }
            // A volume made without a name is anonymous, as Docker marks it:
            // `volume prune` without -a removes it.
            let anonymous = a.name.is_none() && a.name_flag.is_none();
            let name = a.name.or(a.name_flag).unwrap_or_else(random_name);
            let (rec, _) = store.create_volume(&name, kv(&a.label), kv(&a.opt), anonymous)?;
            println!("{}", rec.name);
        }
        VolumeCommand::Ls(a) => {
            let mut rows = Vec::new();
            let containers = store.containers()?;
            for v in store.volumes()? {
                let in_use = containers.iter().any(|c| c.volumes.contains(&v.name));
                let keep = a.filter.iter().all(|f| match f.split_once('=') {
                    Some(("name", n)) => v.name.contains(n),
                    Some(("driver", d)) => v.driver == d,
                    Some(("label", l)) => match l.split_once('=') {
                        Some((k, val)) => v.labels.get(k).is_some_and(|x| x == val),
                        None => v.labels.contains_key(l),
                    },
                    Some(("dangling", d)) => matches!(d, "true" | "1") != in_use,
                    _ => false,
                });
                if keep {
                    rows.push(json!({
                        "Driver": v.driver, "Name": v.name, "Mountpoint": v.mountpoint,
                        "Labels": v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                        "Scope": v.scope, "Links": "N/A", "Size": "N/A",
                    }));
                }
            }
            if a.quiet {
                for r in &rows {
                    println!("{}", r["Name"].as_str().unwrap_or(""));
                }
                return Ok(0);
            }
            print!(
                "{}",
                render_rows(
                    &Format::parse(a.format.as_deref()),
                    "{{.Driver}}\t{{.Name}}",
                    &[
                        ("Driver", "DRIVER"),
                        ("Name", "VOLUME NAME"),
                        ("Mountpoint", "MOUNTPOINT"),
                        ("Labels", "LABELS"),
                        ("Scope", "SCOPE")
                    ],
                    &rows,
                )?
            );
        }
        VolumeCommand::Inspect(a) => {
            let mut out = Vec::new();
            let mut missing = None;
            for n in &a.names {
                match store.volume(n)? {
                    Some(v) => out.push(serde_json::to_value(&v)?),
                    None => {
                        missing.get_or_insert_with(|| {
                            crate::error::kind_err(
                                crate::ErrorKind::NotFound,
                                format!("get {n}: no such volume"),
                            )
                        });
                    }
                }
            }
            match &a.format {
                Some(f) if f != "json" => {
                    for v in &out {
                        println!("{}", render(f, v)?);
                    }
                }
                _ => println!("{}", serde_json::to_string_pretty(&Value::Array(out))?),
            }
            if let Some(e) = missing {
                return Err(e);
            }
        }
        VolumeCommand::Rm(a) => {
            let mut errors = Vec::new();
            let containers = store.containers()?;
            for n in &a.names {
                if let Some(c) = containers.iter().find(|c| c.volumes.contains(n)) {
                    errors.push(crate::error::kind_err(
                        crate::ErrorKind::InvalidState,
                        format!("remove {n}: volume is in use - [{}]", c.id),
                    ));
                    continue;
                }
                match store.remove_volume(n) {
                    Ok(_) => println!("{n}"),
                    // -f: a missing volume is not an error, as in Docker.
                    Err(e)
                        if a.force
                            && crate::error::kind_of(&e) == Some(crate::ErrorKind::NotFound) => {}
                    Err(e) => errors.push(e),
                }
            }
            let last = errors.pop();
            for e in errors {
                eprintln!("skiff: {e:#}");
            }
            if let Some(e) = last {
                return Err(e);
            }
        }
        VolumeCommand::Prune(a) => {
            let filters = volume_filters(&a.filter)?;
            let warning = if a.all {
                "WARNING! This will remove all local volumes not used by at least one container."
            } else {
                "WARNING! This will remove anonymous local volumes not used by at least one container."
            };
            if !a.force && !confirm(warning) {
                return Ok(0);
            }
            let (section, freed) = prune_volumes(&store, a.all, &filters)?;
            section.print()?;
            println!("Total reclaimed space: {}", human::size(freed));
        }
    }
    Ok(0)
}
