//! `--cap-add/--cap-drop`, `--security-opt`, `--ulimit`, `--sysctl` and
//! `--device`.

use super::bad;
use super::units::{clean_path, parse_go_bool};
use crate::runtime::defaults::ALL_CAPS;
use anyhow::Result;
use oci_spec::runtime::{Capability, PosixRlimitType};
use std::path::PathBuf;

/// A capability as `--cap-add`/`--cap-drop` name it, or `ALL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapName {
    All,
    Cap(Capability),
}

/// A capability name in any case, with or without `CAP_`, or `ALL`.
pub fn parse_cap(s: &str) -> Result<CapName> {
    let upper = s.to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(CapName::All);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    ALL_CAPS
        .iter()
        .find(|(_, name)| *name == full)
        .map(|(cap, _)| CapName::Cap(*cap))
        .ok_or_else(|| bad(format!("unknown capability: \"{full}\"")))
}

/// Which seccomp filter the container gets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SeccompChoice {
    /// Docker's default profile (also `seccomp=builtin`).
    #[default]
    Default,
    /// `seccomp=unconfined`: no filter at all.
    Unconfined,
    /// `seccomp=PATH`: a profile in Docker's JSON format, read by the caller.
    Profile(PathBuf),
}

/// What `--security-opt` asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityOpts {
    pub no_new_privileges: bool,
    pub seccomp: SeccompChoice,
    /// `systempaths=unconfined`: no masked or read-only `/proc` paths.
    pub unmask_system_paths: bool,
    /// Things accepted but not acted on, to be shown as warnings.
    pub notes: Vec<String>,
}

/// Apply one `--security-opt` value: `no-new-privileges[:true|false]`,
/// `seccomp=unconfined|builtin|PATH`, `systempaths=unconfined`, and
/// `label=...`/`apparmor=...` (accepted and ignored: skiff has no LSM
/// support, said in a note).
pub fn apply_security_opt(s: &str, into: &mut SecurityOpts) -> Result<()> {
    let invalid = || bad(format!("invalid --security-opt: {s:?}"));
    // Docker splits on `=`, and falls back to `:` for the older syntax.
    let (key, value) = match s.split_once('=') {
        Some(kv) => (kv.0, Some(kv.1)),
        None if s == "no-new-privileges" => (s, None),
        None => match s.split_once(':') {
            Some(kv) => (kv.0, Some(kv.1)),
            None => return Err(invalid()),
        },
    };
    if key != "no-new-privileges" && value.is_none_or(str::is_empty) {
        return Err(invalid());
    }
    let value = value.unwrap_or("true");
    match key {
        "no-new-privileges" => {
            into.no_new_privileges = parse_go_bool(value).ok_or_else(invalid)?;
        }
        "seccomp" => {
            into.seccomp = match value {
                "unconfined" => SeccompChoice::Unconfined,
                "builtin" | "default" => SeccompChoice::Default,
                path => SeccompChoice::Profile(PathBuf::from(path)),
            }
        }
        "systempaths" if value == "unconfined" => into.unmask_system_paths = true,
        "label" | "apparmor" => into.notes.push(format!(
            "--security-opt {s} ignored: skiff does not apply SELinux or AppArmor labels"
        )),
        _ => return Err(invalid()),
    }
    Ok(())
}

/// One `--ulimit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ulimit {
    pub kind: PosixRlimitType,
    /// `u64::MAX` is unlimited (`-1` or `unlimited` on the command line).
    pub soft: u64,
    pub hard: u64,
}

