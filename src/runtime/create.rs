//! What a container needs on disk before it starts, besides its spec: the
//! overlay plan for its root file system and the `/etc/hosts`,
//! `/etc/hostname` and `/etc/resolv.conf` files bound into it.

use crate::util::fs::atomic_write;
use anyhow::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The annotation the runtime reads to mount the rootfs overlay inside the
/// container's own mount namespace (so no crash can leak it on the host).
pub const OVERLAY_ANNOTATION: &str = "org.skiff.rootfs.overlay";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OverlayPlan {
    /// Lower directories, top layer first (overlayfs's order).
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
}

impl OverlayPlan {
    /// The plan for image layers given bottom first (as images list them).
    pub fn new(layers_bottom_first: &[PathBuf], container_dir: &Path) -> OverlayPlan {
        OverlayPlan {
            lower: layers_bottom_first.iter().rev().cloned().collect(),
            upper: container_dir.join("upper"),
            work: container_dir.join("work"),
        }
    }

    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("paths serialize")
    }
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
    /// `--add-host name:ip`.
    pub extra_hosts: Vec<(String, String)>,
}

/// Docker's fallback when the host's resolvers are all loopback ones
/// (unreachable from a container's own network namespace).
const DEFAULT_DNS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

fn is_loopback_ns(addr: &str) -> bool {
    addr.starts_with("127.") || addr == "::1" || addr.starts_with("0:0:0:0:0:0:0:1")
}

/// The container's resolv.conf from the host's, the way Docker makes it:
/// loopback nameservers dropped (replaced by public defaults when none are
/// left), `--dns*` flags taking precedence.
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

/// Write `hosts`, `hostname` and `resolv.conf` into the container's dir.
pub fn write_etc_files(container_dir: &Path, opts: &EtcOptions) -> Result<EtcFiles> {
    let files = EtcFiles {
        hosts: container_dir.join("hosts"),
        hostname: container_dir.join("hostname"),
        resolv_conf: container_dir.join("resolv.conf"),
    };
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let host_hosts = std::fs::read_to_string("/etc/hosts").ok();
    atomic_write(&files.hosts, hosts(opts, host_hosts.as_deref()).as_bytes())?;
    atomic_write(&files.hostname, format!("{}\n", opts.hostname).as_bytes())?;
    atomic_write(
        &files.resolv_conf,
        resolv_conf(&host_resolv, opts).as_bytes(),
    )?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let p = OverlayPlan::new(
            &[PathBuf::from("/l/a"), PathBuf::from("/l/b")],
            Path::new("/c"),
        );
        assert_eq!(p.lower, vec![PathBuf::from("/l/b"), PathBuf::from("/l/a")]);
        assert_eq!(
            p.to_annotation(),
            r#"{"lower":["/l/b","/l/a"],"upper":"/c/upper","work":"/c/work"}"#
        );
    }
}
