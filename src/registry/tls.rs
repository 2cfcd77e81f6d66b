//! TLS settings per registry host, read the way Docker and Podman read
//! them: the system's CA bundle, plus `<cert_dir>/<host[:port]>/` holding
//! `*.crt` (extra CAs) and `*.cert` + `*.key` pairs (a client certificate).

use anyhow::{bail, Context, Result};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

/// Where the system CA bundle lives: Debian's first, then Fedora's.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// Docker's and Podman's per-host certificate directories.
pub fn default_cert_dirs() -> Vec<PathBuf> {
    vec![
        PathBuf::from("/etc/containers/certs.d"),
        PathBuf::from("/etc/docker/certs.d"),
    ]
}

/// The certificates found for one host.
pub(crate) struct HostTls {
    /// The host had a certificate directory (even an empty one).
    pub has_cert_dir: bool,
    /// Verifying configuration: system roots + the host's CAs (+ client cert).
    pub verified: TlsConfig,
    /// The same without verification, for insecure registries.
    pub unverified: TlsConfig,
}

/// How to reach a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// https, verified: every non-loopback registry not marked insecure.
    Https,
    /// https first (verified unless `insecure`), then plain http when the
    /// TLS attempt fails for a reason other than a bad certificate.
    HttpsThenHttp { verify: bool },
    /// Plain http only.
    Http,
}

/// The rule, after Docker's (which treats 127.0.0.0/8 as an insecure
/// registry by default):
/// - marked insecure (`--tls-verify=false`, the insecure list): https
///   without verification, falling back to http;
/// - loopback (`localhost`, 127.0.0.0/8, `::1`) with a certificate
///   directory for the host: verified https, falling back to http only
///   when the server does not speak TLS (a certificate that fails
///   verification is reported, not bypassed);
/// - loopback without one: http directly, with no TLS attempt (a local
///   registry is almost always plain, and the probe would cost a round
///   trip per command);
/// - everything else: verified https only.
pub(crate) fn plan(host: &str, insecure: bool, has_cert_dir: bool) -> Plan {
    if insecure {
        Plan::HttpsThenHttp { verify: false }
    } else if is_loopback(host) {
        if has_cert_dir {
            Plan::HttpsThenHttp { verify: true }
        } else {
            Plan::Http
        }
    } else {
        Plan::Https
    }
}

/// Is `host[:port]` a loopback name or address?
pub fn is_loopback(host: &str) -> bool {
    let bare = strip_port(host);
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `h:5000` -> `h`, `[::1]:5000` -> `::1`, `::1` -> `::1`.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.matches(':').count() {
        1 => host.split(':').next().unwrap_or(host),
        _ => host,
    }
}

/// Read the system roots and the host's certificate directories:
/// `<base>/<host>/` for each base, and `direct` itself when given (Podman's
/// `--cert-dir`, which names the files' own directory).
pub(crate) fn load(host: &str, cert_dirs: &[PathBuf], direct: Option<&Path>) -> Result<HostTls> {
    let mut roots: Vec<Certificate<'static>> = system_roots().to_vec();
    let mut client = None;
    let mut has_cert_dir = false;
    let dirs = direct
        .map(Path::to_path_buf)
        .into_iter()
        .chain(cert_dirs.iter().map(|b| b.join(host)));
    for dir in dirs {
        if !dir.is_dir() {
            continue;
        }
        has_cert_dir = true;
        let found = read_host_dir(&dir)?;
        roots.extend(found.cas);
        if client.is_none() {
            client = found.client;
        }
    }
    let root_certs = if roots.is_empty() {
        // No system bundle at all: fall back to the roots built into the
        // binary rather than trusting nothing.
        RootCerts::WebPki
    } else {
        RootCerts::new_with_certs(&roots)
    };
    let verified = TlsConfig::builder()
        .root_certs(root_certs)
        .client_cert(client.clone())
        .build();
    let unverified = TlsConfig::builder()
        .disable_verification(true)
        .client_cert(client)
        .build();
    Ok(HostTls {
        has_cert_dir,
        verified,
        unverified,
    })
}

fn system_roots() -> &'static [Certificate<'static>] {
    static ROOTS: OnceLock<Vec<Certificate<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        for path in SYSTEM_BUNDLES {
            if let Ok(pem) = std::fs::read(path) {
                // A bundle with one unparsable entry still gives the rest.
                let certs = certs_in(&pem).unwrap_or_default();
                if !certs.is_empty() {
                    return certs;
                }
            }
        }
        Vec::new()
    })
}

struct HostDir {
    cas: Vec<Certificate<'static>>,
    client: Option<ClientCert>,
}

