//! What a container needs on disk before it starts, besides its spec: the
//! overlay plan for its root file system and the `/etc/hosts`,
//! `/etc/hostname` and `/etc/resolv.conf` files bound into it.

use crate::util::fs::write_new;
use crate::util::idshift::IdShift;
use anyhow::Result;
use std::path::{Path, PathBuf};

pub use super::bundle::{Overlay, OVERLAY_ANNOTATION};

/// The overlay of an image's layers, given bottom first (as images list
/// them), for the container in `container_dir`: its `upper` and `work`
/// there.
pub fn overlay_plan(layers_bottom_first: &[PathBuf], container_dir: &Path) -> Overlay {
    Overlay {
        lower: layers_bottom_first.iter().rev().cloned().collect(),
        upper: Some(container_dir.join("upper")),
        work: Some(container_dir.join("work")),
        volatile: false,
        driver: Default::default(),
        idmap: false,
        shifted: false,
        userxattr: false,
    }
}

/// The annotation's text for `o`.
pub fn to_annotation(o: &Overlay) -> String {
    serde_json::to_string(o).expect("paths serialize")
}

/// How the container's name resolution is set up.
#[derive(Debug, Clone, Default)]
pub struct EtcOptions {
    pub hostname: String,
    /// `--network host`: the host's own files are used.
    pub host_network: bool,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// The address where a user-space network stack passes DNS queries
    /// on to the host's resolvers: it stands in for the host's loopback
    /// ones.
    pub stack_dns: Option<String>,
    /// `--add-host name:ip`.
    pub extra_hosts: Vec<(String, String)>,
}

/// Docker's fallback when the host's resolvers are all loopback ones
/// (unreachable from a container's own network namespace).
const DEFAULT_DNS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

fn is_loopback_ns(addr: &str) -> bool {
    addr.starts_with("127.") || addr == "::1" || addr.starts_with("0:0:0:0:0:0:0:1")
}

/// Where systemd-resolved lists the servers its stub asks.
const SYSTEMD_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

/// The host's resolver list for a container with a network of its own:
/// `/etc/resolv.conf`, unless it names only systemd-resolved's stub
/// (127.0.0.53, out of a container's reach), whose upstream servers
/// (`upstream`) are taken instead, as Docker and Podman take them.
fn pick_resolv(etc: String, upstream: Option<String>) -> String {
    let stub_only = {
        let mut servers = nameservers(&etc).peekable();
        servers.peek().is_some() && servers.all(|a| a == "127.0.0.53")
    };
    match upstream {
        Some(u) if stub_only && u.lines().any(|l| l.starts_with("nameserver")) => u,
        _ => etc,
    }
}

/// The host's resolv.conf a container's is made from: the host's own for
/// `--network host`, else systemd-resolved's upstream list in place of
/// its stub.
pub fn host_resolv(host_network: bool) -> String {
    let etc = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if host_network {
        return etc;
    }
    let upstream = std::fs::read_to_string(SYSTEMD_UPSTREAM).ok();
    pick_resolv(etc, upstream)
}

/// The addresses of a resolv.conf's `nameserver` lines, read as glibc
/// reads them (what follows the address is no part of it).
fn nameservers(resolv: &str) -> impl Iterator<Item = &str> {
    resolv.lines().filter_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("nameserver")).then(|| w.next()).flatten()
    })
}

/// The first loopback nameserver of a resolv.conf (a resolver on the
/// host's loopback, which a container's own namespace cannot reach).
pub fn loopback_resolver(resolv: &str) -> Option<String> {
    nameservers(resolv)
        .filter_map(|a| a.parse::<std::net::Ipv4Addr>().ok())
        .find(|a| a.is_loopback())
        .map(|a| a.to_string())
}

