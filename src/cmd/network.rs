//! `skiff network create|ls|inspect|rm|prune|connect|disconnect`: the
//! records and address leases in the store, shown as Docker shows them.
//! Joining containers to networks is `run --network` and `network
//! connect` (`container::networks`).

use super::format::{render, render_rows, Format};
use super::prune::{confirm, Section};
use super::volume::kv;
use crate::config::Config;
use crate::error::{kind_err, kind_of, ErrorKind};
use crate::store::{NetworkRecord, NetworkSpec, Store};
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

#[derive(Debug, clap::Subcommand)]
pub enum NetworkCommand {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
}

#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long)]
    pub alias: Vec<String>,
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long)]
    pub ip: Option<String>,
    pub network: String,
    pub container: String,
}

#[derive(Debug, clap::Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Driver to manage the Network (only "bridge")
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long)]
    pub subnet: Option<String>,
    /// IPv4 Gateway for the master subnet
    #[arg(long)]
    pub gateway: Option<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Set metadata on a network
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short, long = "opt")]
    pub opt: Vec<String>,
    /// Allocate container IPs from a sub-range
    #[arg(long)]
    pub ip_range: Option<String>,
    /// Auxiliary IPv4 addresses used by Network driver (NAME=IP)
    #[arg(long, value_name = "NAME=IP")]
    pub aux_address: Vec<String>,
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// IP Address Management Driver (only "default")
    #[arg(long, default_value = "default")]
    pub ipam_driver: String,
    /// Set IPAM driver specific options
    #[arg(long)]
    pub ipam_opt: Vec<String>,
    /// Enable or disable IPv6 networking (IPv6 is not supported)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true,
          value_name = "BOOL")]
    pub ipv6: Option<bool>,
    pub name: String,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Provide filter values (driver=, id=, label=, name=, scope=, type=custom|builtin)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only display network IDs
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
    /// Do not error if the network does not exist
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (label=<key>[=<value>], label!=..., until=<timestamp>)
    #[arg(long)]
    pub filter: Vec<String>,
}

pub fn run(cmd: NetworkCommand, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    match cmd {
        NetworkCommand::Create(a) => create(&store, a),
        NetworkCommand::Ls(a) => ls(&store, a),
        NetworkCommand::Inspect(a) => inspect(&store, a),
        NetworkCommand::Rm(a) => rm(&store, a),
        NetworkCommand::Prune(a) => prune(&store, a),
        NetworkCommand::Connect(a) => {
            let ip =
                a.ip.as_deref()
                    .map(|ip| crate::runtime::opts::net::parse_ip_flag("ip", ip))
                    .transpose()?;
            let opts = crate::container::networks::ConnectOptions {
                aliases: a.alias,
                ip,
            };
            crate::container::networks::connect(&store, &a.network, &a.container, opts)?;
            Ok(0)
        }
        NetworkCommand::Disconnect(a) => {
            crate::container::networks::disconnect(&store, &a.network, &a.container, a.force)?;
            Ok(0)
        }
    }
}

fn create(store: &Store, a: CreateArgs) -> Result<i32> {
    if a.ipv6 == Some(true) {
        return Err(kind_err(
            ErrorKind::InvalidArgument,
            "IPv6 networks are not supported: skiff's networks are IPv4 only",
        ));
    }
    for aux in &a.aux_address {
        if !aux.contains('=') {
            return Err(kind_err(
                ErrorKind::InvalidArgument,
                format!("invalid aux-address {aux:?}: expected NAME=IP"),
            ));
        }
    }
    let rec = store.create_network(&NetworkSpec {
        name: a.name,
        driver: a.driver,
        subnet: a.subnet,
        gateway: a.gateway,
        internal: a.internal,
        labels: kv(&a.label),
        options: kv(&a.opt),
        ip_range: a.ip_range,
        aux_addresses: kv(&a.aux_address),
        attachable: a.attachable,
        ipam_driver: a.ipam_driver,
        ipam_options: kv(&a.ipam_opt),
    })?;
    println!("{}", rec.id);
    Ok(0)
}

fn bad_filter(f: &str) -> anyhow::Error {
    kind_err(ErrorKind::InvalidArgument, format!("invalid filter '{f}'"))
}

/// `label=KEY` or `label=KEY=VALUE` against a network's labels.
fn has_label(rec: &NetworkRecord, want: &str) -> bool {
    let (k, v) = want
        .split_once('=')
        .map_or((want, None), |(k, v)| (k, Some(v)));
    crate::util::labels::has(&rec.labels, k, v)
}

