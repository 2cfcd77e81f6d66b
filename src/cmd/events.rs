//! `skiff events`: the event record, filtered, printed as Docker prints it,
//! and followed as it grows (until `--until`, or forever).

use super::format::{render, Format};
use crate::config::Config;
use crate::store::events::{parse_events, Event};
use crate::store::Store;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output based on conditions provided (type, event, container, image, label, volume)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template ('json' or a Go template)
    #[arg(long)]
    pub format: Option<String>,
}

/// A time flag in Docker's forms (see `util::timespec`), as nanoseconds
/// since the epoch.
pub fn parse_time(flag: &str, s: &str) -> Result<i64> {
    crate::util::timespec::parse(s, chrono::Utc::now())
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| {
            crate::error::kind_err(
                crate::error::ErrorKind::InvalidArgument,
                format!("invalid value for \"{flag}\": {s:?} is not a time (RFC 3339, Unix seconds or a duration like 10m)"),
            )
        })
}

/// `--filter`s: values of one key are alternatives, keys all apply.
struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    fn parse(flags: &[String]) -> Result<Filters> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in flags {
            let Some((k, v)) = f.split_once('=') else {
                crate::bail_kind!(
                    InvalidArgument,
                    "bad format of filter (expected name=value)"
                );
            };
            if !matches!(
                k,
                "type" | "event" | "container" | "image" | "label" | "volume"
            ) {
                crate::bail_kind!(InvalidArgument, "invalid filter '{k}'");
            }
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        Ok(Filters(m))
    }

    fn matches(&self, e: &Event) -> bool {
        let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str);
        self.0.iter().all(|(k, vals)| {
            vals.iter().any(|v| match k.as_str() {
                "type" => e.typ == *v,
                "event" => e.action == *v,
                "container" => {
                    e.typ == "container"
                        && (e.actor.id.starts_with(v.as_str()) || attr("name") == Some(v))
                }
                "image" => {
                    attr("image") == Some(v)
                        || (e.typ == "image" && (e.actor.id == *v || attr("name") == Some(v)))
                }
                "volume" => e.typ == "volume" && (e.actor.id == *v || attr("name") == Some(v)),
                "label" => match v.split_once('=') {
                    Some((lk, lv)) => attr(lk) == Some(lv),
                    None => attr(v).is_some(),
                },
                _ => false,
            })
        })
    }
}

/// One event as Docker prints it.
fn line(e: &Event, fmt: &Format) -> Result<String> {
    let json = serde_json::to_value(e)?;
    match fmt {
        Format::Json => Ok(serde_json::to_string(&json)?),
        Format::Template(t) | Format::Table(t) => render(t, &json),
        Format::DefaultTable => {
            let t = chrono::DateTime::from_timestamp_nanos(e.time_nano)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            let attrs: Vec<String> = e
                .actor
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let mut s = format!("{t} {} {} {}", e.typ, e.action, e.actor.id);
            if !attrs.is_empty() {
                s.push_str(&format!(" ({})", attrs.join(", ")));
            }
            Ok(s)
        }
    }
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time("since", s))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse_time("until", s))
        .transpose()?;
    let filters = Filters::parse(&args.filter)?;
    let fmt = Format::parse(args.format.as_deref());
    let store = Store::open(&cfg.root)?;
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    let show = |e: &Event, out: &mut std::io::StdoutLock| -> Result<bool> {
        if until.is_some_and(|u| e.time_nano > u) {
            return Ok(false);
        }
        if since.is_none_or(|s| e.time_nano >= s) && filters.matches(e) {
            writeln!(out, "{}", line(e, &fmt)?).context("write the events")?;
            out.flush().context("write the events")?;
        }
        Ok(true)
    };
    // The past: only with --since (Docker shows nothing old without it).
    let path = store.events_path();
    let mut offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if since.is_some() {
        for e in store.events()? {
            if !show(&e, &mut out)? {
                return Ok(0);
            }
        }
    }
    if until.is_some_and(|u| u <= now) {
        return Ok(0);
    }
    follow(&path, &mut offset, until, |e| show(e, &mut out))
}

/// Print what is appended to the record from `offset` on, woken by
/// inotify; a rotation (a new file at the path) starts from its beginning.
/// Ends when `show` says stop, or at `until` (nanoseconds).
fn follow(
    path: &std::path::Path,
    offset: &mut u64,
    until: Option<i64>,
    mut show: impl FnMut(&Event) -> Result<bool>,
) -> Result<i32> {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let dir = path.parent().context("the event record's directory")?;
    let ino =
        Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).context("inotify_init")?;
    ino.add_watch(
        dir,
        AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO,
    )
    .context("watch the event record")?;
    let inode = |p: &std::path::Path| {
        std::fs::metadata(p).ok().map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.ino()
        })
    };
    let mut current = inode(path);
    let mut pending = Vec::new();
    loop {
        let now_ino = inode(path);
        if now_ino != current {
            current = now_ino;
            *offset = 0;
            pending.clear();
        }
        if let Ok(mut f) = std::fs::File::open(path) {
            f.seek(std::io::SeekFrom::Start(*offset))?;
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)?;
            *offset += buf.len() as u64;
            pending.extend_from_slice(&buf);
            if let Some(end) = pending.iter().rposition(|b| *b == b'\n') {
                let done: Vec<u8> = pending.drain(..=end).collect();
                for e in parse_events(&done) {
                    if !show(&e)? {
                        return Ok(0);
                    }
                }
            }
        }
        let timeout = match until {
            Some(u) => {
                let left = u - chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
                if left <= 0 {
                    return Ok(0);
                }
                nix::poll::PollTimeout::try_from((left / 1_000_000).clamp(1, 60_000) as i32)
                    .unwrap_or(nix::poll::PollTimeout::MAX)
            }
            None => nix::poll::PollTimeout::NONE,
        };
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&ino),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut fds, timeout);
        while let Ok(evs) = ino.read_events() {
            if evs.is_empty() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_dockers_forms() {
        assert_eq!(
            parse_time("since", "1700000000").unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            parse_time("since", "2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000_000_000
        );
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
        let t = parse_time("since", "1h30m").unwrap();
        assert!((now - t - 5_400_000_000_000).abs() < 5_000_000_000);
        assert!(parse_time("until", "soon").is_err());
    }
}
