//! The OCI runtime spec (`config.json`) for a container, built as a pure
//! function of the image's run config, the `run` flags, the resolved user
//! and the paths the caller prepared. Docker's rules throughout; where they
//! matter the comments say which.

use crate::error::{kind_err, ErrorKind};
use crate::image::config::RunConfig;
use crate::runtime::defaults::{
    default_device_rules, default_devices, device_rule, resolve_capabilities, DEFAULT_PATH,
    MASKED_PATHS, READONLY_PATHS,
};
use crate::runtime::opts::blkio::{DeviceNumbers, ThrottleDevice};
use crate::runtime::opts::env::{env_has, merge_env, EnvVar};
use crate::runtime::opts::resources::Resources;
use crate::runtime::opts::share::Share;
use crate::runtime::opts::units::signal_name;
use crate::runtime::opts::{
    MountKind, MountOrigin, MountRequest, NetworkMode, RunOpts, SeccompChoice,
};
use crate::runtime::seccomp_default::default_seccomp;
use crate::runtime::seccomp_profile::{Host, Profile};
use crate::runtime::spec_mounts::{build_mounts, rootfs_propagation};
use crate::runtime::user::ResolvedUser;
use anyhow::{Context, Result};
use oci_spec::runtime::{
    Capabilities, Capability, LinuxBlockIo, LinuxCapabilities, LinuxCapabilitiesBuilder, LinuxCpu,
    LinuxDevice, LinuxMemory, LinuxNamespace, LinuxNamespaceType, LinuxPids, LinuxResources,
    LinuxThrottleDevice, LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder, PosixRlimit,
    PosixRlimitBuilder, Process, Root, Spec, User,
};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Set on the spec when `--init` asks for skiff's built-in init as the
/// container's pid 1 (it reaps zombies and forwards signals to the command).
pub const ANNOTATION_INIT: &str = "org.skiff.init";

/// The files of the container's directory bound over `/etc/hosts`,
/// `/etc/hostname` and `/etc/resolv.conf` (and with `--userns=keep-id`
/// `/etc/passwd` and `/etc/group`); `None` leaves the image's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFiles {
    pub hosts: Option<PathBuf>,
    pub hostname: Option<PathBuf>,
    pub resolv_conf: Option<PathBuf>,
    pub passwd: Option<PathBuf>,
    pub group: Option<PathBuf>,
}

/// A mount request with its host side resolved by the caller: the bind's
/// source, or the volume's `_data` directory (named volumes under
/// `volumes/NAME/_data`, anonymous ones created for the container). `None`
/// for tmpfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedMount {
    pub request: MountRequest,
    pub host_path: Option<PathBuf>,
}

/// A `--device` (or, with `--privileged`, a host device) with what the
/// caller learnt from the host node: `device.path` is the path inside the
/// container, its type and numbers those of `host_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedDevice {
    pub device: LinuxDevice,
    pub host_path: PathBuf,
    /// Device cgroup access: some of `r`, `w`, `m`.
    pub permissions: String,
}

/// The uid and gid maps of a container's own user namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserNs {
    pub uids: Vec<oci_spec::runtime::LinuxIdMapping>,
    pub gids: Vec<oci_spec::runtime::LinuxIdMapping>,
}