/// `network ls --filter`: values of one key are alternatives, keys all
/// have to match (Docker's rule).
struct LsFilter(Vec<(String, String)>);

impl LsFilter {
    fn parse(filters: &[String]) -> Result<LsFilter> {
        let mut out = Vec::new();
        for f in filters {
            let (k, v) = f.split_once('=').ok_or_else(|| bad_filter(f))?;
            match k {
                "name" | "id" | "label" | "driver" | "scope" => {}
                "type" if matches!(v, "custom" | "builtin") => {}
                "type" => {
                    return Err(kind_err(
                        ErrorKind::InvalidArgument,
                        format!("invalid filter 'type={v}': the type is custom or builtin"),
                    ))
                }
                _ => return Err(bad_filter(k)),
            }
            out.push((k.to_string(), v.to_string()));
        }
        Ok(LsFilter(out))
    }

    fn keeps(&self, rec: &NetworkRecord) -> bool {
        let one = |k: &str, v: &str| match k {
            "name" => rec.name.contains(v),
            "id" => rec.id.contains(v),
            "label" => has_label(rec, v),
            "driver" => rec.driver == v,
            "scope" => v == "local",
            "type" => (v == "builtin") == rec.is_predefined(),
            _ => false,
        };
        let mut keys: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        keys.dedup();
        keys.iter().all(|key| {
            self.0
                .iter()
                .filter(|(k, _)| k == key)
                .any(|(k, v)| one(k, v))
        })
    }
}

fn ls(store: &Store, a: LsArgs) -> Result<i32> {
    let filter = LsFilter::parse(&a.filter)?;
    let mut rows = Vec::new();
    for rec in store.networks()? {
        if !filter.keeps(&rec) {
            continue;
        }
        let id = if a.no_trunc {
            rec.id.clone()
        } else {
            rec.id.chars().take(12).collect()
        };
        let created = super::images::parse_time(Some(&rec.created))
            .map(|t| super::images::created_at(&t))
            .unwrap_or_default();
        rows.push(json!({
            "ID": id,
            "Name": rec.name,
            "Driver": rec.driver,
            "Scope": "local",
            "IPv6": "false",
            "Internal": rec.internal.to_string(),
            "Labels": rec.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            "CreatedAt": created,
        }));
    }
    if a.quiet {
        let ids: String = rows
            .iter()
            .map(|r| format!("{}\n", r["ID"].as_str().unwrap_or("")))
            .collect();
        return super::format::print_out(&ids).map(|_| 0);
    }
    let text = render_rows(
        &Format::parse(a.format.as_deref()),
        "{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
        &[
            ("ID", "NETWORK ID"),
            ("Name", "NAME"),
            ("Driver", "DRIVER"),
            ("Scope", "SCOPE"),
            ("IPv6", "IPV6"),
            ("Internal", "INTERNAL"),
            ("Labels", "LABELS"),
            ("CreatedAt", "CREATED AT"),
        ],
        &rows,
    )?;
    super::format::print_out(&text)?;
    Ok(0)
}

/// Docker's `network inspect` object for one network.
fn inspect_json(store: &Store, rec: &NetworkRecord) -> Result<Value> {
    let prefix = rec.ipv4_subnet().map(|s| s.prefix());
    let mut containers = Map::new();
    if let Some(prefix) = prefix {
        for l in store.leases(&rec.name)? {
            containers.insert(
                l.container_id.clone(),
                json!({
                    "Name": l.name,
                    "EndpointID": l.endpoint_id(&rec.id),
                    // As the container's interface has it (`--mac-address`).
                    "MacAddress": store
                        .container(&l.container_id)
                        .ok()
                        .flatten()
                        .and_then(|c| c.state.endpoints.get(&rec.name).map(|e| e.mac.clone()))
                        .unwrap_or_else(|| l.mac_address()),
                    "IPv4Address": format!("{}/{prefix}", l.ip),
                    "IPv6Address": "",
                }),
            );
        }
    }
    let config: Vec<Value> = if rec.subnet.is_empty() {
        Vec::new()
    } else {
        let mut c = json!({"Subnet": rec.subnet, "Gateway": rec.gateway});
        if !rec.ip_range.is_empty() {
            c["IPRange"] = json!(rec.ip_range);
        }
        if !rec.aux_addresses.is_empty() {
            c["AuxiliaryAddresses"] = json!(rec.aux_addresses);
        }
        vec![c]
    };
    Ok(json!({
        "Name": rec.name,
        "Id": rec.id,
        "Created": super::inspect::container::docker_time(Some(&rec.created)),
        "Scope": "local",
        "Driver": rec.driver,
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": rec.ipam_options, "Config": config},
        "Internal": rec.internal,
        "Attachable": rec.attachable,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": rec.options,
        "Labels": rec.labels,
    }))
}