/// Docker's `--ulimit` names (go-units' table; `as` is left out there too).
const ULIMIT_NAMES: &[(&str, PosixRlimitType)] = &[
    ("core", PosixRlimitType::RlimitCore),
    ("cpu", PosixRlimitType::RlimitCpu),
    ("data", PosixRlimitType::RlimitData),
    ("fsize", PosixRlimitType::RlimitFsize),
    ("locks", PosixRlimitType::RlimitLocks),
    ("memlock", PosixRlimitType::RlimitMemlock),
    ("msgqueue", PosixRlimitType::RlimitMsgqueue),
    ("nice", PosixRlimitType::RlimitNice),
    ("nofile", PosixRlimitType::RlimitNofile),
    ("nproc", PosixRlimitType::RlimitNproc),
    ("rss", PosixRlimitType::RlimitRss),
    ("rtprio", PosixRlimitType::RlimitRtprio),
    ("rttime", PosixRlimitType::RlimitRttime),
    ("sigpending", PosixRlimitType::RlimitSigpending),
    ("stack", PosixRlimitType::RlimitStack),
];

/// The `--ulimit` name of a limit (`nofile`).
pub fn ulimit_name(kind: PosixRlimitType) -> &'static str {
    ULIMIT_NAMES
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("unknown", |(n, _)| n)
}

/// `--ulimit name=soft[:hard]`; a missing hard limit equals the soft one.
pub fn parse_ulimit(s: &str) -> Result<Ulimit> {
    let (name, values) = s
        .split_once('=')
        .ok_or_else(|| bad(format!("invalid ulimit argument: {s}")))?;
    let kind = ULIMIT_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, k)| *k)
        .ok_or_else(|| bad(format!("invalid ulimit type: {name}")))?;
    let parts: Vec<&str> = values.split(':').collect();
    if parts.len() > 2 {
        return Err(bad(format!(
            "too many limit value arguments - {values}, can only have up to two, `soft[:hard]`"
        )));
    }
    let value = |v: &str| -> Result<u64> {
        match v {
            "-1" | "unlimited" => Ok(u64::MAX),
            _ => v
                .parse::<u64>()
                .map_err(|_| bad(format!("invalid ulimit value {v:?} in {s}"))),
        }
    };
    let soft = value(parts[0])?;
    let hard = match parts.get(1) {
        Some(h) => value(h)?,
        None => soft,
    };
    if soft > hard {
        return Err(bad(format!(
            "ulimit soft limit must be less than or equal to hard limit: {} > {}",
            parts[0],
            parts.get(1).unwrap_or(&"")
        )));
    }
    Ok(Ulimit { kind, soft, hard })
}

/// `--sysctl key=value`, refused unless the key is one a container's own
/// namespaces hold (IPC: `kernel.msg*`, `kernel.sem`, `kernel.shm*`,
/// `fs.mqueue.*`; network: `net.*`); others would change the host.
pub fn parse_sysctl(s: &str) -> Result<(String, String)> {
    let not_allowed = || bad(format!("sysctl '{s}' is not allowed"));
    let (key, value) = s.split_once('=').ok_or_else(not_allowed)?;
    let namespaced = key == "kernel.sem"
        || key.starts_with("kernel.msg")
        || key.starts_with("kernel.shm")
        || key.starts_with("fs.mqueue.")
        || key.starts_with("net.");
    if !namespaced {
        return Err(not_allowed());
    }
    Ok((key.to_string(), value.to_string()))
}

/// One `--device`: a host device node made available in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    pub host: String,
    pub container: String,
    /// Some of `r`, `w`, `m` (read, write, mknod).
    pub permissions: String,
}

fn valid_device_mode(mode: &str) -> bool {
    !mode.is_empty()
        && mode.len() <= 3
        && mode.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        && ['r', 'w', 'm']
            .iter()
            .all(|c| mode.matches(*c).count() <= 1)
}

/// `--device /dev/x[:/dev/y][:rwm]`: the container path defaults to the
/// host path, the permissions to `rwm`.
pub fn parse_device(s: &str) -> Result<DeviceRequest> {
    let bad_format = || bad(format!("bad format for path: {s}"));
    let parts: Vec<&str> = s.split(':').collect();
    if parts[0].is_empty() || parts.len() > 3 {
        return Err(bad_format());
    }
    let (host, container, permissions) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, m] if valid_device_mode(m) => (*h, *h, *m),
        [h, c] => (*h, *c, "rwm"),
        [h, c, m] => {
            if !valid_device_mode(m) {
                return Err(bad(format!("bad mode specified: {m}")));
            }
            (*h, *c, *m)
        }
        _ => return Err(bad_format()),
    };
    for p in [host, container] {
        if !p.starts_with('/') {
            return Err(bad(format!("{p} is not an absolute path")));
        }
    }
    Ok(DeviceRequest {
        host: clean_path(host),
        container: clean_path(container),
        permissions: permissions.to_string(),
    })
}

