//! What `skiff run`'s flags mean: [`RunFlags`] holds them as typed,
//! [`RunOpts`] parsed and validated. Each parser returns a one-line error in
//! Docker's words with [`ErrorKind::InvalidArgument`]; nothing here touches
//! the file system (files are read through [`FlagContext::read_file`]).

pub mod blkio;
pub mod env;
pub mod life;
pub mod mounts;
pub mod net;
pub mod ports;
pub mod resources;
pub mod security;
pub mod share;
pub mod units;
pub mod update;
pub mod userns;

pub use env::EnvVar;
pub use mounts::{MountKind, MountOrigin, MountRequest, Propagation};
pub use net::{ExtraHost, NetworkMode};
pub use security::{CapName, DeviceRequest, SeccompChoice, SecurityOpts, Ulimit};
pub use units::{parse_signal, parse_size, PullPolicy};

use crate::error::{kind_err, ErrorKind};
use crate::registry::platform::Platform;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

/// An invalid-argument error (exit code 125).
pub(crate) fn bad(msg: impl Into<String>) -> anyhow::Error {
    kind_err(ErrorKind::InvalidArgument, msg)
}

/// Docker's warning for `-p` with `--network host`, printed as is.
pub const HOST_PORTS_NOTE: &str =
    "WARNING: Published ports are discarded when using host network mode";

/// `skiff run`'s flags as the command line gave them, before any parsing.
#[derive(Debug, Clone, Default)]
pub struct RunFlags {
    pub image: String,
    pub command: Vec<String>,
    pub name: Option<String>,
    pub rm: bool,
    pub interactive: bool,
    pub tty: bool,
    pub init: bool,
    pub read_only: bool,
    pub privileged: bool,
    pub cgroupns: Option<String>,
    pub userns: Option<String>,
    pub uidmap: Vec<String>,
    pub gidmap: Vec<String>,
    pub env: Vec<String>,
    pub env_file: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub group_add: Vec<String>,
    pub entrypoint: Option<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub pid: Option<String>,
    pub ipc: Option<String>,
    pub uts: Option<String>,
    pub oom_score_adj: Option<i32>,
    pub device_cgroup_rule: Vec<String>,
    pub volume: Vec<String>,
    pub volumes_from: Vec<String>,
    pub mount: Vec<String>,
    pub tmpfs: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub ulimit: Vec<String>,
    pub sysctl: Vec<String>,
    pub device: Vec<String>,
    pub shm_size: Option<String>,
    pub add_host: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    pub network: Vec<String>,
    pub network_alias: Vec<String>,
    pub ip: Option<String>,
    /// `-p`, `-P`, `--expose`.
    pub publish: Vec<String>,
    pub publish_all: bool,
    pub expose: Vec<String>,
    pub mac_address: Option<String>,
    pub label: Vec<String>,
    pub label_file: Vec<String>,
    pub stop_signal: Option<String>,
    pub pull: Option<String>,
    pub platform: Option<String>,
    pub detach: bool,
    pub restart: Option<String>,
    pub log_driver: Option<String>,
    pub log_opt: Vec<String>,
    pub stop_timeout: Option<i64>,
    pub health: life::HealthFlags,
    pub resources: resources::ResourceFlags,
}

/// What parsing needs from the world, passed in so parsing stays pure.
pub struct FlagContext<'a> {
    /// skiff's own environment, for `-e KEY` and bare keys in env files.
    pub lookup_env: &'a dyn Fn(&str) -> Option<String>,
    /// Reads `--env-file` and `--label-file` files.
    pub read_file: &'a dyn Fn(&Path) -> Result<String>,
    /// Relative bind sources (`-v ./src:/src`) are taken from here.
    pub cwd: &'a Path,
}

