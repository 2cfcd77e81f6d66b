//! Platforms (`os/arch[/variant]`) and choosing one from a manifest list.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An OCI platform as manifest lists carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
}

/// Go's GOARCH name for a Rust target architecture.
fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64" => "mips64le",
        other => other,
    }
}

impl Platform {
    /// The machine skiff runs on.
    pub fn host() -> Platform {
        let architecture = go_arch(std::env::consts::ARCH).to_string();
        let variant = match architecture.as_str() {
            "arm64" => Some("v8".to_string()),
            "arm" => Some("v7".to_string()),
            _ => None,
        };
        Platform {
            architecture,
            os: "linux".into(),
            variant,
            ..Default::default()
        }
    }

    /// Parse `os/arch[/variant]` as `--platform` takes it (`linux/arm64/v8`,
    /// `linux/amd64`); Docker's aliases (`x86_64`, `aarch64`) are accepted.
    pub fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            bail!("invalid platform {s:?}: expected os/arch[/variant]");
        }
        let os = parts[0].to_lowercase();
        let mut architecture = parts[1].to_lowercase();
        let mut variant = parts.get(2).map(|v| v.to_lowercase());
        match architecture.as_str() {
            "x86_64" | "x86-64" => architecture = "amd64".into(),
            "aarch64" => architecture = "arm64".into(),
            "armhf" => {
                architecture = "arm".into();
                variant.get_or_insert("v7".into());
            }
            "armel" => {
                architecture = "arm".into();
                variant.get_or_insert("v6".into());
            }
            _ => {}
        }
        Ok(Platform {
            architecture,
            os,
            variant,
            ..Default::default()
        })
    }

    /// Does a manifest list entry's platform satisfy this wanted one?
    /// A missing variant on either side matches (arm64 images rarely say
    /// `v8`); otherwise the variants must agree.
    pub fn matches(&self, candidate: &Platform) -> bool {
        if self.os != candidate.os || self.architecture != candidate.architecture {
            return false;
        }
        match (&self.variant, &candidate.variant) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Pick the entry of a manifest list for `want`: an exact variant match
/// first, then one without a variant. Returns the index of the entry.
pub fn select<'a, I>(want: &Platform, candidates: I) -> Option<usize>
where
    I: IntoIterator<Item = Option<&'a Platform>>,
{
    let list: Vec<Option<&Platform>> = candidates.into_iter().collect();
    let exact = list.iter().position(|p| {
        p.is_some_and(|p| want.matches(p) && (want.variant.is_none() || p.variant == want.variant))
    });
    exact.or_else(|| list.iter().position(|p| p.is_some_and(|p| want.matches(p))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_platforms() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert_eq!(
            Platform::parse("linux/x86_64").unwrap().architecture,
            "amd64"
        );
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//v7").is_err());
    }

    #[test]
    fn select_prefers_exact_variant() {
        let a = Platform::parse("linux/arm/v6").unwrap();
        let b = Platform::parse("linux/arm/v7").unwrap();
        let c = Platform::parse("linux/amd64").unwrap();
        let want = Platform::parse("linux/arm/v7").unwrap();
        assert_eq!(select(&want, [Some(&a), Some(&b), Some(&c)]), Some(1));
        let want = Platform::parse("linux/amd64").unwrap();
        assert_eq!(select(&want, [Some(&a), Some(&b), Some(&c)]), Some(2));
        let want = Platform::parse("linux/s390x").unwrap();
        assert_eq!(select(&want, [Some(&a), None]), None);
    }
}
