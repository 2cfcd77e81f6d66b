//! Container records: `containers/<id>/container.json` plus the
//! container's working directories (`upper/`, `work/`, `rootfs/`, and the
//! `hosts`, `hostname`, `resolv.conf` files bound into it). Names are
//! unique; every change happens under `containers.lock`.

use super::Store;
use crate::digest::Digest;
use crate::error::{kind_err, ErrorKind};
use crate::util::fs::{atomic_write, atomic_write_volatile, mkdir_all};
use crate::util::lock::{lock_exclusive, LockGuard};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

/// Where a container is in its life.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ContainerState {
    /// `created`, `running`, `exited` (Docker's words).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The pid's start time (clock ticks since boot), so a reused pid is
    /// never taken for the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub oom_killed: bool,
    /// The monitor of a detached container, with its start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_start: Option<u64>,
    /// Why the container is not running as asked (Docker's State.Error).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// Restarts made by the restart policy since the last `start`.
    #[serde(default)]
    pub restart_count: u32,
    /// Stopped by `stop`/`kill`/`rm -f`: the restart policy (but
    /// `always`, on the next start) leaves it stopped.
    #[serde(default)]
    pub stopped_by_user: bool,
    /// The command making the container, until the
    /// container is whole (its first start, or the end of `create`). The
    /// maker holds a lock on the container's directory (`Maker`), and so
    /// does the monitor it starts: a record marked so whose lock nobody
    /// holds is a half-made container (`container::state::sync` removes
    /// it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_pid: Option<u32>,
    /// Its endpoints while it runs, by network name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, Endpoint>,
    /// The health check's state, once a container with one has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// The ports this start published (cleared with the endpoints).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<super::ports::PublishedPort>,
}

/// Docker's `State.Health`: `starting`, `healthy` or `unhealthy`, the
/// failures in a row and the last few probes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
    pub failing_streak: u32,
    #[serde(default)]
    pub log: Vec<HealthResult>,
}

/// One probe: when it ran, its exit code (-1 when it could not finish)
/// and the start of its output.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// `--restart`: `no`, `always`, `unless-stopped`, `on-failure[:N]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RestartPolicy {
    /// Docker's names; empty means `no`.
    #[serde(default)]
    pub name: String,
    /// `on-failure:N`: at most N restarts (0: no limit).
    #[serde(default)]
    pub max_retries: u32,
}

impl RestartPolicy {
    pub fn is_none(&self) -> bool {
        self.name.is_empty() || self.name == "no"
    }
}

/// `--log-driver` and `--log-opt`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogConfig {
    /// `json-file` (the default), `k8s-file` or `none`.
    pub driver: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            driver: "json-file".into(),
            options: BTreeMap::new(),
        }
    }
}