/// `*.crt` are CAs; `x.cert` pairs with `x.key` into a client certificate.
/// A lone half of a pair is an error, as in Docker: silently skipping it
/// would surface later as a baffling handshake failure.
fn read_host_dir(dir: &Path) -> Result<HostDir> {
    let mut out = HostDir {
        cas: Vec::new(),
        client: None,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("read certificate directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in &entries {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext {
            "crt" => {
                let pem = read(path)?;
                let certs = certs_in(&pem).with_context(|| format!("parse {}", path.display()))?;
                if certs.is_empty() {
                    bail!("no certificate in {}", path.display());
                }
                out.cas.extend(certs);
            }
            "cert" => {
                let key_path = path.with_extension("key");
                if !key_path.exists() {
                    bail!(
                        "missing key {} for client certificate {}",
                        key_path.display(),
                        path.display()
                    );
                }
                let cert_pem = read(path)?;
                let key_pem = read(&key_path)?;
                let chain =
                    certs_in(&cert_pem).with_context(|| format!("parse {}", path.display()))?;
                let key =
                    key_in(&key_pem).with_context(|| format!("parse {}", key_path.display()))?;
                check_client_pair(&cert_pem, &key_pem).with_context(|| {
                    format!(
                        "client certificate {} with key {}",
                        path.display(),
                        key_path.display()
                    )
                })?;
                if out.client.is_none() {
                    out.client = Some(ClientCert::new_with_certs(&chain, key));
                }
            }
            "key" => {
                let cert_path = path.with_extension("cert");
                if !cert_path.exists() {
                    bail!(
                        "missing client certificate {} for key {}",
                        cert_path.display(),
                        path.display()
                    );
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Build a throwaway rustls configuration with the pair, so that a pair
/// rustls cannot use (an X.509 v1 certificate, a key that does not match,
/// an unsupported key type) is reported here: ureq would panic on it at
/// the first connection.
fn check_client_pair(cert_pem: &[u8], key_pem: &[u8]) -> Result<()> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("bad PEM: {e:?}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| anyhow::anyhow!("bad key PEM: {e:?}"))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("set up TLS")?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_client_auth_cert(certs, key)
        .map_err(|e| anyhow::anyhow!("unusable: {e}"))?;
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("read {}", path.display()))
}

fn certs_in(pem: &[u8]) -> Result<Vec<Certificate<'static>>> {
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        if let PemItem::Certificate(c) = item.context("bad PEM")? {
            out.push(c);
        }
    }
    Ok(out)
}

fn key_in(pem: &[u8]) -> Result<PrivateKey<'static>> {
    for item in ureq::tls::parse_pem(pem) {
        if let PemItem::PrivateKey(k) = item.context("bad PEM")? {
            return Ok(k);
        }
    }
    bail!("no private key found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]:5000",
            "::1",
            "LOCALHOST:1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "example.com",
            "10.0.0.1:5000",
            "[fc00::1]:5000",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn plans() {
        assert_eq!(plan("r.example", false, false), Plan::Https);
        assert_eq!(plan("r.example", false, true), Plan::Https);
        assert_eq!(
            plan("r.example", true, false),
            Plan::HttpsThenHttp { verify: false }
        );
        assert_eq!(plan("localhost:5000", false, false), Plan::Http);
        assert_eq!(
            plan("localhost:5000", false, true),
            Plan::HttpsThenHttp { verify: true }
        );
        assert_eq!(
            plan("127.0.0.1:5000", true, false),
            Plan::HttpsThenHttp { verify: false }
        );
    }

    #[test]
    fn host_dir_pairs() {
        let d = tempfile::tempdir().unwrap();
        let host = d.path().join("h:5000");
        std::fs::create_dir(&host).unwrap();
        std::fs::write(host.join("client.key"), "x").unwrap();
        let e = load("h:5000", &[d.path().to_path_buf()], None)
            .err()
            .unwrap();
        assert!(
            format!("{e:#}").contains("missing client certificate"),
            "{e:#}"
        );
        std::fs::remove_file(host.join("client.key")).unwrap();
        std::fs::write(host.join("ca.crt"), "not pem").unwrap();
        let e = load("h:5000", &[d.path().to_path_buf()], None)
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("no certificate in"), "{e:#}");
        std::fs::remove_file(host.join("ca.crt")).unwrap();
        let t = load("h:5000", &[d.path().to_path_buf()], None).unwrap();
        assert!(t.has_cert_dir);
        assert!(
            !load("other", &[d.path().to_path_buf()], None)
                .unwrap()
                .has_cert_dir
        );
    }
}