fn inspect(store: &Store, a: InspectArgs) -> Result<i32> {
    let mut out = Vec::new();
    let mut missing = None;
    for n in &a.names {
        match store.find_network(n) {
            Ok(rec) => out.push(inspect_json(store, &rec)?),
            Err(e) if kind_of(&e) == Some(ErrorKind::NotFound) => {
                missing.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    let text = match &a.format {
        Some(f) if f != "json" => {
            let mut s = String::new();
            for v in &out {
                s.push_str(&render(f, v)?);
                s.push('\n');
            }
            s
        }
        _ => format!("{}\n", serde_json::to_string_pretty(&Value::Array(out))?),
    };
    super::format::print_out(&text)?;
    match missing {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

fn rm(store: &Store, a: RmArgs) -> Result<i32> {
    let mut errors = Vec::new();
    for n in &a.names {
        match store.remove_network(n) {
            Ok(rec) => {
                crate::network::setup::remove_bridge(store, &rec);
                println!("{n}")
            }
            // -f: a missing network is not an error, as in Docker.
            Err(e) if a.force && kind_of(&e) == Some(ErrorKind::NotFound) => {}
            Err(e) => errors.push(e),
        }
    }
    let last = errors.pop();
    for e in errors {
        eprintln!("skiff: {e:#}");
    }
    match last {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// One `network prune --filter`.
pub enum PruneFilter {
    /// `label=` (true) or `label!=` (false).
    Label(String, bool),
    Until(DateTime<Utc>),
}

impl PruneFilter {
    fn parse(f: &str) -> Result<PruneFilter> {
        let (k, v) = f.split_once('=').ok_or_else(|| bad_filter(f))?;
        match k {
            "label" => Ok(PruneFilter::Label(v.to_string(), true)),
            "label!" => Ok(PruneFilter::Label(v.to_string(), false)),
            "until" => crate::util::timespec::parse(v, Utc::now())
                .map(PruneFilter::Until)
                .map_err(|e| kind_err(ErrorKind::InvalidArgument, format!("{e:#}"))),
            _ => Err(bad_filter(k)),
        }
    }

    fn keeps(&self, rec: &NetworkRecord) -> bool {
        match self {
            PruneFilter::Label(l, want) => has_label(rec, l) != *want,
            PruneFilter::Until(t) => {
                super::images::parse_time(Some(&rec.created)).is_none_or(|c| c >= *t)
            }
        }
    }
}

/// `--filter`s of `network prune` (and `system prune`).
pub fn prune_filters(filters: &[String]) -> Result<Vec<PruneFilter>> {
    filters.iter().map(|f| PruneFilter::parse(f)).collect()
}

/// Remove the user networks no container uses and `filters` do not
/// keep; the report's part.
pub fn prune_networks(store: &Store, filters: &[PruneFilter]) -> Result<Section> {
    let mut deleted = Vec::new();
    for rec in store.networks()? {
        if rec.is_predefined() || filters.iter().any(|f| f.keeps(&rec)) {
            continue;
        }
        match store.remove_network(&rec.id) {
            Ok(gone) => {
                crate::network::setup::remove_bridge(store, &gone);
                deleted.push(rec.name)
            }
            // In use, or gone since the listing: not for pruning.
            Err(e)
                if matches!(
                    kind_of(&e),
                    Some(ErrorKind::InvalidState | ErrorKind::NotFound)
                ) => {}
            Err(e) => eprintln!("skiff: {e:#}"),
        }
    }
    Ok(Section {
        title: "Deleted Networks",
        lines: deleted,
    })
}

fn prune(store: &Store, a: PruneArgs) -> Result<i32> {
    let filters = prune_filters(&a.filter)?;
    if !a.force
        && !confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )
    {
        return Ok(0);
    }
    prune_networks(store, &filters)?.print()?;
    Ok(0)
}