/// The time now as records keep it (RFC 3339, nanoseconds, UTC).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContainerRecord {
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    pub image_id: Digest,
    /// The image's layers (chain ids, bottom first), kept alive by gc
    /// while the container exists.
    pub layers: Vec<Digest>,
    pub created: String,
    /// The command the container runs (entrypoint + cmd).
    pub command: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `--rm`.
    #[serde(default)]
    pub auto_remove: bool,
    /// Volumes made for this container alone (removed with `--rm` / `rm -v`).
    #[serde(default)]
    pub anonymous_volumes: Vec<String>,
    /// Volumes it uses, anonymous or named (so `volume rm` can refuse).
    #[serde(default)]
    pub volumes: Vec<String>,
    /// `-t`, `-i`.
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub interactive: bool,
    /// The signal `stop` sends first (`--stop-signal`, the image's
    /// STOPSIGNAL; SIGTERM when neither).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<i32>,
    /// Seconds `stop` waits before SIGKILL (`--stop-timeout`; 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(default)]
    pub restart: RestartPolicy,
    #[serde(default)]
    pub log: LogConfig,
    /// The health check: the image's, with the `--health-*` flags over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<crate::image::config::HealthConfig>,
    /// Docker's `Config` object the container was made with: the image's
    /// run config with the flags applied (Entrypoint, Cmd, Env,
    /// WorkingDir, User, Labels, Volumes, StopSignal, ...), what `commit`
    /// starts from. Kept as JSON: the image module owns its shape. `None`
    /// in records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Map<String, serde_json::Value>>,
    /// The networks it joins at each start (`bridge` or user networks by
    /// name), first the one its default route goes through; none with
    /// `--network host|none|container:ID` and rootless.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
    /// What each network's endpoint is asked to be (`--network-alias`,
    /// `--ip`, `--mac-address`, `network connect --alias --ip`), by
    /// network name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoint_config: BTreeMap<String, EndpointConfig>,
    /// Records made before `endpoint_config`: the aliases and address
    /// asked for on the first network. Read only (`endpoint_config_of`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// `-p`: the ports to publish at each start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_bindings: Vec<super::ports::PortBinding>,
    /// `-P`: every exposed port too, on free host ports.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub publish_all: bool,
    /// Docker's `HostConfig.NetworkMode` as asked: `bridge`, a network's
    /// name, `none`, `host` or `container:ID` (the full ID). Empty in
    /// records made before it was kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network_mode: String,
    /// Its network namespace is the file `netns` in its directory, which
    /// its spec names: made at each start (`network::setup::connect`), or
    /// the joined container's bound there. Older records say so by
    /// having networks (`keeps_netns`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub netns_file: bool,
    /// `--pid`, `--ipc`, `--uts` as Docker's `HostConfig` words
    /// (`host`, `container:ID`, `none`, ...); empty: its own.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pid_mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ipc_mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uts_mode: String,
    /// A build step's container (`skiff build`): not shown by `ps`
    /// without `--external`, and never made whole (a killed build's is
    /// removed as half-made).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub build: bool,
    /// DNS queries to its first network's gateway go to a resolver on the
    /// host's loopback (`network::ports::dns_script`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_forward: Option<DnsForward>,
    pub state: ContainerState,
}

/// Where a container's DNS queries to a gateway are sent on the host.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DnsForward {
    /// The gateway its resolv.conf names.
    pub gateway: String,
    /// The host's loopback resolver: `127.0.0.1`, `127.0.1.1`, ...
    pub to: String,
}

/// A running container's place on one network (Docker's
/// `NetworkSettings.Networks.NAME`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    pub network_id: String,
    pub ip: String,
    pub prefix_len: u8,
    pub gateway: String,
    pub mac: String,
    /// Its interface inside the container (`eth0`, `eth1`, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ifname: String,
}

/// What one of a container's endpoints is asked to be.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EndpointConfig {
    /// More names its peers on the network find it by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The IPv4 address asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The MAC address asked for (`02:42:...` from the address when not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl ContainerRecord {
    /// Whether its network namespace is kept at `netns` in its directory.
    pub fn keeps_netns(&self) -> bool {
        self.netns_file || !self.networks.is_empty()
    }

    /// The container whose network namespace it joins
    /// (`--network container:ID`).
    pub fn joined_container(&self) -> Option<&str> {
        self.network_mode.strip_prefix("container:")
    }

    /// What its endpoint on network `net` is asked to be.
    pub fn endpoint_config_of(&self, net: &str) -> EndpointConfig {
        if let Some(c) = self.endpoint_config.get(net) {
            return c.clone();
        }
        if self.networks.first().map(String::as_str) == Some(net) {
            return EndpointConfig {
                aliases: self.network_aliases.clone(),
                ip: self.ip.clone(),
                mac: None,
            };
        }
        EndpointConfig::default()
    }

    /// Move what an older record asked for its first network into
    /// `endpoint_config`, before its networks change order.
    pub fn settle_endpoint_config(&mut self) {
        if let Some(first) = self.networks.first().cloned() {
            if !self.endpoint_config.contains_key(&first)
                && (self.ip.is_some() || !self.network_aliases.is_empty())
            {
                let c = self.endpoint_config_of(&first);
                self.endpoint_config.insert(first, c);
            }
        }
        self.network_aliases.clear();
        self.ip = None;
    }
}

