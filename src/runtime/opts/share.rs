//! `--pid`, `--ipc` and `--uts`: the namespaces a container shares with
//! the host or with another container instead of having its own, in
//! Docker's words and values.

use super::bad;
use anyhow::Result;

/// Whose namespace of one kind a container is in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Share {
    /// A new one of its own (Docker's `private`, `shareable` for IPC).
    #[default]
    Own,
    /// The host's.
    Host,
    /// A running container's (`container:NAME|ID`).
    Container(String),
}

impl Share {
    /// Docker's `HostConfig` word for it, with `own` for [`Share::Own`].
    pub fn mode(&self, own: &str) -> String {
        match self {
            Share::Own => own.to_string(),
            Share::Host => "host".to_string(),
            Share::Container(c) => format!("container:{c}"),
        }
    }

    pub fn container(&self) -> Option<&str> {
        match self {
            Share::Container(c) => Some(c),
            _ => None,
        }
    }
}

/// What `--pid`, `--ipc` and `--uts` asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shares {
    pub pid: Share,
    pub ipc: Share,
    /// `--ipc none`: an IPC namespace of its own and no `/dev/shm`.
    pub ipc_none: bool,
    /// `--ipc shareable` (Docker's word kept for inspect).
    pub ipc_shareable: bool,
    pub uts: Share,
}

fn container_of(flag: &str, v: &str) -> Result<Option<Share>> {
    match v.strip_prefix("container:") {
        Some("") => Err(bad(format!("--{flag}: invalid container name: \"\""))),
        Some(c) => Ok(Some(Share::Container(c.to_string()))),
        None => Ok(None),
    }
}

/// Parse the three flags (`None`: not given).
pub fn parse(pid: Option<&str>, ipc: Option<&str>, uts: Option<&str>) -> Result<Shares> {
    let mut s = Shares::default();
    if let Some(v) = pid {
        s.pid = match v {
            "" | "private" => Share::Own,
            "host" => Share::Host,
            _ => container_of("pid", v)?
                .ok_or_else(|| bad(format!("--pid: invalid PID mode: {v}")))?,
        };
    }
    if let Some(v) = ipc {
        s.ipc = match v {
            "" | "private" => Share::Own,
            "shareable" => {
                s.ipc_shareable = true;
                Share::Own
            }
            "none" => {
                s.ipc_none = true;
                Share::Own
            }
            "host" => Share::Host,
            _ => container_of("ipc", v)?
                .ok_or_else(|| bad(format!("--ipc: invalid IPC mode: {v}")))?,
        };
    }
    if let Some(v) = uts {
        s.uts = match v {
            "" => Share::Own,
            "host" => Share::Host,
            _ => return Err(bad(format!("--uts: invalid UTS mode: {v}"))),
        };
    }
    Ok(s)
}

impl Shares {
    /// Docker's `HostConfig.IpcMode`.
    pub fn ipc_mode(&self) -> String {
        if self.ipc_none {
            "none".into()
        } else if self.ipc_shareable {
            "shareable".into()
        } else {
            self.ipc.mode("private")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let s = parse(Some("host"), Some("container:db"), Some("host")).unwrap();
        assert_eq!(s.pid, Share::Host);
        assert_eq!(s.ipc, Share::Container("db".into()));
        assert_eq!(s.uts, Share::Host);
        assert_eq!(s.ipc_mode(), "container:db");
        let s = parse(Some("container:web"), Some("none"), None).unwrap();
        assert_eq!(s.pid.mode(""), "container:web");
        assert!(s.ipc_none && s.ipc == Share::Own);
        assert_eq!(s.ipc_mode(), "none");
        assert_eq!(
            parse(None, Some("shareable"), None).unwrap().ipc_mode(),
            "shareable"
        );
        assert_eq!(parse(None, None, None).unwrap(), Shares::default());
        for (p, i, u, msg) in [
            (Some("bogus"), None, None, "invalid PID mode: bogus"),
            (None, Some("bogus"), None, "invalid IPC mode: bogus"),
            (None, None, Some("container:x"), "invalid UTS mode"),
            (Some("container:"), None, None, "invalid container name"),
        ] {
            let e = parse(p, i, u).unwrap_err().to_string();
            assert!(e.contains(msg), "{e}");
        }
    }
}