/// Everything `skiff run`'s flags mean, parsed and validated.
#[derive(Debug, Clone, Default)]
pub struct RunOpts {
    pub image: String,
    /// The command after the image (replaces the image's `Cmd`).
    pub command: Vec<String>,
    /// `--entrypoint`: `Some(vec![])` for `--entrypoint ""` (clear the
    /// image's), `Some(vec![path])` otherwise.
    pub entrypoint: Option<Vec<String>>,
    pub name: Option<String>,
    pub rm: bool,
    pub interactive: bool,
    pub tty: bool,
    pub init: bool,
    pub read_only: bool,
    pub privileged: bool,
    /// `--cgroupns host`: the host's cgroup namespace (private otherwise,
    /// on every layout; Docker keeps the host's on v1 only for old
    /// kernels' sake).
    pub cgroupns_host: bool,
    /// `--userns`, `--uidmap` and `--gidmap`.
    pub userns: userns::UsernsMode,
    /// Env files first, then `-e`, in command-line order.
    pub env: Vec<EnvVar>,
    /// Absolute and cleaned.
    pub workdir: Option<String>,
    /// `name|uid[:group|gid]`, resolved later against the image's files.
    pub user: Option<String>,
    pub group_add: Vec<String>,
    pub hostname: Option<String>,
    /// `--domainname`: the UTS namespace's domain name.
    pub domainname: Option<String>,
    /// `--pid`, `--ipc`, `--uts`: namespaces shared with the host or
    /// another container.
    pub shares: share::Shares,
    /// `--oom-score-adj`: the container process's OOM score adjustment.
    pub oom_score_adj: Option<i32>,
    /// `--volumes-from`: containers whose volumes and binds it mounts too,
    /// each read-only, read-write, or as they are there (`None`).
    pub volumes_from: Vec<(String, Option<bool>)>,
    /// `-v`, then `--mount`, then `--tmpfs`.
    pub mounts: Vec<MountRequest>,
    pub cap_add: Vec<CapName>,
    pub cap_drop: Vec<CapName>,
    pub security: SecurityOpts,
    pub ulimits: Vec<Ulimit>,
    pub sysctls: BTreeMap<String, String>,
    pub devices: Vec<DeviceRequest>,
    /// `--device-cgroup-rule`: more device rules, allowed after the
    /// defaults.
    pub device_cgroup_rules: Vec<security::DeviceCgroupRule>,
    /// Bytes; `None` means Docker's 64 MiB.
    pub shm_size: Option<u64>,
    pub extra_hosts: Vec<ExtraHost>,
    pub dns: Vec<IpAddr>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub network: NetworkMode,
    /// The bridge networks joined, first the default route's, with their
    /// aliases, addresses and MACs; none but with a bridge mode.
    pub networks: Vec<net::NetAttach>,
    /// `-p`: the bindings, ranges expanded.
    pub ports: Vec<crate::store::ports::PortBinding>,
    /// `-P`.
    pub publish_all: bool,
    /// `--expose` and the `-p` ports: Docker's keys (`80/tcp`).
    pub expose: Vec<String>,
    /// Label files first, then `--label`.
    pub labels: BTreeMap<String, String>,
    /// A signal number.
    pub stop_signal: Option<i32>,
    pub pull: PullPolicy,
    pub platform: Option<Platform>,
    /// `-d`: under a monitor, in the background.
    pub detach: bool,
    pub restart: crate::store::RestartPolicy,
    pub log: crate::store::LogConfig,
    /// `--stop-timeout` seconds (negative: wait forever, as Docker's -1).
    pub stop_timeout: Option<i64>,
    /// The `--health-*` flags (`None`: the image's check, if any).
    pub healthcheck: Option<crate::image::config::HealthConfig>,
    /// `--memory`, `--cpus`, `--pids-limit`, ... and `--cgroup-parent`.
    pub resources: resources::Resources,
}

/// Wrap a flag value's error the way Docker's CLI (pflag) reports it.
fn for_flag<T>(flag: &str, value: &str, r: Result<T>) -> Result<T> {
    r.with_context(|| format!("invalid argument \"{value}\" for \"{flag}\" flag"))
}

fn each<T>(flag: &str, values: &[String], parse: impl Fn(&str) -> Result<T>) -> Result<Vec<T>> {
    values.iter().map(|v| for_flag(flag, v, parse(v))).collect()
}

/// `-w`: Docker wants an absolute path.
pub fn parse_workdir(s: &str) -> Result<String> {
    if !s.starts_with('/') {
        return Err(bad(format!(
            "the working directory '{s}' is invalid, it needs to be an absolute path"
        )));
    }
    Ok(units::clean_path(s))
}

/// `-u name|uid[:group|gid]`: only the shape is checked here; the names are
/// resolved against the image's `/etc/passwd` and `/etc/group` later.
pub fn parse_user(s: &str) -> Result<String> {
    let (user, group) = s.split_once(':').unwrap_or((s, ""));
    let field_ok = |f: &str| !f.contains(char::is_whitespace);
    if !field_ok(user) || !field_ok(group) || group.contains(':') {
        return Err(bad(format!("invalid user specification: {s:?}")));
    }
    Ok(s.to_string())
}