/// Everything [`build_spec`] needs.
pub struct SpecInput<'a> {
    /// The container's id (for messages).
    pub id: &'a str,
    /// See [`container_hostname`].
    pub hostname: &'a str,
    pub image: &'a RunConfig,
    pub opts: &'a RunOpts,
    pub user: &'a ResolvedUser,
    /// The container's root file system (where the overlay is mounted).
    pub rootfs: &'a Path,
    pub files: &'a HostFiles,
    /// Every bind, volume and tmpfs: the flags' and the image's volumes.
    pub mounts: &'a [ResolvedMount],
    pub devices: &'a [ResolvedDevice],
    /// The numbers of the block devices the block I/O limits name.
    pub blkio_devices: &'a DeviceNumbers,
    /// The parsed profile when `--security-opt seccomp=PATH` was given.
    pub seccomp_profile: Option<&'a Profile>,
    pub host: &'a Host,
    /// Run by an unprivileged user (skiff itself inside its rootless user
    /// namespace, `ns::rootless`): the spec binds host devices instead of
    /// creating nodes and leaves out device cgroup rules.
    pub rootless: bool,
    /// A user namespace of the container's own, with these maps (from the
    /// ids of the namespace skiff runs in); `None` shares skiff's.
    pub userns: Option<&'a UserNs>,
    /// Rootless with a cgroup2 subtree of its own (`cgroup::delegated_subtree`):
    /// the container's cgroup, with its limits, goes under it.
    pub delegated: Option<&'a Path>,
    /// The network namespace made for it (`network::netns`), joined by
    /// path; `None`: a new one of its own (with only `lo`), or the host's.
    pub netns: Option<&'a Path>,
}

fn invalid(msg: impl Into<String>) -> anyhow::Error {
    kind_err(ErrorKind::InvalidArgument, msg)
}

/// The container's hostname: `--hostname`, else the host's own with
/// `--network host` (as Docker), else the first 12 characters of the id.
pub fn container_hostname(opts: &RunOpts, id: &str, host_hostname: &str) -> String {
    if let Some(h) = &opts.hostname {
        return h.clone();
    }
    if opts.network == NetworkMode::Host || opts.shares.uts == Share::Host {
        return host_hostname.to_string();
    }
    id.chars().take(12).collect()
}

/// The process's argv: entrypoint then command. `--entrypoint` replaces the
/// image's entrypoint and drops the image's `Cmd` (Docker: "passing
/// --entrypoint clears any default command"), unless a command was given.
pub fn process_args(image: &RunConfig, opts: &RunOpts) -> Result<Vec<String>> {
    let entrypoint = match &opts.entrypoint {
        Some(e) => e.clone(),
        None => image.entrypoint.clone().unwrap_or_default(),
    };
    let cmd = if !opts.command.is_empty() {
        opts.command.clone()
    } else if opts.entrypoint.is_some() {
        Vec::new()
    } else {
        image.cmd.clone().unwrap_or_default()
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(invalid("no command specified"));
    }
    Ok(args)
}

/// The environment, as Docker builds it: `PATH` (its default), `HOSTNAME`
/// and with `-t` `TERM=xterm` first, then the image's variables overridden
/// by `-e`/`--env-file` (replacing in place, `-e KEY` with no value
/// removing), and `HOME` from the user's passwd entry unless already set.
pub fn process_env(image: &RunConfig, opts: &RunOpts, hostname: &str, home: &str) -> Vec<String> {
    let mut base = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if opts.tty {
        base.push("TERM=xterm".into());
    }
    let config_env = merge_env(image.env.as_deref().unwrap_or_default(), &opts.env);
    let overrides: Vec<EnvVar> = config_env
        .iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => EnvVar::Set(k.into(), v.into()),
            None => EnvVar::Set(e.clone(), String::new()),
        })
        .collect();
    let mut env = merge_env(&base, &overrides);
    if !env_has(&env, "HOME") {
        env.push(format!("HOME={home}"));
    }
    env
}

