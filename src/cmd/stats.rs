//! `skiff stats [OPTIONS] [CONTAINER...]`: CPU, memory, network and block
//! I/O and tasks of containers, read from their cgroups each second, in
//! Docker's columns, figures and units.

use super::format::{render_rows, Format};
use crate::config::Config;
use crate::container::state;
use crate::runtime::stats::{cpu_percent, host_memory, sample, Sample};
use crate::store::{ContainerRecord, Store};
use crate::util::human::{bytes_binary, size3};
use anyhow::{anyhow, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE',
    /// 'json', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

const DEFAULT_TABLE: &str =
    "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

const HEADERS: [(&str, &str); 9] = [
    ("Container", "CONTAINER"),
    ("Name", "NAME"),
    ("ID", "CONTAINER ID"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// Between two readings, as Docker's daemon samples: the CPU % is the
/// share of the last second.
const INTERVAL: Duration = Duration::from_secs(1);

/// A container on the screen.
struct Shown {
    /// The `Container` field: the name the user gave, or the ID.
    label: String,
    id: String,
    name: String,
    /// Its record now; `None` once it was removed.
    rec: Option<ContainerRecord>,
}

impl Shown {
    fn of(label: String, rec: ContainerRecord) -> Shown {
        Shown {
            label,
            id: rec.id.clone(),
            name: rec.name.clone(),
            rec: Some(rec),
        }
    }

    /// The pid of its init while it runs.
    fn running_pid(&self) -> Option<u32> {
        self.rec
            .as_ref()
            .filter(|r| state::is_running(r))
            .and_then(|r| r.state.pid)
    }
}

/// The containers to show now: those named (as they are now; a removed
/// one stays, shown as `--`, as Docker shows it), or every running one
/// (every one with `-a`), newest first.
fn select(store: &Store, args: &Args, named: &mut [Shown]) -> Result<Vec<Shown>> {
    if !named.is_empty() {
        let mut out = Vec::new();
        for n in named.iter_mut() {
            if n.rec.is_some() {
                n.rec = match store.container(&n.id)? {
                    Some(r) => state::sync(store, r)?,
                    None => None,
                };
            }
            out.push(Shown {
                label: n.label.clone(),
                id: n.id.clone(),
                name: n.name.clone(),
                rec: n.rec.clone(),
            });
        }
        return Ok(out);
    }
    Ok(state::list(store)?
        .into_iter()
        .filter(|r| {
            args.all || matches!(r.state.status.as_str(), "running" | "restarting" | "paused")
        })
        .map(|r| Shown::of(r.id.clone(), r))
        .collect())
}

/// The figures of one row, as Docker's stats formatter writes them.
struct Figures {
    cpu: String,
    mem_usage: String,
    mem_perc: String,
    net: String,
    block: String,
    pids: String,
}

impl Figures {
    /// A running container, against its previous reading (none yet: 0%).
    fn live(prev: Option<&Sample>, now: &Sample, host_mem: u64) -> Figures {
        let u = &now.usage;
        // Docker's limit: the cgroup's, at most the host's memory.
        let limit = match u.memory_limit {
            Some(l) if host_mem == 0 || l < host_mem => l,
            _ => host_mem,
        };
        let mem_perc = if limit > 0 {
            u.memory as f64 / limit as f64 * 100.0
        } else {
            0.0
        };
        Figures {
            cpu: percent(prev.map_or(0.0, |p| cpu_percent(p, now))),
            mem_usage: format!("{} / {}", bytes_binary(u.memory), bytes_binary(limit)),
            mem_perc: percent(mem_perc),
            net: format!("{} / {}", size3(now.net_rx), size3(now.net_tx)),
            block: format!("{} / {}", size3(u.block_read), size3(u.block_write)),
            pids: u.pids.to_string(),
        }
    }

    /// A container that is not running: Docker's daemon sends it empty
    /// figures.
    fn stopped() -> Figures {
        Figures {
            cpu: percent(0.0),
            mem_usage: "0B / 0B".into(),
            mem_perc: percent(0.0),
            net: "0B / 0B".into(),
            block: "0B / 0B".into(),
            pids: "0".into(),
        }
    }

    /// A container removed while shown: its figures are no more.
    fn gone() -> Figures {
        Figures {
            cpu: "--".into(),
            mem_usage: "-- / --".into(),
            mem_perc: "--".into(),
            net: "--".into(),
            block: "--".into(),
            pids: "--".into(),
        }
    }
}

fn percent(v: f64) -> String {
    format!("{v:.2}%")
}

/// One row, its fields in the order Docker's `{{json .}}` prints them.
fn row(s: &Shown, f: Figures, trunc: bool) -> Value {
    let id = if trunc && s.id.len() > 12 {
        &s.id[..12]
    } else {
        &s.id
    };
    json!({
        "BlockIO": f.block,
        "CPUPerc": f.cpu,
        "Container": s.label,
        "ID": id,
        "MemPerc": f.mem_perc,
        "MemUsage": f.mem_usage,
        "Name": if s.name.is_empty() { "--" } else { &s.name },
        "NetIO": f.net,
        "PIDs": f.pids,
    })
}

/// Write `text` to stdout; false once the reader has gone (`| head`),
/// which ends a stream quietly.
fn emit(text: &str) -> Result<bool> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(anyhow!("write the output: {e}")),
    }
}

/// A frame for a terminal, drawn over the last one the way Docker draws
/// it: cursor home, each line cleared to its end, the rest of the screen
/// cleared below (no flicker of a whole-screen clear).
fn redraw(text: &str) -> String {
    let mut out = String::from("\x1b[H");
    for line in text.lines() {
        out.push_str(line);
        out.push_str("\x1b[K\n");
    }
    out.push_str("\x1b[J");
    out
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open_to_read(&cfg.root)?;
    let format = Format::parse(args.format.as_deref());
    // A bad template fails now, not after the first second.
    render_rows(&format, DEFAULT_TABLE, &HEADERS, &[])?;
    // Every container named must exist, before anything is shown.
    let mut named = args
        .containers
        .iter()
        .map(|n| Ok(Shown::of(n.clone(), state::find(&store, n)?)))
        .collect::<Result<Vec<_>>>()?;
    let host_mem = host_memory();
    let tty = !args.no_stream && std::io::stdout().is_terminal();
    let read = |s: &Shown| {
        s.running_pid()
            .map(|pid| sample(&store.container_dir(&s.id), pid))
    };

    // A first reading of each running container, for the first CPU %.
    let mut last: HashMap<String, Sample> = HashMap::new();
    for s in select(&store, &args, &mut named)? {
        if let Some(r) = read(&s) {
            last.insert(s.id, r);
        }
    }
    let mut next = Instant::now() + INTERVAL;
    loop {
        // Nothing to measure in a single frame: no need to wait for it.
        if !(args.no_stream && last.is_empty()) {
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        next += INTERVAL;
        let shown = select(&store, &args, &mut named)?;
        let mut now = HashMap::new();
        let mut rows = Vec::with_capacity(shown.len());
        for s in &shown {
            let figures = match (read(s), &s.rec) {
                (Some(r), _) => {
                    let f = Figures::live(last.get(&s.id), &r, host_mem);
                    now.insert(s.id.clone(), r);
                    f
                }
                (None, Some(_)) => Figures::stopped(),
                (None, None) => Figures::gone(),
            };
            rows.push(row(s, figures, !args.no_trunc));
        }
        last = now;
        if args.no_stream {
            // Docker prints nothing at all when there is nothing to show.
            if !rows.is_empty() {
                emit(&render_rows(&format, DEFAULT_TABLE, &HEADERS, &rows)?)?;
            }
            return Ok(0);
        }
        let text = render_rows(&format, DEFAULT_TABLE, &HEADERS, &rows)?;
        let frame = if tty { redraw(&text) } else { text };
        if !emit(&frame)? {
            return Ok(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::stats::Usage;
    use crate::runtime::stats::HostCpu;

    fn shown(name: &str) -> Shown {
        Shown {
            label: name.into(),
            id: "0123456789abcdef0123".into(),
            name: name.into(),
            rec: None,
        }
    }

    #[test]
    fn figures_are_dockers() {
        let at = |cpu_ns, total_ns| Sample {
            usage: Usage {
                cpu_ns,
                memory: 1_290_240,
                memory_limit: Some(64 << 20),
                block_read: 1_200,
                block_write: 0,
                pids: 3,
            },
            net_rx: 1_200,
            net_tx: 648,
            host: HostCpu {
                total_ns,
                online: 2,
            },
        };
        let prev = at(1_000_000_000, 10_000_000_000);
        let now = at(1_250_000_000, 12_000_000_000);
        let v = row(
            &shown("web"),
            Figures::live(Some(&prev), &now, 8 << 30),
            true,
        );
        assert_eq!(
            v.to_string(),
            r#"{"BlockIO":"1.2kB / 0B","CPUPerc":"25.00%","Container":"web","ID":"0123456789ab","MemPerc":"1.92%","MemUsage":"1.23MiB / 64MiB","Name":"web","NetIO":"1.2kB / 648B","PIDs":"3"}"#
        );
        // No limit (or one above the host's memory): the host's memory.
        let mut free = now;
        free.usage.memory_limit = Some(u64::MAX - 4095);
        let f = Figures::live(None, &free, 8 << 30);
        assert_eq!(f.mem_usage, "1.23MiB / 8GiB");
        assert_eq!(f.cpu, "0.00%");
        free.usage.memory_limit = None;
        assert_eq!(Figures::live(None, &free, 8 << 30).mem_perc, "0.02%");
    }

    #[test]
    fn stopped_and_removed_containers() {
        let v = row(&shown("old"), Figures::stopped(), false);
        assert_eq!(v["MemUsage"], "0B / 0B");
        assert_eq!(v["CPUPerc"], "0.00%");
        assert_eq!(v["PIDs"], "0");
        assert_eq!(v["ID"], "0123456789abcdef0123");
        let v = row(&shown(""), Figures::gone(), true);
        assert_eq!(v["MemUsage"], "-- / --");
        assert_eq!(v["NetIO"], "--");
        assert_eq!(v["Name"], "--");
    }

    #[test]
    fn the_default_table_has_dockers_columns() {
        let rows = [row(&shown("web"), Figures::stopped(), true)];
        let text = render_rows(&Format::DefaultTable, DEFAULT_TABLE, &HEADERS, &rows).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap()
            .split("   ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            header,
            [
                "CONTAINER ID",
                "NAME",
                "CPU %",
                "MEM USAGE / LIMIT",
                "MEM %",
                "NET I/O",
                "BLOCK I/O",
                "PIDS"
            ]
        );
        assert!(lines.next().unwrap().starts_with("0123456789ab   web "));
        assert_eq!(redraw("a\nb\n"), "\x1b[Ha\x1b[K\nb\x1b[K\n\x1b[J");
    }
}