/// `--group-add`: a group name or gid.
pub fn parse_group_add(s: &str) -> Result<String> {
    if s.is_empty() || s.contains([':', ' ', '\t']) {
        return Err(bad(format!("invalid --group-add value: {s:?}")));
    }
    Ok(s.to_string())
}

impl RunOpts {
    /// Parse and validate every flag, then the rules that involve several.
    pub fn from_flags(flags: &RunFlags, ctx: &FlagContext) -> Result<RunOpts> {
        // Flags end at the image: a flag in its place is one skiff does
        // not know, not an image name.
        if flags.image.starts_with('-') && flags.image.len() > 1 {
            let flag = flags.image.split('=').next().unwrap_or_default();
            return Err(bad(format!("unknown flag: {flag}")));
        }
        let mut o = RunOpts {
            image: flags.image.clone(),
            command: flags.command.clone(),
            rm: flags.rm,
            interactive: flags.interactive,
            tty: flags.tty,
            init: flags.init,
            read_only: flags.read_only,
            privileged: flags.privileged,
            cgroupns_host: match flags.cgroupns.as_deref() {
                None | Some("" | "private") => false,
                Some("host") => true,
                Some(_) => return Err(bad("--cgroupns: invalid CGROUP mode")),
            },
            userns: userns::parse(
                flags.userns.as_deref().unwrap_or(""),
                &flags.uidmap,
                &flags.gidmap,
            )?,
            detach: flags.detach,
            stop_timeout: flags.stop_timeout,
            ..Default::default()
        };
        if o.image.is_empty() {
            return Err(bad("\"skiff run\" requires at least 1 argument"));
        }
        if let Some(n) = &flags.name {
            o.name = Some(units::parse_container_name(n)?);
        }
        for path in &flags.env_file {
            let contents = (ctx.read_file)(Path::new(path))
                .with_context(|| format!("read env file {path}"))?;
            o.env
                .extend(env::parse_env_file(path, &contents, ctx.lookup_env)?);
        }
        o.env.extend(each("--env", &flags.env, |v| {
            env::parse_env(v, ctx.lookup_env)
        })?);
        o.workdir = flags.workdir.as_deref().map(parse_workdir).transpose()?;
        o.user = flags
            .user
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(parse_user)
            .transpose()?;
        o.group_add = each("--group-add", &flags.group_add, parse_group_add)?;
        o.entrypoint = flags.entrypoint.as_ref().map(|e| match e.as_str() {
            "" => Vec::new(),
            _ => vec![e.clone()],
        });
        o.hostname = flags
            .hostname
            .as_deref()
            .map(net::parse_hostname)
            .transpose()?;
        o.domainname = flags
            .domainname
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(net::parse_hostname)
            .transpose()?;
        if let Some(adj) = flags.oom_score_adj {
            if !(-1000..=1000).contains(&adj) {
                return Err(bad(format!(
                    "Invalid value {adj}, range for oom score adj is [-1000, 1000]"
                )));
            }
            o.oom_score_adj = Some(adj);
        }
        for v in &flags.volumes_from {
            o.volumes_from.push(mounts::parse_volumes_from(v)?);
        }
        o.shares = share::parse(
            flags.pid.as_deref(),
            flags.ipc.as_deref(),
            flags.uts.as_deref(),
        )?;
        if o.shares.uts == share::Share::Host && (o.hostname.is_some() || o.domainname.is_some()) {
            return Err(bad("conflicting options: hostname and the UTS mode"));
        }

        for v in &flags.volume {
            o.mounts.push(mounts::parse_volume(v, ctx.cwd)?);
        }
        o.mounts.extend(each("--mount", &flags.mount, |v| {
            mounts::parse_mount(v, ctx.cwd)
        })?);
        for t in &flags.tmpfs {
            o.mounts.push(mounts::parse_tmpfs(t)?);
        }

        o.cap_add = flags
            .cap_add
            .iter()
            .map(|c| security::parse_cap(c))
            .collect::<Result<_>>()?;
        o.cap_drop = flags
            .cap_drop
            .iter()
            .map(|c| security::parse_cap(c))
            .collect::<Result<_>>()?;
        for s in &flags.security_opt {
            security::apply_security_opt(s, &mut o.security)?;
        }
        o.ulimits = each("--ulimit", &flags.ulimit, security::parse_ulimit)?;
        // Docker keeps the last value given for a key.
        o.sysctls = each("--sysctl", &flags.sysctl, security::parse_sysctl)?
            .into_iter()
            .collect();
        o.devices = each("--device", &flags.device, security::parse_device)?;
        o.device_cgroup_rules = flags
            .device_cgroup_rule
            .iter()
            .map(|r| security::parse_device_cgroup_rule(r))
            .collect::<Result<_>>()?;
        if let Some(s) = &flags.shm_size {
            let size = for_flag("--shm-size", s, units::parse_size(s))?;
            o.shm_size = (size > 0).then_some(size);
        }

        o.extra_hosts = each("--add-host", &flags.add_host, net::parse_add_host)?;
        o.dns = each("--dns", &flags.dns, net::parse_dns)?;
        o.dns_search = each("--dns-search", &flags.dns_search, net::parse_dns_search)?;
        o.dns_options = flags.dns_option.clone();
        (o.network, o.networks) = net::resolve_networks(
            &flags.network,
            &flags.network_alias,
            flags.ip.as_deref(),
            flags.mac_address.as_deref(),
        )?;
        if let NetworkMode::Container(_) = o.network {
            // What the joined container's namespace already decides.
            let conflict = if o.hostname.is_some() || o.domainname.is_some() {
                Some("hostname")
            } else if !o.dns.is_empty() || !o.dns_search.is_empty() || !o.dns_options.is_empty() {
                Some("dns")
            } else if !o.extra_hosts.is_empty() {
                Some("custom host-to-IP mapping")
            } else {
                None
            };
            if let Some(c) = conflict {
                return Err(bad(format!(
                    "conflicting options: {c} and the network mode"
                )));
            }
        }
        o.ports = ports::parse_all(&flags.publish)?;
        o.publish_all = flags.publish_all;
        for e in &flags.expose {
            for k in ports::parse_expose(e)? {
                if !o.expose.contains(&k) {
                    o.expose.push(k);
                }
            }
        }
        for b in &o.ports {
            if !o.expose.contains(&b.key()) {
                o.expose.push(b.key());
            }
        }
        if let NetworkMode::Container(_) = o.network {
            // Docker's words: the joined container's ports are its own.
            if !o.ports.is_empty() || o.publish_all {
                return Err(bad(
                    "conflicting options: port publishing and the container type network mode",
                ));
            }
            if !flags.expose.is_empty() {
                return Err(bad(
                    "conflicting options: port exposing and the container type network mode",
                ));
            }
        }

        for path in &flags.label_file {
            let contents = (ctx.read_file)(Path::new(path))
                .with_context(|| format!("read label file {path}"))?;
            o.labels.extend(env::parse_label_file(path, &contents)?);
        }
        o.labels
            .extend(each("--label", &flags.label, env::parse_label)?);
        o.stop_signal = flags
            .stop_signal
            .as_deref()
            .map(units::parse_signal)
            .transpose()?;
        if let Some(p) = &flags.pull {
            o.pull = PullPolicy::parse(p)?;
        }
        if let Some(p) = &flags.platform {
            o.platform = Some(Platform::parse(p).map_err(|e| bad(format!("{e:#}")))?);
        }
        if let Some(r) = &flags.restart {
            o.restart = life::parse_restart(r)?;
        }
        o.log = life::parse_log(flags.log_driver.as_deref(), &flags.log_opt)?;
        o.healthcheck = life::parse_health(&flags.health)?;
        o.resources = resources::Resources::parse(&flags.resources)?;
        o.validate()?;
        Ok(o)
    }