/// The working directory: `-w`, else the image's, else `/`.
pub fn process_cwd(image: &RunConfig, opts: &RunOpts) -> String {
    opts.workdir
        .clone()
        .or_else(|| image.working_dir.clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".into())
}

/// Docker's `Config` of the container: the image's run config with the
/// flags applied, the way [`process_args`], [`process_env`] and
/// [`process_cwd`] apply them (the environment before `PATH`, `HOSTNAME`
/// and `HOME` are added for the process), and what `commit` makes the new
/// image's config from. Anonymous volumes from `-v /path` join the image's
/// `Volumes`, as Docker's do; binds and named volumes do not.
pub fn container_config(image: &RunConfig, opts: &RunOpts) -> RunConfig {
    let mut c = image.clone();
    if let Some(ep) = &opts.entrypoint {
        c.entrypoint = (!ep.is_empty()).then(|| ep.clone());
        c.cmd = None;
    }
    if !opts.command.is_empty() {
        c.cmd = Some(opts.command.clone());
    }
    if !opts.env.is_empty() {
        c.env = Some(merge_env(
            image.env.as_deref().unwrap_or_default(),
            &opts.env,
        ));
    }
    if let Some(w) = &opts.workdir {
        c.working_dir = Some(w.clone());
    }
    if let Some(u) = opts.user.as_ref().filter(|u| !u.is_empty()) {
        c.user = Some(u.clone());
    }
    if !opts.labels.is_empty() {
        let mut labels = image.labels.clone().unwrap_or_default();
        labels.extend(opts.labels.clone());
        c.labels = Some(labels);
    }
    let anonymous = opts.mounts.iter().filter(|m| {
        m.kind == MountKind::Volume && m.source.is_none() && m.origin == MountOrigin::VolumeFlag
    });
    for m in anonymous {
        c.volumes
            .get_or_insert_with(Default::default)
            .insert(m.target.clone(), serde_json::json!({}));
    }
    for k in &opts.expose {
        c.exposed_ports
            .get_or_insert_with(Default::default)
            .insert(k.clone(), serde_json::json!({}));
    }
    if let Some(sig) = opts.stop_signal {
        c.stop_signal = Some(signal_name(sig).unwrap_or_else(|| sig.to_string()));
    }
    c.healthcheck = crate::image::config::HealthConfig::merged(
        opts.healthcheck.as_ref(),
        image.healthcheck.as_ref(),
    );
    c
}

/// Capabilities as Docker (since 20.10.14) sets them: the resolved set is
/// the bounding set; root also gets it as effective and permitted, a
/// non-root user gets none there (as execve would leave it). Inheritable
/// and ambient are empty: a non-empty inheritable set let programs with
/// inheritable file capabilities gain them (CVE-2022-24769).
fn capabilities(caps: &[Capability], uid: u32) -> Result<LinuxCapabilities> {
    let set: Capabilities = caps.iter().copied().collect();
    let granted = if uid == 0 {
        set.clone()
    } else {
        Capabilities::new()
    };
    LinuxCapabilitiesBuilder::default()
        .bounding(set)
        .effective(granted.clone())
        .permitted(granted)
        .inheritable(Capabilities::new())
        .ambient(Capabilities::new())
        .build()
        .context("build capabilities")
}

fn rlimits(opts: &RunOpts) -> Result<Vec<PosixRlimit>> {
    opts.ulimits
        .iter()
        .map(|u| {
            PosixRlimitBuilder::default()
                .typ(u.kind)
                .soft(u.soft)
                .hard(u.hard)
                .build()
                .context("build rlimit")
        })
        .collect()
}

fn process(input: &SpecInput, caps: &[Capability]) -> Result<Process> {
    let opts = input.opts;
    let mut user = User::default();
    user.set_uid(input.user.uid).set_gid(input.user.gid);
    if !input.user.additional_gids.is_empty() {
        user.set_additional_gids(Some(input.user.additional_gids.clone()));
    }
    let mut p = Process::default();
    p.set_terminal(Some(opts.tty))
        .set_user(user)
        .set_args(Some(process_args(input.image, opts)?))
        .set_env(Some(process_env(
            input.image,
            opts,
            input.hostname,
            &input.user.home,
        )))
        .set_cwd(PathBuf::from(process_cwd(input.image, opts)))
        .set_capabilities(Some(capabilities(caps, input.user.uid)?))
        .set_rlimits(Some(rlimits(opts)?))
        .set_oom_score_adj(opts.oom_score_adj)
        .set_no_new_privileges(Some(opts.security.no_new_privileges));
    Ok(p)
}

fn namespaces(opts: &RunOpts, userns: bool, netns: Option<&Path>) -> Vec<LinuxNamespace> {
    let mut kinds = Vec::new();
    // The user namespace first: the others are then owned by it.
    if userns {
        kinds.push(LinuxNamespaceType::User);
    }
    let shared = |s: &Share| *s != Share::Own;
    if !shared(&opts.shares.pid) {
        kinds.push(LinuxNamespaceType::Pid);
    }
    if opts.network.private_netns() && netns.is_none() {
        kinds.push(LinuxNamespaceType::Network);
    }
    if !shared(&opts.shares.ipc) {
        kinds.push(LinuxNamespaceType::Ipc);
    }
    if !shared(&opts.shares.uts) {
        kinds.push(LinuxNamespaceType::Uts);
    }
    kinds.push(LinuxNamespaceType::Mount);
    if !opts.cgroupns_host {
        kinds.push(LinuxNamespaceType::Cgroup);
    }
    let joined = |t: LinuxNamespaceType, p: PathBuf| {
        let mut ns = LinuxNamespace::default();
        ns.set_typ(t).set_path(Some(p));
        ns
    };
    let mut out: Vec<LinuxNamespace> = kinds
        .into_iter()
        .map(|k| {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(k);
            ns
        })
        .collect();
    if let Some(p) = netns {
        out.push(joined(LinuxNamespaceType::Network, p.to_path_buf()));
    }
    // Another container's: pointed at its process at each start
    // (`container::shares`).
    if opts.shares.pid.container().is_some() {
        out.push(joined(LinuxNamespaceType::Pid, NS_TO_POINT.into()));
    }
    if opts.shares.ipc.container().is_some() {
        out.push(joined(LinuxNamespaceType::Ipc, NS_TO_POINT.into()));
    }
    out
}

/// The path of a namespace joined from another container until its
/// process is known at the start.
pub const NS_TO_POINT: &str = "/proc/0/ns";

/// Device nodes to create: the standard ones, then `--device`s (one given
/// for a standard path replaces it).
fn devices(input: &SpecInput) -> Vec<LinuxDevice> {
    let mut out: Vec<LinuxDevice> = default_devices()
        .into_iter()
        .filter(|d| !input.devices.iter().any(|r| r.device.path() == d.path()))
        .collect();
    out.extend(input.devices.iter().map(|r| r.device.clone()));
    out
}

fn resources(input: &SpecInput) -> Result<LinuxResources> {
    let mut rules = default_device_rules(input.opts.privileged);
    if !input.opts.privileged {
        rules.extend(input.devices.iter().map(|r| {
            device_rule(
                true,
                r.device.typ(),
                Some(r.device.major()),
                Some(r.device.minor()),
                &r.permissions,
            )
        }));
        rules.extend(input.opts.device_cgroup_rules.iter().map(|r| {
            let typ = match r.typ {
                'b' => oci_spec::runtime::LinuxDeviceType::B,
                'c' => oci_spec::runtime::LinuxDeviceType::C,
                _ => oci_spec::runtime::LinuxDeviceType::A,
            };
            device_rule(true, typ, r.major, r.minor, &r.access)
        }));
    }
    let mut res = LinuxResources::default();
    // Rootless, the user namespace already keeps host devices out (no
    // CAP_MKNOD over them), and an unprivileged user cannot load the
    // cgroup2 device program.
    res.set_devices((!input.rootless).then_some(rules));
    limits(&input.opts.resources, &mut res);
    block_devices(&input.opts.resources, input.blkio_devices, &mut res)?;
    Ok(res)
}

/// The limits of the resource flags, in the spec's terms: memory, CPU,
/// pids and the block I/O weight, each replaced (`None` when unset). The
/// block I/O device lists stay as they are: see [`block_devices`].
pub fn limits(r: &Resources, res: &mut LinuxResources) {
    let set = |n: i64| (n != 0).then_some(n);
    let memory =
        r.memory != 0 || r.memory_reservation != 0 || r.memory_swap != 0 || r.oom_kill_disable;
    res.set_memory(memory.then(|| {
        let mut m = LinuxMemory::default();
        m.set_limit(set(r.memory))
            .set_swap(set(r.memory_swap))
            .set_reservation(set(r.memory_reservation))
            .set_disable_oom_killer(r.oom_kill_disable.then_some(true));
        m
    }));
    let (quota, period) = r.cfs();
    let cpuset = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let cpu = r.cpu_shares > 0
        || quota != 0
        || period != 0
        || cpuset(&r.cpuset_cpus).is_some()
        || cpuset(&r.cpuset_mems).is_some();
    res.set_cpu(cpu.then(|| {
        let mut c = LinuxCpu::default();
        c.set_shares((r.cpu_shares > 0).then_some(r.cpu_shares as u64))
            .set_quota(set(quota))
            .set_period((period > 0).then_some(period as u64))
            .set_cpus(cpuset(&r.cpuset_cpus))
            .set_mems(cpuset(&r.cpuset_mems));
        c
    }));
    res.set_pids(r.pids_limit.map(|n| {
        let mut p = LinuxPids::default();
        p.set_limit(n);
        p
    }));
    let mut io = res.block_io().clone().unwrap_or_default();
    io.set_weight((r.blkio_weight > 0).then_some(r.blkio_weight));
    res.set_block_io((io != LinuxBlockIo::default()).then_some(io));
}

/// The block I/O limits per device (`--blkio-weight-device`,
/// `--device-read-bps`, ...), each device by the numbers the caller found
/// for its path. The weight stays as it is: see [`limits`].
pub fn block_devices(
    r: &Resources,
    numbers: &DeviceNumbers,
    res: &mut LinuxResources,
) -> Result<()> {
    let num = |path: &str| {
        numbers
            .get(path)
            .copied()
            .ok_or_else(|| invalid(format!("no device numbers for {path}")))
    };
    let throttle = |list: &[ThrottleDevice]| -> Result<Option<Vec<LinuxThrottleDevice>>> {
        let out = list
            .iter()
            .map(|d| {
                let (major, minor) = num(&d.path)?;
                LinuxThrottleDeviceBuilder::default()
                    .major(major)
                    .minor(minor)
                    .rate(d.rate)
                    .build()
                    .context("throttle device")
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((!out.is_empty()).then_some(out))
    };
    let weights = r
        .blkio_weight_device
        .iter()
        .map(|d| {
            let (major, minor) = num(&d.path)?;
            LinuxWeightDeviceBuilder::default()
                .major(major)
                .minor(minor)
                .weight(d.weight)
                .build()
                .context("weight device")
        })
        .collect::<Result<Vec<_>>>()?;
    let mut io = res.block_io().clone().unwrap_or_default();
    io.set_weight_device((!weights.is_empty()).then_some(weights))
        .set_throttle_read_bps_device(throttle(&r.blkio_device_read_bps)?)
        .set_throttle_write_bps_device(throttle(&r.blkio_device_write_bps)?)
        .set_throttle_read_iops_device(throttle(&r.blkio_device_read_iops)?)
        .set_throttle_write_iops_device(throttle(&r.blkio_device_write_iops)?);
    res.set_block_io((io != LinuxBlockIo::default()).then_some(io));
    Ok(())
}

fn seccomp(
    input: &SpecInput,
    caps: &[Capability],
) -> Result<Option<oci_spec::runtime::LinuxSeccomp>> {
    // Docker drops the filter for --privileged whatever else was asked.
    if input.opts.privileged {
        return Ok(None);
    }
    match &input.opts.security.seccomp {
        SeccompChoice::Unconfined => Ok(None),
        SeccompChoice::Default => default_seccomp(caps, input.host).map(Some),
        SeccompChoice::Profile(path) => {
            let profile = input.seccomp_profile.ok_or_else(|| {
                invalid(format!("seccomp profile {} was not loaded", path.display()))
            })?;
            profile
                .resolve(caps, input.host)
                .with_context(|| format!("seccomp profile {}", path.display()))
                .map(Some)
        }
    }
}

/// The labels as annotations: the image's, overridden by `--label`.
fn annotations(input: &SpecInput) -> HashMap<String, String> {
    let mut labels: BTreeMap<String, String> = input.image.labels.clone().unwrap_or_default();
    labels.extend(input.opts.labels.clone());
    let mut out: HashMap<String, String> = labels.into_iter().collect();
    if input.opts.init {
        out.insert(ANNOTATION_INIT.into(), "true".into());
    }
    if input.opts.resources != Resources::default() {
        if let Ok(v) = serde_json::to_string(&input.opts.resources) {
            out.insert(ANNOTATION_RESOURCES.into(), v);
        }
    }
    out
}

/// The resource flags as given (Docker's `HostConfig` fields, JSON), for
/// `inspect`: `--cpus` and `--cpu-quota` end the same in the cgroup, not
/// in `HostConfig`.
pub const ANNOTATION_RESOURCES: &str = "org.skiff.resources";

/// The resource flags a spec was built with.
pub fn resources_of(spec: &Spec) -> Resources {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_RESOURCES))
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default()
}

/// Build the container's OCI runtime spec.
pub fn build_spec(input: &SpecInput) -> Result<Spec> {
    build(input).with_context(|| format!("build the runtime spec of container {}", input.id))
}

/// The container's cgroup: under skiff's parent (or `--cgroup-parent`)
/// from the hierarchy's root, or from the user's delegated subtree;
/// none rootless without one.
fn cgroup_path(input: &SpecInput) -> Option<PathBuf> {
    let own = input.opts.resources.cgroup_path(input.id);
    match (input.rootless, input.delegated) {
        (false, _) => Some(PathBuf::from(own)),
        (true, Some(d)) => Some(d.join(own.trim_start_matches('/'))),
        (true, None) => None,
    }
}

fn build(input: &SpecInput) -> Result<Spec> {
    let opts = input.opts;
    let caps = resolve_capabilities(opts.privileged, &opts.cap_add, &opts.cap_drop);

    let mut linux = oci_spec::runtime::Linux::default();
    linux
        .set_namespaces(Some(namespaces(opts, input.userns.is_some(), input.netns)))
        .set_uid_mappings(input.userns.map(|u| u.uids.clone()))
        .set_gid_mappings(input.userns.map(|u| u.gids.clone()))
        .set_devices((!input.rootless).then(|| devices(input)))
        .set_resources(
            cgroup_path(input)
                .is_some()
                .then(|| resources(input))
                .transpose()?,
        )
        .set_cgroups_path(cgroup_path(input))
        .set_seccomp(seccomp(input, &caps)?)
        .set_sysctl((!opts.sysctls.is_empty()).then(|| opts.sysctls.clone().into_iter().collect()))
        .set_rootfs_propagation(rootfs_propagation(input.mounts).map(str::to_string));
    let unconfined_paths = opts.privileged || opts.security.unmask_system_paths;
    let strings = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    linux
        .set_masked_paths((!unconfined_paths).then(|| strings(&MASKED_PATHS)))
        .set_readonly_paths((!unconfined_paths).then(|| strings(&READONLY_PATHS)));

    let mut root = Root::default();
    root.set_path(input.rootfs.to_path_buf())
        .set_readonly(Some(opts.read_only));

    let mut spec = Spec::default();
    spec.set_root(Some(root))
        .set_process(Some(process(input, &caps)?))
        .set_hostname((opts.shares.uts == Share::Own).then(|| input.hostname.to_string()))
        .set_domainname(opts.domainname.clone())
        .set_mounts(Some(build_mounts(input)?))
        .set_annotations(Some(annotations(input)))
        .set_linux(Some(linux));
    Ok(spec)
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "spec_fixture.rs"]
pub(crate) mod fixture;
