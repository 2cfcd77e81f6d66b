//! Test inputs for the spec builder: a `skiff run busybox`-like container
//! whose parts each test changes.

use crate::image::config::RunConfig;
use crate::runtime::defaults::cap_mask;
use crate::runtime::opts::{FlagContext, MountKind, RunFlags, RunOpts};
use crate::runtime::seccomp_profile::{Host, KernelVersion, Profile};
use crate::runtime::spec::{build_spec, HostFiles, ResolvedDevice, ResolvedMount, SpecInput};
use crate::runtime::user::{resolve_user, ResolvedUser};
use anyhow::Result;
use oci_spec::runtime::{Capabilities, LinuxCapabilities, LinuxNamespaceType, Process, Spec};
use std::path::{Path, PathBuf};

pub(crate) const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
pub(crate) const GROUP: &str = "root:x:0:\nwheel:x:10:root\napp:x:1000:\n";

/// Owned inputs for one spec, with defaults close to `skiff run busybox`.
pub(crate) struct Fixture {
    pub(crate) image: RunConfig,
    pub(crate) opts: RunOpts,
    pub(crate) user: ResolvedUser,
    pub(crate) files: HostFiles,
    pub(crate) mounts: Vec<ResolvedMount>,
    pub(crate) devices: Vec<ResolvedDevice>,
    pub(crate) blkio_devices: crate::runtime::opts::blkio::DeviceNumbers,
    pub(crate) profile: Option<Profile>,
    pub(crate) host: Host,
    pub(crate) rootless: bool,
    pub(crate) userns: Option<crate::runtime::spec::UserNs>,
    pub(crate) delegated: Option<PathBuf>,
}

pub(crate) fn image() -> RunConfig {
    RunConfig {
        cmd: Some(vec!["sh".into()]),
        env: Some(vec!["PATH=/usr/bin:/bin".into(), "LANG=C".into()]),
        labels: Some([("maintainer".to_string(), "img".to_string())].into()),
        ..Default::default()
    }
}

pub(crate) fn opts(flags: RunFlags) -> RunOpts {
    let ctx = FlagContext {
        lookup_env: &|_| None,
        read_file: &|_| Ok(String::new()),
        cwd: Path::new("/home/u"),
    };
    RunOpts::from_flags(
        &RunFlags {
            image: "busybox".into(),
            ..flags
        },
        &ctx,
    )
    .unwrap()
}

impl Fixture {
    pub(crate) fn new(flags: RunFlags) -> Fixture {
        let opts = opts(flags);
        let user = resolve_user(
            opts.user.as_deref().unwrap_or(""),
            Some(PASSWD),
            Some(GROUP),
        )
        .unwrap();
        let dir = PathBuf::from("/var/lib/skiff/containers/abc");
        let mounts = opts
            .mounts
            .iter()
            .map(|r| ResolvedMount {
                request: r.clone(),
                host_path: match r.kind {
                    MountKind::Bind => r.source.as_ref().map(PathBuf::from),
                    MountKind::Volume => Some(PathBuf::from(format!(
                        "/var/lib/skiff/volumes/{}/_data",
                        r.source.as_deref().unwrap_or("anon")
                    ))),
                    MountKind::Tmpfs => None,
                },
            })
            .collect();
        Fixture {
            image: image(),
            opts,
            user,
            files: HostFiles {
                hosts: Some(dir.join("hosts")),
                hostname: Some(dir.join("hostname")),
                resolv_conf: Some(dir.join("resolv.conf")),
                passwd: None,
                group: None,
            },
            mounts,
            devices: Vec::new(),
            blkio_devices: Default::default(),
            profile: None,
            host: Host {
                arch: "amd64".into(),
                kernel: KernelVersion(6, 1),
            },
            rootless: false,
            userns: None,
            delegated: None,
        }
    }

    pub(crate) fn build(&self) -> Result<Spec> {
        build_spec(&SpecInput {
            id: "abcdef0123456789",
            hostname: "abcdef012345",
            image: &self.image,
            opts: &self.opts,
            user: &self.user,
            rootfs: Path::new("/var/lib/skiff/containers/abc/rootfs"),
            files: &self.files,
            mounts: &self.mounts,
            devices: &self.devices,
            blkio_devices: &self.blkio_devices,
            seccomp_profile: self.profile.as_ref(),
            host: &self.host,
            rootless: self.rootless,
            userns: self.userns.as_ref(),
            delegated: self.delegated.as_deref(),
            netns: None,
        })
    }

    pub(crate) fn spec(&self) -> Spec {
        self.build().unwrap()
    }
}

pub(crate) fn proc_of(s: &Spec) -> &Process {
    s.process().as_ref().unwrap()
}

pub(crate) fn linux(s: &Spec) -> &oci_spec::runtime::Linux {
    s.linux().as_ref().unwrap()
}

pub(crate) fn caps(s: &Spec) -> &LinuxCapabilities {
    proc_of(s).capabilities().as_ref().unwrap()
}

pub(crate) fn mask(set: &Option<Capabilities>) -> u64 {
    cap_mask(set.as_ref().unwrap())
}

pub(crate) fn dests(s: &Spec) -> Vec<String> {
    s.mounts()
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| m.destination().to_string_lossy().into_owned())
        .collect()
}

pub(crate) fn mount_of<'a>(s: &'a Spec, dest: &str) -> &'a oci_spec::runtime::Mount {
    s.mounts()
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.destination() == Path::new(dest))
        .unwrap_or_else(|| panic!("no mount on {dest}"))
}

pub(crate) fn options(s: &Spec, dest: &str) -> Vec<String> {
    mount_of(s, dest).options().clone().unwrap_or_default()
}

pub(crate) fn ns_kinds(s: &Spec) -> Vec<LinuxNamespaceType> {
    linux(s)
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| n.typ())
        .collect()
}