/// `--device-cgroup-rule "TYPE MAJOR:MINOR ACCESS"`: one more device rule
/// (`a`, `b` or `c`; a number or `*` each; some of `rwm`), as the kernel's
/// `devices.allow` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCgroupRule {
    pub typ: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

pub fn parse_device_cgroup_rule(s: &str) -> Result<DeviceCgroupRule> {
    let bad_rule = || bad(format!("invalid device cgroup format '{s}'"));
    let words: Vec<&str> = s.split_whitespace().collect();
    let [typ, numbers, access] = words.as_slice() else {
        return Err(bad_rule());
    };
    let typ = match *typ {
        "a" | "b" | "c" => typ.chars().next().unwrap_or('a'),
        _ => return Err(bad_rule()),
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad_rule)?;
    let number = |n: &str| -> Result<Option<i64>> {
        match n {
            "*" => Ok(None),
            _ => n.parse::<i64>().map(Some).map_err(|_| bad_rule()),
        }
    };
    if !valid_device_mode(access) {
        return Err(bad_rule());
    }
    Ok(DeviceCgroupRule {
        typ,
        major: number(major)?,
        minor: number(minor)?,
        access: access.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_cgroup_rules() {
        assert_eq!(
            parse_device_cgroup_rule("c 1:3 rmw").unwrap(),
            DeviceCgroupRule {
                typ: 'c',
                major: Some(1),
                minor: Some(3),
                access: "rmw".into()
            }
        );
        let r = parse_device_cgroup_rule("b 8:* r").unwrap();
        assert_eq!((r.typ, r.major, r.minor), ('b', Some(8), None));
        for bad in [
            "c 1:3", "x 1:3 r", "c 1-3 r", "c a:3 r", "c 1:3 rx", "c 1:3 rr",
        ] {
            let e = parse_device_cgroup_rule(bad).unwrap_err().to_string();
            assert_eq!(e, format!("invalid device cgroup format '{bad}'"));
        }
    }

    #[test]
    fn capability_names() {
        assert_eq!(parse_cap("ALL").unwrap(), CapName::All);
        assert_eq!(parse_cap("all").unwrap(), CapName::All);
        assert_eq!(
            parse_cap("SYS_ADMIN").unwrap(),
            CapName::Cap(Capability::SysAdmin)
        );
        assert_eq!(
            parse_cap("cap_net_admin").unwrap(),
            CapName::Cap(Capability::NetAdmin)
        );
        assert_eq!(parse_cap("Cap_Bpf").unwrap(), CapName::Cap(Capability::Bpf));
        assert_eq!(
            parse_cap("foo").unwrap_err().to_string(),
            "unknown capability: \"CAP_FOO\""
        );
    }

    #[test]
    fn security_opts() {
        let mut o = SecurityOpts::default();
        apply_security_opt("no-new-privileges", &mut o).unwrap();
        assert!(o.no_new_privileges);
        apply_security_opt("no-new-privileges:false", &mut o).unwrap();
        assert!(!o.no_new_privileges);
        apply_security_opt("no-new-privileges=true", &mut o).unwrap();
        assert!(o.no_new_privileges);
        apply_security_opt("seccomp=unconfined", &mut o).unwrap();
        assert_eq!(o.seccomp, SeccompChoice::Unconfined);
        apply_security_opt("seccomp:/etc/p.json", &mut o).unwrap();
        assert_eq!(o.seccomp, SeccompChoice::Profile("/etc/p.json".into()));
        apply_security_opt("systempaths=unconfined", &mut o).unwrap();
        assert!(o.unmask_system_paths);
        apply_security_opt("label=disable", &mut o).unwrap();
        assert_eq!(o.notes.len(), 1);
        for bad in [
            "bogus",
            "seccomp=",
            "no-new-privileges:maybe",
            "color=red",
            "systempaths=x",
        ] {
            let e = apply_security_opt(bad, &mut o).unwrap_err();
            assert_eq!(e.to_string(), format!("invalid --security-opt: {bad:?}"));
        }
    }

    #[test]
    fn ulimits() {
        let u = parse_ulimit("nofile=1024:4096").unwrap();
        assert_eq!(
            u,
            Ulimit {
                kind: PosixRlimitType::RlimitNofile,
                soft: 1024,
                hard: 4096
            }
        );
        let u = parse_ulimit("core=-1").unwrap();
        assert_eq!((u.soft, u.hard), (u64::MAX, u64::MAX));
        let u = parse_ulimit("nproc=10:unlimited").unwrap();
        assert_eq!((u.soft, u.hard), (10, u64::MAX));
        assert_eq!(ulimit_name(u.kind), "nproc");
        assert_eq!(
            parse_ulimit("nofile").unwrap_err().to_string(),
            "invalid ulimit argument: nofile"
        );
        assert_eq!(
            parse_ulimit("as=1").unwrap_err().to_string(),
            "invalid ulimit type: as"
        );
        assert_eq!(
            parse_ulimit("nofile=2:1").unwrap_err().to_string(),
            "ulimit soft limit must be less than or equal to hard limit: 2 > 1"
        );
        assert!(parse_ulimit("nofile=1:2:3").is_err());
        assert!(parse_ulimit("nofile=x").is_err());
    }

    #[test]
    fn sysctls() {
        assert_eq!(
            parse_sysctl("net.ipv4.ip_forward=1").unwrap(),
            ("net.ipv4.ip_forward".into(), "1".into())
        );
        for ok in [
            "kernel.shmmax=1",
            "kernel.msgmax=1",
            "kernel.sem=1 2 3 4",
            "fs.mqueue.msg_max=5",
        ] {
            parse_sysctl(ok).unwrap();
        }
        for no in [
            "kernel.hostname=x",
            "vm.swappiness=1",
            "net.core.somaxconn",
            "fs.file-max=1",
        ] {
            assert_eq!(
                parse_sysctl(no).unwrap_err().to_string(),
                format!("sysctl '{no}' is not allowed")
            );
        }
    }

    #[test]
    fn devices() {
        let d = parse_device("/dev/fuse").unwrap();
        assert_eq!(
            (
                d.host.as_str(),
                d.container.as_str(),
                d.permissions.as_str()
            ),
            ("/dev/fuse", "/dev/fuse", "rwm")
        );
        let d = parse_device("/dev/sda:/dev/xvda:r").unwrap();
        assert_eq!(
            (
                d.host.as_str(),
                d.container.as_str(),
                d.permissions.as_str()
            ),
            ("/dev/sda", "/dev/xvda", "r")
        );
        let d = parse_device("/dev/sda:rw").unwrap();
        assert_eq!(
            (d.container.as_str(), d.permissions.as_str()),
            ("/dev/sda", "rw")
        );
        let d = parse_device("/dev/sda:/dev/b").unwrap();
        assert_eq!(
            (d.container.as_str(), d.permissions.as_str()),
            ("/dev/b", "rwm")
        );
        assert_eq!(
            parse_device("/dev/a:/dev/b:x").unwrap_err().to_string(),
            "bad mode specified: x"
        );
        assert_eq!(
            parse_device(":/dev/b").unwrap_err().to_string(),
            "bad format for path: :/dev/b"
        );
        assert_eq!(
            parse_device("/a:/b:r:w").unwrap_err().to_string(),
            "bad format for path: /a:/b:r:w"
        );
        assert_eq!(
            parse_device("/dev/a:rel").unwrap_err().to_string(),
            "rel is not an absolute path"
        );
        assert!(parse_device("/dev/a:/b:rr").is_err());
    }
}
