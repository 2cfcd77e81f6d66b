//! Registry clients built from the configuration and the command's flags:
//! which credentials, which certificates, whether TLS may be skipped.

use crate::config::Config;
use crate::registry::authfile;
use crate::registry::reference::Reference;
use crate::registry::{Client, ClientOptions, Credentials};
use anyhow::{Context, Result};
use std::path::PathBuf;

/// The registry flags pull, push and login share (Podman's spellings).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RegistryFlags {
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Use certificates at DIR (*.crt, *.cert, *.key, directly or in HOST:PORT subdirectories)
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Credentials (USERNAME[:PASSWORD]) to use for authenticating to the registry
    #[arg(long, value_name = "USER:PASS")]
    pub creds: Option<String>,
}

impl RegistryFlags {
    pub fn credentials(&self) -> Result<Option<Credentials>> {
        Ok(self.creds.as_ref().map(|c| {
            let (u, p) = c.split_once(':').unwrap_or((c.as_str(), ""));
            Credentials {
                username: u.to_string(),
                password: p.to_string(),
            }
        }))
    }
}

/// Is this registry one the user marked insecure (or did they ask to skip
/// verification for this command)?
pub fn is_insecure(cfg: &Config, domain: &str, flags: &RegistryFlags) -> bool {
    flags.tls_verify == Some(false) || cfg.insecure_registries.iter().any(|r| r == domain)
}

/// A client for the registry a reference names.
pub fn client_for(cfg: &Config, reference: &Reference, flags: &RegistryFlags) -> Result<Client> {
    client_for_host(cfg, &reference.domain, &reference.api_host(), flags)
}

/// A client for a registry host; `domain` keys credentials and the insecure
/// list (`docker.io`), `api_host` is where requests go.
pub fn client_for_host(
    cfg: &Config,
    domain: &str,
    api_host: &str,
    flags: &RegistryFlags,
) -> Result<Client> {
    let mut opts = ClientOptions {
        insecure: is_insecure(cfg, domain, flags),
        ..ClientOptions::default()
    };
    opts.credentials = match flags.credentials()? {
        Some(c) => Some(c),
        None => {
            authfile::lookup(domain).with_context(|| format!("read credentials for {domain}"))?
        }
    };
    if let Some(dir) = &flags.cert_dir {
        opts.cert_dirs.insert(0, dir.clone());
        opts.host_cert_dir = Some(dir.clone());
    }
    Client::new(api_host, opts)
}
