//! The spec's mount list, in Docker's order: its standard mounts (minus
//! those a user mount replaces), then binds, volumes, tmpfs and the
//! `/etc/hosts|hostname|resolv.conf` binds sorted so parents come before
//! what is mounted inside them.

use crate::runtime::defaults::{default_mounts, mount, DEFAULT_DEVICES, DEFAULT_SHM_SIZE};
use crate::runtime::opts::{MountKind, Propagation};
use crate::runtime::spec::{ResolvedMount, SpecInput};
use anyhow::{anyhow, Result};
use oci_spec::runtime::Mount;
use std::path::{Path, PathBuf};

/// The mount options a host-backed mount (bind or volume) gets.
fn bind_options(recursive: bool, readonly: bool, propagation: Propagation) -> Vec<String> {
    let mut o = vec![if recursive { "rbind" } else { "bind" }.to_string()];
    if readonly {
        o.push("ro".into());
    }
    o.push(propagation.as_str().into());
    o
}

fn bind_mount(dest: &str, source: &Path, options: Vec<String>) -> Mount {
    let mut m = mount(dest, "bind", "", &[]);
    m.set_source(Some(source.to_path_buf()))
        .set_options(Some(options));
    m
}

/// One user mount as a spec entry.
fn user_mount(r: &ResolvedMount) -> Result<Mount> {
    let req = &r.request;
    match req.kind {
        MountKind::Tmpfs => {
            let mut m = mount(&req.target, "tmpfs", "tmpfs", &[]);
            m.set_options(Some(req.tmpfs_options.clone()));
            Ok(m)
        }
        MountKind::Bind | MountKind::Volume => {
            let source = r.host_path.as_deref().ok_or_else(|| {
                anyhow!(
                    "{} mount on {} has no host path",
                    req.kind.as_str(),
                    req.target
                )
            })?;
            Ok(bind_mount(
                &req.target,
                source,
                bind_options(req.recursive, req.readonly, req.propagation),
            ))
        }
    }
}

/// How deep a mount sits (`/` counts), the sort key that puts `/data`
/// before `/data/cache`.
fn depth(m: &Mount) -> usize {
    m.destination().to_string_lossy().matches('/').count()
}

/// The rootfs propagation Docker picks: shared if any bind is shared (so
/// the propagation can reach it), else slave if any is a slave, else the
/// runtime's default.
pub fn rootfs_propagation(mounts: &[ResolvedMount]) -> Option<&'static str> {
    let props: Vec<Propagation> = mounts
        .iter()
        .filter(|m| m.request.kind != MountKind::Tmpfs)
        .map(|m| m.request.propagation)
        .collect();
    if props
        .iter()
        .any(|p| matches!(p, Propagation::Shared | Propagation::RShared))
    {
        Some("rshared")
    } else if props
        .iter()
        .any(|p| matches!(p, Propagation::Slave | Propagation::RSlave))
    {
        Some("rslave")
    } else {
        None
    }
}

/// Build the mount list.
pub fn build_mounts(input: &SpecInput) -> Result<Vec<Mount>> {
    let opts = input.opts;
    let mut user: Vec<Mount> = input.mounts.iter().map(user_mount).collect::<Result<_>>()?;
    let user_targets: Vec<PathBuf> = user.iter().map(|m| m.destination().clone()).collect();
    let covered = |dest: &str| user_targets.iter().any(|t| t == Path::new(dest));

    // The container's own /etc files; writable unless the root is read-only.
    let files = [
        ("/etc/resolv.conf", &input.files.resolv_conf),
        ("/etc/hostname", &input.files.hostname),
        ("/etc/hosts", &input.files.hosts),
        ("/etc/passwd", &input.files.passwd),
        ("/etc/group", &input.files.group),
    ];
    for (dest, src) in files {
        if let Some(src) = src {
            if !covered(dest) {
                user.push(bind_mount(
                    dest,
                    src,
                    bind_options(true, opts.read_only, Propagation::RPrivate),
                ));
            }
        }
    }
    user.sort_by_key(depth);

    let shm = opts.shm_size.unwrap_or(DEFAULT_SHM_SIZE);
    let dev_replaced = covered("/dev");
    let mut out: Vec<Mount> = default_mounts(shm, opts.privileged)
        .into_iter()
        .filter(|m| {
            let dest = m.destination().to_string_lossy();
            let replaced = covered(&dest) || (dev_replaced && dest.starts_with("/dev/"));
            !replaced
        })
        .collect();
    if input.rootless {
        rootless_mounts(&mut out, input, &covered);
    }
    shm_share(&mut out, &opts.shares);
    out.extend(user);
    Ok(out)
}