/// The container's resolv.conf from the host's, the way Docker makes it:
/// loopback nameservers dropped (replaced by public defaults when none are
/// left), `--dns*` flags taking precedence. With a user-space stack's
/// DNS forwarder, that takes the loopback ones' place instead: it reaches
/// them from the host.
pub fn resolv_conf(host: &str, opts: &EtcOptions) -> String {
    let mut ns: Vec<String> = Vec::new();
    let mut search: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(a) = words.next() {
                    if opts.host_network || !is_loopback_ns(a) {
                        ns.push(a.to_string());
                    } else if let Some(fwd) = &opts.stack_dns {
                        if !ns.contains(fwd) {
                            ns.push(fwd.clone());
                        }
                    }
                }
            }
            Some("search") | Some("domain") => search = words.map(String::from).collect(),
            Some("options") => options.extend(words.map(String::from)),
            _ => {}
        }
    }
    if !opts.dns.is_empty() {
        ns = opts.dns.clone();
    } else if ns.is_empty() {
        ns = DEFAULT_DNS.iter().map(|s| s.to_string()).collect();
    }
    if !opts.dns_search.is_empty() {
        search = opts
            .dns_search
            .iter()
            .filter(|s| *s != ".")
            .cloned()
            .collect();
    }
    if !opts.dns_options.is_empty() {
        options = opts.dns_options.clone();
    }
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for n in ns {
        out.push_str(&format!("nameserver {n}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// The container's /etc/hosts: Docker's localhost block, the container's
/// own name, then `--add-host` entries.
pub fn hosts(opts: &EtcOptions, host_hosts: Option<&str>) -> String {
    let mut out = String::new();
    if let (true, Some(h)) = (opts.host_network, host_hosts) {
        out.push_str(h);
        if !h.ends_with('\n') {
            out.push('\n');
        }
    } else {
        out.push_str(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n",
        );
        if !opts.hostname.is_empty() {
            out.push_str(&format!("127.0.1.1\t{}\n", opts.hostname));
        }
    }
    for (name, ip) in &opts.extra_hosts {
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    out
}

/// Paths of the files written for a container.
#[derive(Debug, Clone)]
pub struct EtcFiles {
    pub hosts: PathBuf,
    pub hostname: PathBuf,
    pub resolv_conf: PathBuf,
}

/// Write `hosts`, `hostname` and `resolv.conf` into the new container's
/// dir (they must not be there yet).
pub fn write_etc_files(container_dir: &Path, opts: &EtcOptions) -> Result<EtcFiles> {
    let files = EtcFiles {
        hosts: container_dir.join("hosts"),
        hostname: container_dir.join("hostname"),
        resolv_conf: container_dir.join("resolv.conf"),
    };
    let host_resolv = host_resolv(opts.host_network);
    let host_hosts = std::fs::read_to_string("/etc/hosts").ok();
    write_new(&files.hosts, hosts(opts, host_hosts.as_deref()).as_bytes())?;
    write_new(&files.hostname, format!("{}\n", opts.hostname).as_bytes())?;
    write_new(
        &files.resolv_conf,
        resolv_conf(&host_resolv, opts).as_bytes(),
    )?;
    Ok(files)
}

/// Read a file of the image (`etc/passwd`) through its layers, top layer
/// first, the way the overlay will show it: the first layer holding the
/// path wins; a whiteout there (a 0:0 character device) hides it.
/// Symlinks are not followed (a hostile image could point out of its
/// layers); such a file reads as absent.
pub fn image_file(layers_top_first: &[PathBuf], rel: &str) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    for dir in layers_top_first {
        let p = dir.join(rel);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_file() => return std::fs::read_to_string(&p).ok(),
            Ok(m) if m.file_type().is_char_device() => return None,
            Ok(_) => return None,
            Err(_) => {}
        }
    }
    None
}

/// Copy the image's content at `path` into a new volume, as Docker does
/// the first time a volume is mounted over a non-empty image directory.
/// The layers are mounted read-only (an overlay with no upper dir) on a
/// private temporary mount point for the copy, then unmounted.
pub fn copy_up(
    layers_top_first: &[PathBuf],
    path: &str,
    dest: &Path,
    scratch: &Path,
    shift: &IdShift,
) -> Result<()> {
    use anyhow::Context;
    let rel = path.trim_start_matches('/');
    // Nothing to copy when no layer has the directory.
    if !layers_top_first.iter().any(|l| l.join(rel).is_dir()) {
        return Ok(());
    }
    std::fs::create_dir_all(scratch)?;
    let lower = layers_top_first
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    // A single lower dir cannot be an overlay without an upper: bind it.
    let res = if layers_top_first.len() == 1 {
        nix::mount::mount(
            Some(&layers_top_first[0]),
            scratch,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_RDONLY,
            None::<&str>,
        )
    } else {
        nix::mount::mount(
            Some("overlay"),
            scratch,
            Some("overlay"),
            nix::mount::MsFlags::MS_RDONLY,
            Some(format!("lowerdir={lower}").as_str()),
        )
    };
    res.with_context(|| format!("mount the image's layers on {}", scratch.display()))?;
    let src = scratch.join(rel);
    // The path is the image's to define: a symlink in it would lead the
    // copy out of the image (to the host's own files), so none is followed.
    let mut at = scratch.to_path_buf();
    let mut linked = false;
    for part in Path::new(rel).components() {
        at.push(part);
        linked |= std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink());
    }
    let res = if linked || !src.is_dir() {
        Ok(())
    } else {
        copy_tree(&src, dest, shift)
    };
    let _ = nix::mount::umount2(scratch, nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir(scratch);
    res.with_context(|| format!("copy {path} from the image into the volume"))?;
    Ok(())
}

/// Copy a directory's content with modes, owners (moved by `shift`, the
/// container's maps) and links (what `cp -a` does for the kinds of files
/// volumes hold).
fn copy_tree(src: &Path, dest: &Path, shift: &IdShift) -> Result<()> {
    use anyhow::Context;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(src)?;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    std::os::unix::fs::lchown(
        dest,
        Some(shift.uid(meta.uid())),
        Some(shift.gid(meta.gid())),
    )?;
    for entry in std::fs::read_dir(src).with_context(|| format!("read {}", src.display()))? {
        let entry = entry?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let m = std::fs::symlink_metadata(&from)?;
        let t = m.file_type();
        if t.is_dir() {
            std::fs::create_dir(&to).with_context(|| format!("create {}", to.display()))?;
            copy_tree(&from, &to, shift)?;
            continue;
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)
                .with_context(|| format!("link {}", to.display()))?;
        } else if t.is_file() {
            std::fs::copy(&from, &to).with_context(|| format!("copy {}", to.display()))?;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
        } else {
            // Devices, fifos and sockets do not belong in a volume's seed.
            continue;
        }
        std::os::unix::fs::lchown(&to, Some(shift.uid(m.uid())), Some(shift.gid(m.gid())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_loopback_resolver_is_found() {
        assert_eq!(
            loopback_resolver(
                "search lan\nnameserver 10.0.0.2\nnameserver 127.0.1.1\nnameserver 127.0.0.53\n"
            ),
            Some("127.0.1.1".to_string())
        );
        assert_eq!(
            loopback_resolver("nameserver 10.0.0.2\nnameserver ::1\n"),
            None
        );
        // What follows the address is no part of it.
        assert_eq!(
            loopback_resolver("nameserver\t127.0.0.1 # dnsmasq\n"),
            Some("127.0.0.1".to_string())
        );
        // A user network's gateway stands in for it, the others kept.
        let opts = EtcOptions {
            stack_dns: Some("10.89.0.1".into()),
            ..Default::default()
        };
        assert_eq!(
            resolv_conf("nameserver 127.0.0.1\nnameserver 10.0.0.2\n", &opts),
            "nameserver 10.89.0.1\nnameserver 10.0.0.2\n"
        );
    }

    #[test]
    fn resolv_drops_loopback_like_docker() {
        let host = "nameserver 127.0.0.53\nsearch corp.example\noptions edns0\n";
        let out = resolv_conf(host, &EtcOptions::default());
        assert_eq!(
            out,
            "search corp.example\nnameserver 8.8.8.8\nnameserver 8.8.4.4\noptions edns0\n"
        );
        let out = resolv_conf(
            "nameserver 10.0.0.2\nnameserver 127.0.0.1\n",
            &EtcOptions {
                dns_search: vec!["a.b".into()],
                ..Default::default()
            },
        );
        assert_eq!(out, "search a.b\nnameserver 10.0.0.2\n");
        let out = resolv_conf(
            "nameserver 10.0.0.2\n",
            &EtcOptions {
                dns: vec!["1.1.1.1".into()],
                ..Default::default()
            },
        );
        assert_eq!(out, "nameserver 1.1.1.1\n");
    }

    #[test]
    fn systemd_resolveds_upstream_servers_stand_in_for_its_stub() {
        let stub = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n".to_string();
        let up = "nameserver 192.168.1.1\nsearch lan\n".to_string();
        assert_eq!(pick_resolv(stub.clone(), Some(up.clone())), up);
        // No upstream list, or an empty one: the stub's file as it is.
        assert_eq!(pick_resolv(stub.clone(), None), stub);
        assert_eq!(pick_resolv(stub.clone(), Some("# none\n".into())), stub);
        // Other resolvers beside the stub, or another loopback one: kept.
        let both = "nameserver 127.0.0.53\nnameserver 10.0.0.2\n".to_string();
        assert_eq!(pick_resolv(both.clone(), Some(up.clone())), both);
        let dnsmasq = "nameserver 127.0.0.1\n".to_string();
        assert_eq!(pick_resolv(dnsmasq.clone(), Some(up)), dnsmasq);
    }

    #[test]
    fn a_stacks_forwarder_stands_in_for_loopback_resolvers() {
        let fwd = EtcOptions {
            stack_dns: Some("169.254.1.1".into()),
            ..Default::default()
        };
        // Where the loopback ones were, once.
        let out = resolv_conf(
            "nameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver 127.0.0.1\n",
            &fwd,
        );
        assert_eq!(out, "nameserver 169.254.1.1\nnameserver 10.0.0.2\n");
        // None loopback: the host's as they are.
        let out = resolv_conf("nameserver 10.0.0.2\n", &fwd);
        assert_eq!(out, "nameserver 10.0.0.2\n");
        // --dns wins.
        let out = resolv_conf(
            "nameserver 127.0.0.53\n",
            &EtcOptions {
                dns: vec!["1.1.1.1".into()],
                ..fwd.clone()
            },
        );
        assert_eq!(out, "nameserver 1.1.1.1\n");
    }

    #[test]
    fn hosts_has_localhost_name_and_extras() {
        let h = hosts(
            &EtcOptions {
                hostname: "abc123".into(),
                extra_hosts: vec![("db".into(), "10.1.2.3".into())],
                ..Default::default()
            },
            None,
        );
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("127.0.1.1\tabc123\n"));
        assert!(h.ends_with("10.1.2.3\tdb\n"));
    }

    #[test]
    fn overlay_plan_is_top_first() {
        let p = overlay_plan(
            &[PathBuf::from("/l/a"), PathBuf::from("/l/b")],
            Path::new("/c"),
        );
        assert_eq!(p.lower, vec![PathBuf::from("/l/b"), PathBuf::from("/l/a")]);
        assert_eq!(
            to_annotation(&p),
            r#"{"lower":["/l/b","/l/a"],"upper":"/c/upper","work":"/c/work"}"#
        );
        let vfs = Overlay {
            driver: crate::store::driver::Driver::Vfs,
            upper: None,
            work: None,
            ..p
        };
        assert_eq!(
            to_annotation(&vfs),
            r#"{"lower":["/l/b","/l/a"],"driver":"vfs"}"#
        );
        let back = crate::runtime::bundle::parse_overlay(&to_annotation(&vfs)).unwrap();
        assert_eq!(back.driver, crate::store::driver::Driver::Vfs);
    }
}
