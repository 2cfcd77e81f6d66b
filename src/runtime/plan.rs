//! Everything the container's init will do, decided in the parent before
//! the fork: the spec parsed and checked, paths resolved, the seccomp
//! filters compiled, strings made C strings. Errors here are ordinary
//! errors in skiff's own process; the child is left with system calls.

use super::bundle::{Bundle, Overlay};
use super::caps::{self, CapPlan};
use super::dev::{self, Device};
use super::mounts::{self, MountSpec};
use super::paths::clean;
use super::rlimits::{self, Limit};
use super::rootfs;
use super::seccomp::{self, Filters};
use crate::error::ErrorKind;
use crate::ns::{self, NsPlan};
use anyhow::{bail, Context, Result};
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxIdMapping;
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// The container's init, planned.
#[derive(Debug)]
pub struct Plan {
    pub id: String,
    pub ns: NsPlan,
    pub uid_maps: Vec<LinuxIdMapping>,
    pub gid_maps: Vec<LinuxIdMapping>,
    /// Inside a user namespace (new or joined): mknod is refused there.
    pub in_userns: bool,
    pub rootfs: PathBuf,
    /// The kernel overlay the init mounts itself (none when skiff mounts
    /// the root file system before the fork, see `premounted`).
    pub overlay: Option<Overlay>,
    /// What skiff mounted for the init before the fork (set by the
    /// caller, `process::spawn`).
    pub premounted: super::premount::Premounted,
    pub propagation: MsFlags,
    /// A /dev tmpfs to mount first, when the spec mounts none.
    pub dev_mount: Option<MountSpec>,
    pub mounts: Vec<MountSpec>,
    pub devices: Vec<Device>,
    pub masked: Vec<PathBuf>,
    pub readonly: Vec<PathBuf>,
    pub sysctls: Vec<(String, String)>,
    pub root_readonly: bool,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub rlimits: Vec<Limit>,
    pub oom_score_adj: Option<i32>,
    pub no_new_privs: bool,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: u32,
    pub caps: Option<CapPlan>,
    pub seccomp: Filters,
    /// Load seccomp before the user and capability changes: without
    /// no_new_privs the kernel wants CAP_SYS_ADMIN for it, which the final
    /// capabilities may not include (runc's order).
    pub seccomp_early: bool,
    pub cwd: PathBuf,
    pub arg0: String,
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    pub path_env: Option<String>,
    pub terminal: bool,
    /// (rows, columns) asked by the spec.
    pub console_size: Option<(u16, u16)>,
    pub parent_death_signal: Option<Signal>,
    /// Run the built-in init as pid 1, the command as its child (`--init`).
    pub init: bool,
    /// The cgroup the process starts in (set by the caller: made for a
    /// run, joined by an exec).
    pub cgroup: Option<super::cgroups::ContainerCgroup>,
}

impl Plan {
    /// Does the child create a new user namespace?
    pub fn new_userns(&self) -> bool {
        self.ns.create.contains(CloneFlags::CLONE_NEWUSER)
    }

    /// The namespaces to join before the new user namespace is made (by
    /// an intermediate process, `process::launch`): all of them when the
    /// container gets a user namespace of its own, which would own none
    /// of them, so that from inside it they could not be joined.
    pub fn joins_before_userns(&self) -> impl Iterator<Item = &ns::Join> {
        let early = self.new_userns();
        self.ns.join.iter().filter(move |_| early)
    }

    /// The namespaces the container's init joins itself.
    pub fn joins_in_child(&self) -> impl Iterator<Item = &ns::Join> {
        let early = self.new_userns();
        self.ns.join.iter().filter(move |_| !early)
    }

    /// Does the child make its cgroup namespace itself, once it is in its
    /// cgroup? A namespace made by the clone would be rooted at the
    /// parent's cgroup: the kernel copies namespaces before it moves the
    /// child (`CLONE_INTO_CGROUP`), and v1 cgroups are joined after.
    pub fn late_cgroupns(&self) -> bool {
        self.cgroup.is_some() && self.ns.create.contains(CloneFlags::CLONE_NEWCGROUP)
    }

    /// The namespaces the clone makes.
    pub fn clone_flags(&self) -> CloneFlags {
        let mut f = self.ns.create;
        if self.late_cgroupns() {
            f.remove(CloneFlags::CLONE_NEWCGROUP);
        }
        f
    }
}

fn cstrings(what: &str, v: &[String]) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| CString::new(s.as_str()).with_context(|| format!("{what} {s:?} holds a NUL byte")))
        .collect()
}

fn invalid(msg: String) -> anyhow::Error {
    crate::error::kind_err(ErrorKind::InvalidArgument, msg)
}