    /// The rules that involve more than one flag.
    pub fn validate(&self) -> Result<()> {
        if self.rm && !self.restart.is_none() {
            return Err(bad("Conflicting options: --restart and --rm"));
        }
        let mut targets: Vec<&str> = Vec::new();
        for m in &self.mounts {
            if targets.contains(&m.target.as_str()) {
                return Err(bad(format!("duplicate mount point: {}", m.target)));
            }
            targets.push(&m.target);
        }
        if self.network == NetworkMode::Host {
            if let Some(k) = self.sysctls.keys().find(|k| k.starts_with("net.")) {
                return Err(bad(format!(
                    "sysctl {k:?} not allowed in host network namespace"
                )));
            }
        }
        Ok(())
    }

    /// Warnings to show before running (options accepted but not acted
    /// on, or risky).
    pub fn notes(&self) -> Vec<String> {
        let mut n = self.security.notes.clone();
        if self.network == NetworkMode::Host && !self.ports.is_empty() {
            // Docker's own line, as it prints it.
            n.push(HOST_PORTS_NOTE.into());
        }
        if self.resources.oom_kill_disable && self.resources.memory == 0 {
            n.push("Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous.".into());
        }
        n
    }
}

#[cfg(test)]
#[path = "opts_tests.rs"]
mod tests;
