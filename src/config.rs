//! Where the store lives and what the user configured: store and runtime
//! roots, rootless mode, registry search list and insecure registries.
//!
//! The configuration file is JSON (the shape of Docker's daemon.json for the
//! keys they share): `/etc/skiff/config.json` for root,
//! `$XDG_CONFIG_HOME/skiff/config.json` (default `~/.config/skiff`) for
//! everyone else; `SKIFF_CONFIG` names another.
//!
//! ```json
//! { "unqualified-search-registries": ["docker.io"],
//!   "insecure-registries": ["myreg.local:5000"],
//!   "storage-driver": "overlay", "firewall-driver": "nftables" }
//! ```

use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// The settings every command runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The persistent store (`/var/lib/skiff` or `~/.local/share/skiff`).
    pub root: PathBuf,
    /// Volatile state (`/run/skiff` or `$XDG_RUNTIME_DIR/skiff`).
    pub runroot: PathBuf,
    /// Running as an unprivileged user.
    pub rootless: bool,
    pub log_level: LogLevel,
    /// Registries tried, in order, for a name without one.
    pub search_registries: Vec<String>,
    /// Registries spoken to over plain HTTP or without verifying TLS.
    pub insecure_registries: Vec<String>,
    /// The file the configuration was read from, if any.
    pub config_file: Option<PathBuf>,
    /// The storage driver new containers must use (`--storage-driver`,
    /// `STORAGE_DRIVER`, `storage-driver` in the file); `None`: the
    /// store's own (`store::driver`).
    pub storage_driver: Option<crate::store::driver::Driver>,
    /// The packet filter networks are set up with (`SKIFF_FIREWALL_DRIVER`,
    /// `firewall-driver` in the file: `nftables` or `iptables`); `None`:
    /// nft when installed, else iptables.
    pub firewall_driver: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct FileConfig {
    #[serde(default)]
    unqualified_search_registries: Option<Vec<String>>,
    #[serde(default)]
    insecure_registries: Option<Vec<String>>,
    #[serde(default)]
    storage_driver: Option<String>,
    #[serde(default)]
    firewall_driver: Option<String>,
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> PathBuf {
    env_path("HOME").unwrap_or_else(|| PathBuf::from("/"))
}

/// Is this process unprivileged: an effective uid other than 0, or root
/// only inside a user namespace (where skiff moves itself, `ns::rootless`)?
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root() || crate::util::ids::in_userns()
}

/// The directory for user configuration (`$XDG_CONFIG_HOME/skiff`).
pub fn user_config_dir() -> PathBuf {
    env_path("XDG_CONFIG_HOME")
        .unwrap_or_else(|| home().join(".config"))
        .join("skiff")
}

impl Config {
    /// Defaults for this user, overridden by the flags given.
    pub fn load(
        root: Option<PathBuf>,
        runroot: Option<PathBuf>,
        log_level: LogLevel,
        storage_driver: Option<String>,
    ) -> Result<Config> {
        let rootless = is_rootless();
        let root = root.unwrap_or_else(|| {
            if rootless {
                env_path("XDG_DATA_HOME")
                    .unwrap_or_else(|| home().join(".local/share"))
                    .join("skiff")
            } else {
                PathBuf::from("/var/lib/skiff")
            }
        });
        let runroot = runroot.unwrap_or_else(|| {
            if rootless {
                match env_path("XDG_RUNTIME_DIR") {
                    Some(d) => d.join("skiff"),
                    None => PathBuf::from(format!("/tmp/skiff-{}", crate::util::ids::outer_uid())),
                }
            } else {
                PathBuf::from("/run/skiff")
            }
        });
        let config_file = env_path("SKIFF_CONFIG").or_else(|| {
            let p = if rootless {
                user_config_dir().join("config.json")
            } else {
                PathBuf::from("/etc/skiff/config.json")
            };
            p.exists().then_some(p)
        });
        let file = match &config_file {
            Some(p) => read_file_config(p)?,
            None => FileConfig::default(),
        };
        let storage_driver = storage_driver
            .filter(|d| !d.is_empty())
            .or(file.storage_driver.clone())
            .map(|d| crate::store::driver::Driver::parse(&d))
            .transpose()?;
        Ok(Config {
            root: absolute(root)?,
            runroot: absolute(runroot)?,
            rootless,
            log_level,
            search_registries: file
                .unqualified_search_registries
                .unwrap_or_else(|| vec!["docker.io".to_string()]),
            insecure_registries: file.insecure_registries.unwrap_or_default(),
            config_file,
            storage_driver,
            firewall_driver: std::env::var("SKIFF_FIREWALL_DRIVER")
                .ok()
                .filter(|d| !d.is_empty())
                .or(file.firewall_driver),
        })
    }
}

fn absolute(p: PathBuf) -> Result<PathBuf> {
    if p.is_absolute() {
        Ok(p)
    } else {
        Ok(std::env::current_dir()
            .context("read the current directory")?
            .join(p))
    }
}

fn read_file_config(p: &Path) -> Result<FileConfig> {
    let data = std::fs::read(p).with_context(|| format!("read config {}", p.display()))?;
    serde_json::from_slice(&data).with_context(|| format!("parse config {}", p.display()))
}
