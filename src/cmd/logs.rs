//! `skiff logs` (and `skiff container logs`): a container's output from
//! its log, stdout to stdout and stderr to stderr, with Docker's flags.

use crate::config::Config;
use crate::container::state;
use crate::runtime::logfile::{self, Entry, Stream};
use crate::runtime::logread::{self, ReadOpts};
use crate::store::Store;
use anyhow::{Context, Result};
use std::io::{BufWriter, Write};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, value_name = "string", default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    pub until: Option<String>,
    /// The container
    pub container: String,
}

/// `--tail`: a count, or everything for `all` (and, as Docker has it, for
/// anything that is not a count of 0 or more).
pub fn parse_tail(s: &str) -> Option<usize> {
    s.trim().parse::<usize>().ok()
}

fn parse_time(flag: &str, v: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    crate::util::timespec::parse(v, chrono::Utc::now()).map_err(|e| {
        crate::error::kind_err(
            crate::error::ErrorKind::InvalidArgument,
            format!("invalid value for \"{flag}\": {e:#}"),
        )
    })
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let opts = ReadOpts {
        tail: parse_tail(&args.tail),
        since: args
            .since
            .as_deref()
            .map(|v| parse_time("since", v))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|v| parse_time("until", v))
            .transpose()?,
        follow: args.follow,
    };
    let store = Store::open(&cfg.root)?;
    let rec = state::find(&store, &args.container)?;
    let dir = store.container_dir(&rec.id);
    let Some(path) = logfile::log_path(&dir, &rec.id, &rec.log) else {
        crate::bail_kind!(
            InvalidArgument,
            "configured logging driver does not support reading"
        );
    };
    // The process writing the log (a foreground `run` writes none, and
    // following it waits for its end all the same, as Docker does).
    let owner = rec
        .state
        .monitor_pid
        .filter(|_| {
            matches!(
                rec.state.status.as_str(),
                "running" | "restarting" | "paused"
            )
        })
        .map(|p| (p, rec.state.monitor_start));
    let mut out = Printer {
        out: BufWriter::new(std::io::stdout().lock()),
        err: BufWriter::new(std::io::stderr().lock()),
        last: Stream::Stdout,
        timestamps: args.timestamps,
        details: args.details,
        eager: args.follow,
    };
    let res = logread::read(&path, &rec.log, &opts, owner, &mut |e| out.print(e))
        .and_then(|()| out.flush());
    match res {
        Ok(()) => Ok(0),
        // `logs | head`: the reader left, nothing is wrong.
        Err(e) if is_broken_pipe(&e) => Ok(0),
        Err(e) => Err(e),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

struct Printer<O: Write, E: Write> {
    out: BufWriter<O>,
    err: BufWriter<E>,
    last: Stream,
    timestamps: bool,
    details: bool,
    /// Flush after every line (following: show it as it comes).
    eager: bool,
}

impl<O: Write, E: Write> Printer<O, E> {
    fn print(&mut self, e: &Entry) -> Result<()> {
        // Both streams may be one terminal: keep their lines in order.
        if e.stream != self.last {
            self.flush()?;
            self.last = e.stream;
        }
        let line = format_line(e, self.timestamps, self.details);
        match e.stream {
            Stream::Stdout => self.out.write_all(&line),
            Stream::Stderr => self.err.write_all(&line),
        }
        .context("write the logs")?;
        if self.eager {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().context("write the logs")?;
        self.err.flush().context("write the logs")
    }
}

/// One entry as Docker prints it: with `-t` the time (RFC 3339, always 9
/// fraction digits) and a space; with `--details` the entry's attributes
/// and a space (skiff's logs carry none, so Docker's lone space is left).
pub fn format_line(e: &Entry, timestamps: bool, details: bool) -> Vec<u8> {
    let mut line = Vec::with_capacity(e.text.len() + 32);
    if timestamps {
        line.extend_from_slice(
            e.time
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
                .as_bytes(),
        );
        line.push(b' ');
    }
    if details {
        line.push(b' ');
    }
    line.extend_from_slice(&e.text);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_is_a_count_or_all() {
        assert_eq!(parse_tail("all"), None);
        assert_eq!(parse_tail("0"), Some(0));
        assert_eq!(parse_tail("25"), Some(25));
        // Docker reads anything else as all.
        assert_eq!(parse_tail("-3"), None);
        assert_eq!(parse_tail("x"), None);
    }

    #[test]
    fn bad_times_are_one_line_errors_naming_the_flag() {
        let e = parse_time("since", "yesterday").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value for \"since\": failed to parse value as time or duration: \"yesterday\""
        );
        assert_eq!(
            crate::error::kind_of(&e),
            Some(crate::error::ErrorKind::InvalidArgument)
        );
    }

    #[test]
    fn lines_print_with_dockers_prefixes() {
        let e = Entry {
            time: chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05.5Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            stream: Stream::Stdout,
            text: b"hi\n".to_vec(),
        };
        assert_eq!(format_line(&e, false, false), b"hi\n");
        assert_eq!(
            format_line(&e, true, false),
            b"2026-01-02T03:04:05.500000000Z hi\n"
        );
        assert_eq!(
            format_line(&e, true, true),
            b"2026-01-02T03:04:05.500000000Z  hi\n"
        );
    }
}