/// Plan the container of bundle `b`.
pub fn build(b: &Bundle, id: &str) -> Result<Plan> {
    let spec = &b.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| invalid("config.json has no process".into()))?;
    let args: Vec<String> = process.args().clone().unwrap_or_default();
    let Some(arg0) = args.first().cloned() else {
        return Err(invalid("process.args is empty: no command to run".into()));
    };
    let env: Vec<String> = process.env().clone().unwrap_or_default();
    let no_linux;
    let linux = match spec.linux() {
        Some(l) => l,
        None => {
            no_linux = oci_spec::runtime::Linux::default();
            &no_linux
        }
    };

    let ns = ns::plan(linux.namespaces().as_deref().unwrap_or(&[]))?;
    let joins_userns = ns.join.iter().any(|j| j.flag == CloneFlags::CLONE_NEWUSER);
    let has_uts = ns.create.contains(CloneFlags::CLONE_NEWUTS)
        || ns.join.iter().any(|j| j.flag == CloneFlags::CLONE_NEWUTS);
    if joins_userns && !ns.create.contains(CloneFlags::CLONE_NEWUSER) && !ns.create.is_empty() {
        // The namespaces the clone makes would belong to the host's user
        // namespace, beyond the reach of the joined one.
        bail!("joining a user namespace by path while creating other namespaces is not supported");
    }
    // skiff's own rootless namespace counts too: mknod is refused there.
    let in_userns = joins_userns
        || ns.create.contains(CloneFlags::CLONE_NEWUSER)
        || crate::util::ids::in_userns();
    if !ns.create.contains(CloneFlags::CLONE_NEWNS) {
        bail!("the runtime needs a new mount namespace (add {{\"type\": \"mount\"}})");
    }
    let hostname = spec.hostname().clone().filter(|h| !h.is_empty());
    let domainname = spec.domainname().clone().filter(|h| !h.is_empty());
    if (hostname.is_some() || domainname.is_some()) && !has_uts {
        return Err(invalid(
            "a hostname needs a UTS namespace of its own".into(),
        ));
    }

    let mut mounts_out = Vec::new();
    let mut has_dev = false;
    for m in spec.mounts().iter().flatten() {
        let mut ms = mounts::parse(m, &b.dir)?;
        if ms.kind == mounts::Kind::Cgroup {
            ms.source = super::cgroupfs::host_cgroup2_source();
        }
        if clean(&ms.dest) == Path::new("dev") {
            has_dev = true;
        }
        mounts_out.push(ms);
    }

    let user = process.user();
    let caps = caps::plan(process.capabilities().as_ref(), &caps::available())?;
    let no_new_privs = process.no_new_privileges().unwrap_or(false);
    let seccomp = match linux.seccomp() {
        Some(s) => seccomp::compile(s)?,
        None => Filters::default(),
    };
    let keeps_sys_admin = caps
        .as_ref()
        .is_none_or(|c| c.effective.contains(&::caps::Capability::CAP_SYS_ADMIN));
    let mut sysctls: Vec<(String, String)> = linux
        .sysctl()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    sysctls.sort();
    let cwd = process.cwd().clone();
    if !cwd.is_absolute() {
        return Err(invalid(format!(
            "process.cwd {} is not an absolute path",
            cwd.display()
        )));
    }
    let console_size = process.console_size().map(|b| {
        (
            b.height().min(u16::MAX as u64) as u16,
            b.width().min(u16::MAX as u64) as u16,
        )
    });

    Ok(Plan {
        id: id.to_string(),
        uid_maps: linux.uid_mappings().clone().unwrap_or_default(),
        gid_maps: linux.gid_mappings().clone().unwrap_or_default(),
        in_userns,
        rootfs: b.rootfs.clone(),
        overlay: b
            .overlay
            .clone()
            .filter(|o| o.driver == crate::store::driver::Driver::Overlay),
        premounted: Default::default(),
        propagation: rootfs::propagation(linux.rootfs_propagation().as_deref())?,
        dev_mount: (!has_dev).then(dev::default_mount),
        mounts: mounts_out,
        devices: dev::from_spec(linux.devices().as_deref().unwrap_or(&[]))?,
        masked: linux
            .masked_paths()
            .iter()
            .flatten()
            .map(PathBuf::from)
            .collect(),
        readonly: linux
            .readonly_paths()
            .iter()
            .flatten()
            .map(PathBuf::from)
            .collect(),
        sysctls,
        root_readonly: spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false),
        hostname,
        domainname,
        rlimits: rlimits::from_spec(process.rlimits().as_deref().unwrap_or(&[]))?,
        oom_score_adj: process.oom_score_adj(),
        no_new_privs,
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask().unwrap_or(0o022),
        seccomp_early: !no_new_privs && !keeps_sys_admin,
        caps,
        seccomp,
        cwd,
        path_env: super::exec::path_of_env(&env).map(str::to_string),
        args: cstrings("argument", &args)?,
        env: cstrings("environment entry", &env)?,
        arg0,
        terminal: process.terminal().unwrap_or(false),
        console_size,
        parent_death_signal: Some(Signal::SIGKILL),
        init: wants_init(spec),
        ns,
        cgroup: None,
    })
}

/// Does the spec ask for the built-in init (`--init`)?
pub fn wants_init(spec: &oci_spec::runtime::Spec) -> bool {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get(super::spec::ANNOTATION_INIT))
        .is_some_and(|v| v == "true")
}