/// Docker's rule for container names (the same as for volume names).
pub fn valid_container_name(name: &str) -> bool {
    super::volumes::valid_volume_name(name)
}

impl Store {
    fn containers_dir(&self) -> PathBuf {
        self.root().join("containers")
    }

    /// Taken by every change to container records.
    pub fn lock_containers(&self) -> Result<LockGuard> {
        lock_exclusive(&self.root().join("locks").join("containers.lock"))
    }

    /// The container's own directory.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    fn read_container(&self, id: &str) -> Result<Option<ContainerRecord>> {
        let p = self.container_dir(id).join("container.json");
        match fs::read(&p) {
            // What a power cut can leave of a record written without
            // flushing (see `write_record`): a half-made container.
            Ok(b) if b.is_empty() => Ok(None),
            Ok(b) => Ok(Some(
                serde_json::from_slice(&b).with_context(|| format!("parse {}", p.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("read {}", p.display())),
        }
    }

    /// The record of container `id` (a full id), if there is one.
    pub fn container(&self, id: &str) -> Result<Option<ContainerRecord>> {
        self.read_container(id)
    }

    /// The names of the directories under `containers/`.
    fn container_ids(&self) -> Result<Vec<String>> {
        let rd = match fs::read_dir(self.containers_dir()) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).context("read the containers directory"),
        };
        let mut out = Vec::new();
        for e in rd {
            out.push(e?.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    }

    /// Every container record (directories without one are half-made
    /// leftovers, skipped here and removed by `remove_container`).
    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        let mut out = Vec::new();
        for name in self.container_ids()? {
            if let Some(c) = self.read_container(&name)? {
                out.push(c);
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// The id and name of every container, reading no more of each record
    /// than that.
    fn container_names(&self) -> Result<Vec<(String, String)>> {
        #[derive(Deserialize)]
        struct Brief {
            id: String,
            name: String,
        }
        let mut out = Vec::new();
        for id in self.container_ids()? {
            let p = self.container_dir(&id).join("container.json");
            if let Ok(b) = fs::read(&p) {
                if let Ok(r) = serde_json::from_slice::<Brief>(&b) {
                    out.push((r.id, r.name));
                }
            }
        }
        Ok(out)
    }

    /// The container a user string names: full id, unique id prefix, or name.
    pub fn find_container(&self, s: &str) -> Result<ContainerRecord> {
        // A full id needs no scan.
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Some(c) = self.read_container(s)? {
                return Ok(c);
            }
        }
        let name = s.trim_start_matches('/');
        if let Some(id) = self.name_hint(name) {
            // An unreadable record is left to the scan to judge.
            if let Some(c) = self
                .read_container(&id)
                .ok()
                .flatten()
                .filter(|c| c.name == name)
            {
                return Ok(c);
            }
        }
        let all = self.container_names()?;
        let full = |id: &str| {
            self.read_container(id)?
                .ok_or_else(|| kind_err(ErrorKind::NotFound, format!("No such container: {s}")))
        };
        if let Some((id, n)) = all.iter().find(|(id, n)| id == s || n == name) {
            if n == name {
                self.set_name_hint(name, id);
            }
            return full(id);
        }
        let hits: Vec<&(String, String)> = all
            .iter()
            .filter(|(id, _)| !s.is_empty() && id.starts_with(s))
            .collect();
        match hits.len() {
            1 => full(&hits[0].0),
            0 => Err(kind_err(
                ErrorKind::NotFound,
                format!("No such container: {s}"),
            )),
            n => Err(kind_err(
                ErrorKind::InvalidArgument,
                format!("{s}: container ID prefix is ambiguous ({n} containers match)"),
            )),
        }
    }

    /// Record a new container and make its directories. Fails with
    /// AlreadyExists when the name is taken, as Docker words it.
    pub fn create_container(&self, rec: &ContainerRecord) -> Result<(PathBuf, Maker)> {
        let _lock = self.lock_containers()?;
        if let Some(other) = self.containers()?.iter().find(|c| c.name == rec.name) {
            if self.half_made(other) {
                // Left by a command killed while making it: not a
                // container, and its name is free.
                self.remove_container_dir(&other.id, Some(&other.name))?;
                return self.create_container_locked(rec);
            }
            return Err(kind_err(
                ErrorKind::AlreadyExists,
                format!(
                    "Conflict. The container name \"/{}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    rec.name, other.id
                ),
            ));
        }
        self.create_container_locked(rec)
    }

    fn create_container_locked(&self, rec: &ContainerRecord) -> Result<(PathBuf, Maker)> {
        let dir = self.container_dir(&rec.id);
        mkdir_all(&dir, 0o710)?;
        for sub in ["upper", "work", "rootfs"] {
            mkdir_all(&dir.join(sub), 0o755)?;
        }
        // Held before the record exists, so no one sees it unheld.
        let maker = Maker::take(&dir)?;
        self.write_record(rec)?;
        self.set_name_hint(&rec.name, &rec.id);
        Ok((dir, maker))
    }

    /// Did the command making the container die before it was whole (and
    /// with it any monitor it started)?
    pub fn half_made(&self, rec: &ContainerRecord) -> bool {
        rec.state.creator_pid.is_some() && !Maker::held(&self.container_dir(&rec.id))
    }

    /// Is the command that makes container `rec` (or the monitor it
    /// handed its lock to) still at work on it?
    pub fn being_made(&self, rec: &ContainerRecord) -> bool {
        rec.state.creator_pid.is_some() && Maker::held(&self.container_dir(&rec.id))
    }

    /// The lock of container `id`'s owner (`owner.lock` in its directory),
    /// if no one holds it: the one process that starts the container and
    /// keeps it (its monitor, or a foreground `run`) holds it from before
    /// the start until it lets the container go. `None` when another has
    /// it.
    pub fn try_own(&self, id: &str) -> Result<Option<LockGuard>> {
        crate::util::lock::try_lock_exclusive(&self.container_dir(id).join("owner.lock"))
    }

    /// Replace the record on disk. A `--rm` container's record lives only
    /// as long as its process, so it is written without flushing (a power
    /// cut leaves at worst an empty record, taken as a half-made
    /// container); every other record survives a crash.
    fn write_record(&self, rec: &ContainerRecord) -> Result<()> {
        let path = self.container_dir(&rec.id).join("container.json");
        let data = serde_json::to_vec_pretty(rec)?;
        if rec.auto_remove {
            atomic_write_volatile(&path, &data)
        } else {
            atomic_write(&path, &data)
        }
    }

    /// Give container `id` a new name (unique, Docker's rules).
    pub fn rename_container(&self, id: &str, new: &str) -> Result<()> {
        let new = new.trim_start_matches('/');
        if !valid_container_name(new) {
            return Err(kind_err(
                ErrorKind::InvalidArgument,
                format!(
                    "invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                ),
            ));
        }
        let _lock = self.lock_containers()?;
        let mut rec = self
            .read_container(id)?
            .ok_or_else(|| kind_err(ErrorKind::NotFound, format!("No such container: {id}")))?;
        if rec.name == new {
            return Err(kind_err(
                ErrorKind::InvalidArgument,
                "Renaming a container with the same name as its current name",
            ));
        }
        if let Some(other) = self.containers()?.iter().find(|c| c.name == new) {
            return Err(kind_err(
                ErrorKind::AlreadyExists,
                format!(
                    "Conflict. The container name \"/{new}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    other.id
                ),
            ));
        }
        let old = std::mem::replace(&mut rec.name, new.to_string());
        self.write_record(&rec)?;
        self.set_name_hint(new, &rec.id);
        self.drop_name_hint(&old, &rec.id);
        Ok(())
    }

    /// Change a container's record under the lock (reloaded first).
    pub fn update_container<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut ContainerRecord) -> Result<T>,
    ) -> Result<T> {
        let _lock = self.lock_containers()?;
        let mut rec = self
            .read_container(id)?
            .ok_or_else(|| kind_err(ErrorKind::NotFound, format!("No such container: {id}")))?;
        let out = f(&mut rec)?;
        self.write_record(&rec)?;
        Ok(out)
    }

    /// Remove a container's record and directory. The record goes first,
    /// so a crash mid-way leaves a directory `containers()` ignores.
    pub fn remove_container(&self, id: &str) -> Result<()> {
        self.remove_container_if(id, |_| true).map(drop)
    }

    /// Remove a container that is done for good (`--rm`) with the
    /// volumes made for it alone.
    pub fn remove_container_and_volumes(&self, id: &str, anonymous: &[String]) -> Result<()> {
        self.remove_container(id)?;
        for v in anonymous {
            let _ = self.remove_volume(v);
        }
        Ok(())
    }

    /// Remove the container if `ok` approves its record, read under the
    /// lock (so no other command changes it between the check and the
    /// removal). Returns whether it was removed; a missing record counts
    /// as removed.
    pub fn remove_container_if(
        &self,
        id: &str,
        ok: impl FnOnce(&ContainerRecord) -> bool,
    ) -> Result<bool> {
        let _lock = self.lock_containers()?;
        let rec = self.read_container(id)?;
        if let Some(rec) = &rec {
            if !ok(rec) {
                return Ok(false);
            }
        }
        self.remove_container_dir(id, rec.as_ref().map(|r| r.name.as_str()))?;
        Ok(true)
    }

    /// Remove the record, then the rest, and the hint of its name (the
    /// containers lock held).
    fn remove_container_dir(&self, id: &str, name: Option<&str>) -> Result<()> {
        let dir = self.container_dir(id);
        // A network namespace kept there by an owner that was killed: a
        // mount point cannot be unlinked.
        let _ = nix::mount::umount2(&dir.join("netns"), nix::mount::MntFlags::MNT_DETACH);
        match fs::remove_file(dir.join("container.json")) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("remove container {id}")),
        }
        super::remove_tree(&dir).with_context(|| format!("remove container {id}"))?;
        if let Some(name) = name {
            self.drop_name_hint(name, id);
        }
        Ok(())
    }
}

