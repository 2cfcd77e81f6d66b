//! The event record: what happened to containers, images and volumes, one
//! JSON object a line in `events.jsonl`, appended by whichever skiff
//! process acted (one `write` of a whole line with O_APPEND, so lines of
//! concurrent writers never interleave). `skiff events` reads and follows
//! it. Past 4 MiB the file is rotated once to `events.jsonl.1`.

use super::Store;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

const MAX_SIZE: u64 = 4 << 20;

/// One event, in Docker's JSON shape.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    #[serde(rename = "Type")]
    pub typ: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    #[serde(default)]
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    pub fn new(typ: &str, action: &str, id: &str, attributes: &[(&str, &str)]) -> Event {
        let now = chrono::Utc::now();
        let nanos = now.timestamp_nanos_opt().unwrap_or(0);
        Event {
            typ: typ.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes: attributes
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            scope: "local".into(),
            time: nanos.div_euclid(1_000_000_000),
            time_nano: nanos,
        }
    }
}

impl Store {
    pub fn events_path(&self) -> PathBuf {
        self.root().join("events.jsonl")
    }

    /// Record an event. A failure to record never fails the action that
    /// caused it: it is reported on stderr and forgotten.
    pub fn event(&self, typ: &str, action: &str, id: &str, attributes: &[(&str, &str)]) {
        if let Err(e) = self.append_event(&Event::new(typ, action, id, attributes)) {
            eprintln!("skiff: warning: record event {typ} {action}: {e:#}");
        }
    }

    /// A container event, with Docker's attributes: the image, the name
    /// and the container's labels, plus what the action adds (exitCode,
    /// signal).
    pub fn container_event(
        &self,
        rec: &super::ContainerRecord,
        action: &str,
        extra: &[(&str, &str)],
    ) {
        let mut attrs: Vec<(&str, &str)> = vec![("image", &rec.image), ("name", &rec.name)];
        attrs.extend(rec.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        attrs.extend_from_slice(extra);
        self.event("container", action, &rec.id, &attrs);
    }

    fn append_event(&self, ev: &Event) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.events_path();
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_SIZE) {
            let _g = self.lock_events()?;
            if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_SIZE) {
                let old = PathBuf::from(format!("{}.1", path.display()));
                std::fs::rename(&path, &old).context("rotate the event record")?;
            }
        }
        let mut line = serde_json::to_vec(ev)?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))?;
        f.write_all(&line)
            .with_context(|| format!("write {}", path.display()))
    }

    fn lock_events(&self) -> Result<crate::util::lock::LockGuard> {
        crate::util::lock::lock_exclusive(&self.root().join("locks").join("events.lock"))
    }

    /// Every recorded event, oldest first (a torn last line is skipped).
    pub fn events(&self) -> Result<Vec<Event>> {
        let path = self.events_path();
        let mut out = Vec::new();
        for p in [PathBuf::from(format!("{}.1", path.display())), path] {
            match std::fs::read(&p) {
                Ok(data) => out.extend(parse_events(&data)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("read {}", p.display())),
            }
        }
        Ok(out)
    }
}

/// The events in `data` (complete lines only).
pub fn parse_events(data: &[u8]) -> Vec<Event> {
    data.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_append_and_read_back() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.event("container", "start", "abc", &[("name", "web")]);
        s.event("image", "pull", "busybox:latest", &[]);
        let e = s.events().unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].action, "start");
        assert_eq!(e[0].actor.attributes["name"], "web");
        assert_eq!(e[1].typ, "image");
        assert!(e[1].time_nano >= e[0].time_nano);
        // A torn line (a writer killed mid-write) is skipped.
        let mut data = std::fs::read(s.events_path()).unwrap();
        data.extend_from_slice(b"{\"Type\":\"conta");
        assert_eq!(parse_events(&data).len(), 2);
    }
}
