//! Seccomp profiles in Docker's JSON format (`--security-opt
//! seccomp=profile.json`, and the default profile built as Rust data), and
//! turning one into the OCI spec's `linux.seccomp` for a given capability
//! set and machine, as Docker's `setupSeccomp` does.

use crate::error::{kind_err, ErrorKind};
use crate::registry::platform::Platform;
use crate::runtime::defaults::cap_name;
use anyhow::{Context, Result};
use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompBuilder,
    LinuxSeccompFilterFlag, LinuxSyscall, LinuxSyscallBuilder,
};
use serde::{Deserialize, Deserializer, Serialize};

/// `null` in a profile reads as the empty value (Docker's own profile has
/// `"subArchitectures": null`).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A profile in Docker's format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: LinuxSeccompAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// The filter's architectures as a flat list...
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub architectures: Vec<Arch>,
    /// ...or per native architecture with the ones it can also run
    /// (x86-64 runs i386 and x32 binaries); not both.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arch_map: Vec<ArchMapEntry>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub flags: Vec<LinuxSeccompFilterFlag>,
    #[serde(default, deserialize_with = "null_default")]
    pub syscalls: Vec<SyscallRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMapEntry {
    pub architecture: Arch,
    #[serde(default, deserialize_with = "null_default")]
    pub sub_architectures: Vec<Arch>,
}

/// One entry of `syscalls`: calls, what happens to them, and the
/// conditions under which the entry applies at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    /// The old single-name form; not together with `names`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub names: Vec<String>,
    pub action: LinuxSeccompAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// All must hold. `SCMP_CMP_MASKED_EQ` means `(arg & value) == valueTwo`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<LinuxSeccompArg>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub includes: Filter,
    #[serde(default, deserialize_with = "null_default")]
    pub excludes: Filter,
}

/// When a rule applies: `includes` needs every listed capability, one of
/// the architectures, and at least the kernel version; `excludes` drops the
/// rule when any capability or architecture matches or the kernel is at
/// least that version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub caps: Vec<String>,
    /// Go's architecture names (`amd64`, `arm64`, `s390x`).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arches: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<KernelVersion>,
}

/// `major.minor`, as profiles write `minKernel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion(pub u32, pub u32);

impl KernelVersion {
    /// The leading `major.minor` of a release string (`6.1.0-18-amd64`).
    pub fn parse(s: &str) -> Option<KernelVersion> {
        let mut parts = s.trim().split(|c: char| !c.is_ascii_digit());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(KernelVersion(major, minor))
    }
}

impl Serialize for KernelVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}.{}", self.0, self.1))
    }
}

impl<'de> Deserialize<'de> for KernelVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KernelVersion::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid kernel version {s:?}")))
    }
}

/// The machine a filter is built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Go's name for the architecture (`amd64`), as profiles filter on it.
    pub arch: String,
    pub kernel: KernelVersion,
}

impl Host {
    /// This machine: its architecture and the running kernel's version.
    pub fn detect() -> Result<Host> {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .context("read kernel version from /proc/sys/kernel/osrelease")?;
        let kernel = KernelVersion::parse(&release)
            .with_context(|| format!("parse kernel version {:?}", release.trim()))?;
        Ok(Host {
            arch: Platform::host().architecture,
            kernel,
        })
    }

    /// The seccomp architecture of the native ABI, for `archMap`.
    fn native_arch(&self) -> Option<Arch> {
        Some(match self.arch.as_str() {
            "amd64" => Arch::ScmpArchX86_64,
            "arm64" => Arch::ScmpArchAarch64,
            "mips64" => Arch::ScmpArchMips64,
            "mips64n32" => Arch::ScmpArchMips64n32,
            "mipsel64" => Arch::ScmpArchMipsel64,
            "mipsel64n32" => Arch::ScmpArchMipsel64n32,
            "s390x" => Arch::ScmpArchS390x,
            "riscv64" => Arch::ScmpArchRiscv64,
            "ppc64le" => Arch::ScmpArchPpc64le,
            "loong64" => Arch::ScmpArchLoongarch64,
            _ => return None,
        })
    }
}

fn profile_err(msg: impl Into<String>) -> anyhow::Error {
    kind_err(ErrorKind::InvalidArgument, msg)
}