impl ContainerState {
    /// The container is whole: its maker's death no longer makes it a
    /// half-made one.
    pub fn made_whole(&mut self) {
        self.creator_pid = None;
    }
}

/// The lock a container's maker holds on its directory until the
/// container is whole: a flock, so it goes with the last process holding
/// it, however that process ends. `run -d` passes it to the container's
/// monitor, which may outlive it. Never unlocked explicitly: that would
/// free it for the monitor too; the last close does.
#[derive(Debug)]
pub struct Maker(fs::File);

impl Maker {
    fn take(dir: &std::path::Path) -> Result<Maker> {
        let f = fs::File::open(dir).with_context(|| format!("open {}", dir.display()))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|e| anyhow::anyhow!("lock {}: {e}", dir.display()))?;
        Ok(Maker(f))
    }

    /// Does a maker (or its monitor) still hold `dir`?
    fn held(dir: &std::path::Path) -> bool {
        let Ok(f) = fs::File::open(dir) else {
            return false;
        };
        // Taken at once and let go with the close: only a holder makes
        // this fail.
        rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared)
            == Err(rustix::io::Errno::WOULDBLOCK)
    }

    /// The lock as a descriptor a child process inherits (the caller's
    /// stays as it was): what `run -d` hands its monitor.
    pub fn inheritable(&self) -> Result<std::os::fd::OwnedFd> {
        let fd = rustix::io::dup(&self.0)
            .map_err(|e| anyhow::anyhow!("pass the container's lock on: {e}"))?;
        Ok(fd)
    }

    /// The lock a monitor was handed, held until it drops.
    pub fn adopt(fd: std::os::fd::OwnedFd) -> Maker {
        Maker(fs::File::from(fd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, name: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.into(),
            name: name.into(),
            image: "busybox".into(),
            image_id: Digest::of(b"x"),
            layers: vec![],
            created: "2026-01-01T00:00:00Z".into(),
            command: vec!["true".into()],
            labels: Default::default(),
            auto_remove: false,
            anonymous_volumes: vec![],
            volumes: vec![],
            tty: false,
            interactive: false,
            stop_signal: None,
            stop_timeout: None,
            restart: Default::default(),
            log: Default::default(),
            healthcheck: None,
            config: None,
            network_aliases: Vec::new(),
            ip: None,
            port_bindings: Vec::new(),
            publish_all: false,
            networks: Vec::new(),
            endpoint_config: Default::default(),
            network_mode: String::new(),
            netns_file: false,
            pid_mode: String::new(),
            ipc_mode: String::new(),
            uts_mode: String::new(),
            build: false,
            dns_forward: None,
            state: ContainerState {
                status: "created".into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn names_are_unique_and_records_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.create_container(&rec("aaaa1111", "web")).unwrap();
        let e = s.create_container(&rec("bbbb2222", "web")).unwrap_err();
        assert!(e.to_string().contains("already in use"));
        s.create_container(&rec("bbbb2222", "db")).unwrap();
        assert_eq!(s.find_container("web").unwrap().id, "aaaa1111");
        assert_eq!(s.find_container("bbbb").unwrap().name, "db");
        s.update_container("aaaa1111", |c| {
            c.state.status = "exited".into();
            Ok(())
        })
        .unwrap();
        assert_eq!(s.find_container("web").unwrap().state.status, "exited");
        s.remove_container("aaaa1111").unwrap();
        assert!(s.find_container("web").is_err());
        assert!(!s.container_dir("aaaa1111").exists());
        assert!(valid_container_name("my-app_1.2"));
        assert!(!valid_container_name("-x"));
    }

    #[test]
    fn names_are_found_through_hints_that_are_checked() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.create_container(&rec("aaaa1111", "web")).unwrap();
        s.create_container(&rec("bbbb2222", "db")).unwrap();
        assert_eq!(s.name_hint("web").as_deref(), Some("aaaa1111"));
        s.rename_container("aaaa1111", "front").unwrap();
        assert_eq!(s.name_hint("web"), None);
        assert_eq!(s.find_container("/front").unwrap().id, "aaaa1111");
        // A wrong or missing hint costs a scan, which mends it.
        s.set_name_hint("db", "../../aaaa1111");
        assert_eq!(s.name_hint("db"), None, "not an id");
        s.set_name_hint("db", "aaaa1111");
        assert_eq!(s.find_container("db").unwrap().id, "bbbb2222");
        assert_eq!(s.name_hint("db").as_deref(), Some("bbbb2222"));
        fs::remove_dir_all(d.path().join("container-names")).unwrap();
        assert_eq!(s.find_container("front").unwrap().id, "aaaa1111");
        assert_eq!(s.name_hint("front").as_deref(), Some("aaaa1111"));
        s.remove_container("aaaa1111").unwrap();
        assert_eq!(s.name_hint("front"), None);
        assert!(s.find_container("front").is_err());
    }

    #[test]
    fn an_empty_record_is_a_half_made_container() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let mut r = rec("cccc3333", "tmp");
        r.auto_remove = true;
        s.create_container(&r).unwrap();
        assert_eq!(s.containers().unwrap().len(), 1);
        // What a power cut may leave of an unflushed record.
        fs::write(s.container_dir("cccc3333").join("container.json"), b"").unwrap();
        assert!(s.containers().unwrap().is_empty());
        // The name is free again, and removal still cleans up.
        s.create_container(&rec("dddd4444", "tmp")).unwrap();
        s.remove_container("cccc3333").unwrap();
        assert!(!s.container_dir("cccc3333").exists());
    }
}