/// `/dev/shm` by `--ipc`: none at all (`none`), the host's (`host`);
/// otherwise the container's own tmpfs. (A joined container's cannot be
/// bound: it is a mount of that container's own mount namespace.)
fn shm_share(out: &mut Vec<Mount>, shares: &super::opts::share::Shares) {
    use super::opts::share::Share;
    let source = match &shares.ipc {
        Share::Own if shares.ipc_none => None,
        Share::Host => Some(PathBuf::from("/dev/shm")),
        Share::Own | Share::Container(_) => return,
    };
    let Some(i) = out
        .iter()
        .position(|m| m.destination() == Path::new("/dev/shm"))
    else {
        return;
    };
    match source {
        None => {
            out.remove(i);
        }
        Some(src) => {
            let mut m = Mount::default();
            m.set_destination(PathBuf::from("/dev/shm"))
                .set_typ(Some("bind".into()))
                .set_source(Some(src))
                .set_options(Some(
                    ["rbind", "nosuid", "noexec", "nodev"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                ));
            out[i] = m;
        }
    }
}

/// What changes in a user namespace: no `gid=5` on `/dev/pts` (the group
/// may not be mapped); `/sys` bound from the host when the container has no
/// network namespace of its own (sysfs can only be mounted by the owner of
/// the current one); the cgroup tree bound read-only (a v1 hierarchy cannot
/// be mounted there); device nodes bound from the host (mknod is refused).
fn rootless_mounts(out: &mut Vec<Mount>, input: &SpecInput, covered: &dyn Fn(&str) -> bool) {
    let ro_bind: Vec<String> = ["rbind", "nosuid", "noexec", "nodev", "ro"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let own_netns = input.opts.network.private_netns();
    use super::opts::share::Share;
    let rw_bind: Vec<String> = ["rbind", "nosuid", "noexec", "nodev"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut kept = Vec::new();
    for mut m in out.drain(..) {
        let dest = m.destination().to_string_lossy().into_owned();
        match dest.as_str() {
            // The host's pid and IPC namespaces are not the user
            // namespace's to mount procfs or mqueue for: the host's own
            // are bound instead, as Podman does.
            "/proc" if input.opts.shares.pid == Share::Host => {
                m = bind_mount("/proc", Path::new("/proc"), rw_bind.clone());
            }
            "/dev/mqueue" if input.opts.shares.ipc == Share::Host => {
                if !Path::new("/dev/mqueue").is_dir() {
                    continue;
                }
                m = bind_mount("/dev/mqueue", Path::new("/dev/mqueue"), rw_bind.clone());
            }
            "/dev/pts" => {
                let options = m.options().clone().unwrap_or_default();
                m.set_options(Some(options.into_iter().filter(|o| o != "gid=5").collect()));
            }
            "/sys" if !own_netns => {
                m = bind_mount("/sys", Path::new("/sys"), ro_bind.clone());
            }
            "/sys/fs/cgroup" if !own_netns => continue, // inside the /sys bind
            "/sys/fs/cgroup" => {
                m = bind_mount(
                    "/sys/fs/cgroup",
                    Path::new("/sys/fs/cgroup"),
                    ro_bind.clone(),
                );
            }
            _ => {}
        }
        kept.push(m);
    }
    *out = kept;
    let dev_opts = vec!["bind".to_string(), "nosuid".into(), "noexec".into()];
    let standard = DEFAULT_DEVICES
        .iter()
        .map(|(p, _, _)| (*p, PathBuf::from(p)));
    let requested = input.devices.iter().map(|d| {
        (
            d.device.path().to_str().unwrap_or_default(),
            d.host_path.clone(),
        )
    });
    // A --device for a standard path replaces the standard one.
    let dev_replaced = covered("/dev");
    for (dest, host) in requested.chain(standard) {
        let taken = out.iter().any(|m| m.destination() == Path::new(dest));
        if !dev_replaced && !covered(dest) && !taken {
            out.push(bind_mount(dest, &host, dev_opts.clone()));
        }
    }
}

#[cfg(test)]
#[path = "spec_mounts_tests.rs"]
mod tests;