/// `CAP_X` for any spelling a profile may use.
fn normalize_cap(c: &str) -> String {
    let upper = c.to_ascii_uppercase();
    if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

impl Profile {
    /// Parse a profile file's contents.
    pub fn parse(json: &[u8]) -> Result<Profile> {
        serde_json::from_slice(json)
            .map_err(|e| profile_err(format!("decoding seccomp profile failed: {e}")))
    }

    /// The filter for a container with capabilities `caps` on `host`: the
    /// architectures for the native one, and the rules whose conditions
    /// hold, in profile order.
    pub fn resolve(&self, caps: &[Capability], host: &Host) -> Result<LinuxSeccomp> {
        if !self.architectures.is_empty() && !self.arch_map.is_empty() {
            return Err(profile_err(
                "both 'architectures' and 'archMap' are specified in the seccomp profile, \
                 use either 'architectures' or 'archMap'",
            ));
        }
        let mut arches = self.architectures.clone();
        if let Some(native) = host.native_arch() {
            for entry in self.arch_map.iter().filter(|e| e.architecture == native) {
                arches.push(entry.architecture);
                arches.extend(entry.sub_architectures.iter().copied());
            }
        }
        let cap_names: Vec<&str> = caps.iter().map(|c| cap_name(*c)).collect();
        let has_cap = |c: &String| cap_names.contains(&normalize_cap(c).as_str());
        let has_arch = |a: &String| *a == host.arch;

        let mut syscalls: Vec<LinuxSyscall> = Vec::new();
        for rule in &self.syscalls {
            let mut names = rule.names.clone();
            if let Some(name) = &rule.name {
                if !names.is_empty() {
                    return Err(profile_err(
                        "'name' and 'names' were specified in the seccomp profile, \
                         use either 'name' or 'names'",
                    ));
                }
                names.push(name.clone());
            }
            let ex = &rule.excludes;
            if ex.arches.iter().any(has_arch)
                || ex.caps.iter().any(has_cap)
                || ex.min_kernel.is_some_and(|k| host.kernel >= k)
            {
                continue;
            }
            let inc = &rule.includes;
            if (!inc.arches.is_empty() && !inc.arches.iter().any(has_arch))
                || !inc.caps.iter().all(has_cap)
                || inc.min_kernel.is_some_and(|k| host.kernel < k)
            {
                continue;
            }
            let mut b = LinuxSyscallBuilder::default()
                .names(names)
                .action(rule.action);
            if let Some(errno) = rule.errno_ret {
                b = b.errno_ret(errno);
            }
            if !rule.args.is_empty() {
                b = b.args(rule.args.clone());
            }
            syscalls.push(b.build().context("build seccomp syscall rule")?);
        }

        let mut b = LinuxSeccompBuilder::default()
            .default_action(self.default_action)
            .syscalls(syscalls);
        if let Some(errno) = self.default_errno_ret {
            b = b.default_errno_ret(errno);
        }
        if !arches.is_empty() {
            b = b.architectures(arches);
        }
        if !self.flags.is_empty() {
            b = b.flags(self.flags.clone());
        }
        b.build().context("build seccomp section")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amd64() -> Host {
        Host {
            arch: "amd64".into(),
            kernel: KernelVersion(6, 1),
        }
    }

    const PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
            {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}
        ],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"name": "getpid", "action": "SCMP_ACT_ALLOW", "args": null},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
             "excludes": {"caps": ["SYS_ADMIN"], "arches": ["s390x"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["newer"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "9.0"}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
            {"names": ["cacheflush"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "comment": "glibc falls back to clone"}
        ]
    }"#;

    fn names(s: &LinuxSeccomp) -> Vec<String> {
        s.syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .flat_map(|r| r.names().clone())
            .collect()
    }

    #[test]
    fn resolves_for_caps_arch_and_kernel() {
        let p = Profile::parse(PROFILE.as_bytes()).unwrap();
        let s = p.resolve(&[Capability::Chown], &amd64()).unwrap();
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(1));
        assert_eq!(
            s.architectures().as_ref().unwrap(),
            &vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
        );
        assert_eq!(
            names(&s),
            [
                "read",
                "write",
                "getpid",
                "clone",
                "ptrace",
                "arch_prctl",
                "clone3"
            ]
        );
        let clone = &s.syscalls().as_ref().unwrap()[2];
        assert_eq!(clone.args().as_ref().unwrap()[0].value(), 2114060288);
        let clone3 = s.syscalls().as_ref().unwrap().last().unwrap();
        assert_eq!(clone3.errno_ret(), Some(38));

        let admin = p.resolve(&[Capability::SysAdmin], &amd64()).unwrap();
        let n = names(&admin);
        assert!(n.contains(&"mount".to_string()));
        assert!(!n.contains(&"clone".to_string()));

        let old = Host {
            arch: "arm64".into(),
            kernel: KernelVersion(4, 4),
        };
        let s = p.resolve(&[], &old).unwrap();
        assert_eq!(
            s.architectures().as_ref().unwrap(),
            &vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
        );
        let n = names(&s);
        assert!(!n.contains(&"ptrace".to_string()));
        assert!(n.contains(&"cacheflush".to_string()));
        assert!(!n.contains(&"arch_prctl".to_string()));
    }

    #[test]
    fn refuses_ambiguous_profiles() {
        let both = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
            "archMap":[{"architecture":"SCMP_ARCH_X86_64"}],"syscalls":[]}"#;
        let e = Profile::parse(both.as_bytes())
            .unwrap()
            .resolve(&[], &amd64())
            .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("both 'architectures' and 'archMap'"));
        let both = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#;
        let e = Profile::parse(both.as_bytes())
            .unwrap()
            .resolve(&[], &amd64())
            .unwrap_err();
        assert!(e.to_string().starts_with("'name' and 'names'"));
        let e = Profile::parse(b"{\"defaultAction\": \"SCMP_ACT_MAYBE\"}").unwrap_err();
        assert!(e.to_string().starts_with("decoding seccomp profile failed"));
        assert!(Profile::parse(b"not json").is_err());
    }

    #[test]
    fn flat_architectures_and_kernel_versions() {
        let p = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_AARCH64"],
            "syscalls":[{"names":["reboot"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#;
        let s = Profile::parse(p.as_bytes())
            .unwrap()
            .resolve(&[], &amd64())
            .unwrap();
        assert_eq!(s.architectures().as_ref().unwrap().len(), 2);
        assert_eq!(s.default_errno_ret(), None);
        assert_eq!(
            KernelVersion::parse("6.1.0-18-amd64"),
            Some(KernelVersion(6, 1))
        );
        assert_eq!(KernelVersion::parse("4.8"), Some(KernelVersion(4, 8)));
        assert_eq!(KernelVersion::parse("x"), None);
        let h = Host::detect().unwrap();
        assert!(h.kernel >= KernelVersion(3, 0));
    }
}
