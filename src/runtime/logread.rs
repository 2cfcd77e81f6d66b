//! Reading a container's log back, as `logs` does: the rotated files
//! oldest first, then the live one, and with `follow` whatever the monitor
//! appends next, across rotations, until the container's owner exits.
//! Woken by the kernel only: inotify on the log's directory, and a pidfd
//! on the owner (its exit comes after its last write to the log).

use super::logfile::{parse_entry, Entry};
use crate::store::LogConfig;
use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::cell::Cell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which entries to read, and whether to wait for more.
#[derive(Debug, Clone, Default)]
pub struct ReadOpts {
    /// Only the last N entries already written (`--tail`).
    pub tail: Option<usize>,
    /// Entries at or after this time (`--since`).
    pub since: Option<DateTime<Utc>>,
    /// Entries up to this time, and following stops there (`--until`).
    pub until: Option<DateTime<Utc>>,
    /// Keep reading while the owner lives (`--follow`).
    pub follow: bool,
}

/// The process that writes the log: pid and start time.
pub type Owner = (u32, Option<u64>);

/// Read the log at `path` (written with `cfg`), handing each entry to
/// `sink` in order. With `opts.follow` and a live `owner`, wait for new
/// entries until the owner exits (or `until` passes).
pub fn read(
    path: &Path,
    cfg: &LogConfig,
    opts: &ReadOpts,
    owner: Option<Owner>,
    sink: &mut dyn FnMut(&Entry) -> Result<()>,
) -> Result<()> {
    // Watch before the first read, so that nothing written in between is
    // missed.
    let watch = match owner.filter(|_| opts.follow) {
        Some(o) => Watch::new(path, o)?,
        None => None,
    };
    // Past `until`, nothing more is shown.
    let done = Cell::new(false);
    let mut emit = |e: Entry| -> Result<()> {
        if done.get() || opts.since.is_some_and(|s| e.time < s) {
            return Ok(());
        }
        if opts.until.is_some_and(|u| e.time > u) {
            done.set(true);
            return Ok(());
        }
        sink(&e)
    };
    let mut files = LogFiles::new(path, cfg);
    // Docker takes the tail first and filters it by time after.
    match opts.tail {
        Some(n) => {
            let mut last = VecDeque::with_capacity(n.min(4096));
            files.read_new(&mut |e| {
                if n > 0 {
                    if last.len() == n {
                        last.pop_front();
                    }
                    last.push_back(e);
                }
                Ok(())
            })?;
            for e in last {
                emit(e)?;
            }
        }
        None => files.read_new(&mut emit)?,
    }
    let Some(watch) = watch else {
        return Ok(());
    };
    loop {
        // `--until` in the future ends the follow when it comes.
        let left = match opts.until {
            Some(u) => match (u - Utc::now()).to_std() {
                Ok(d) => Some(d),
                Err(_) => Some(Duration::ZERO),
            },
            None => None,
        };
        let wake = watch.wait(left)?;
        files.read_new(&mut emit)?;
        if wake != Wake::Changed || done.get() {
            return Ok(());
        }
    }
}

/// What ended a wait.
#[derive(Debug, PartialEq, Eq)]
enum Wake {
    /// Something in the log's directory changed.
    Changed,
    /// The owner exited: its writes are all in the files.
    OwnerGone,
    /// The time given ran out.
    Timeout,
}

struct Watch {
    inotify: Inotify,
    owner: OwnedFd,
}

impl Watch {
    /// `None` when the owner is already gone (nothing more will come).
    fn new(path: &Path, (pid, start): Owner) -> Result<Option<Watch>> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .map_err(|e| anyhow!("watch {}: inotify_init: {e}", dir.display()))?;
        inotify
            .add_watch(
                dir,
                AddWatchFlags::IN_MODIFY
                    | AddWatchFlags::IN_CREATE
                    | AddWatchFlags::IN_MOVED_FROM
                    | AddWatchFlags::IN_MOVED_TO
                    | AddWatchFlags::IN_DELETE
                    | AddWatchFlags::IN_CLOSE_WRITE,
            )
            .map_err(|e| anyhow!("watch {}: {e}", dir.display()))?;
        let Some(p) = rustix::process::Pid::from_raw(pid as i32) else {
            return Ok(None);
        };
        let Ok(fd) = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) else {
            return Ok(None);
        };
        // The pidfd may name a newer process that got the pid.
        if !crate::util::fs::process_is(pid, start) {
            return Ok(None);
        }
        Ok(Some(Watch { inotify, owner: fd }))
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<Wake> {
        let t = match timeout {
            Some(d) => PollTimeout::try_from(d.as_millis().min(i32::MAX as u128 - 1) as i32 + 1)
                .unwrap_or(PollTimeout::MAX),
            None => PollTimeout::NONE,
        };
        let mut fds = [
            PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.owner.as_fd(), PollFlags::POLLIN),
        ];
        let n = loop {
            match poll(&mut fds, t) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.map_err(|e| anyhow!("wait for the log: poll: {e}"))?,
            }
        };
        let gone = fds[1].revents().is_some_and(|r| !r.is_empty());
        // Drain the events; which file changed does not matter, the
        // reader looks at them all.
        while let Ok(ev) = self.inotify.read_events() {
            if ev.is_empty() {
                break;
            }
        }
        Ok(if gone {
            Wake::OwnerGone
        } else if n == 0 {
            Wake::Timeout
        } else {
            Wake::Changed
        })
    }
}

/// A log and its rotated files, read as they grow. Files are told apart
/// by inode, so a rotation between two reads (the live file renamed to
/// `LOG.1`, a new `LOG` made) is noticed and nothing is read twice.
pub struct LogFiles {
    path: PathBuf,
    /// How many numbered files rotation keeps (`max-file` - 1).
    rotated: u32,
    cur: Option<Cursor>,
}

/// The newest file read so far, and how far.
struct Cursor {
    id: (u64, u64),
    reader: BufReader<File>,
    pos: u64,
    /// A line the writer has not finished yet.
    partial: Vec<u8>,
}

fn file_id(f: &File) -> Option<(u64, u64)> {
    f.metadata().ok().map(|m| (m.dev(), m.ino()))
}

fn open_if_there(p: &Path) -> Result<Option<File>> {
    match File::open(p) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("open log {}", p.display())),
    }
}

impl LogFiles {
    pub fn new(path: &Path, cfg: &LogConfig) -> LogFiles {
        let max_file: u32 = cfg
            .options
            .get("max-file")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
            .max(1);
        LogFiles {
            path: path.to_path_buf(),
            rotated: max_file - 1,
            cur: None,
        }
    }

    fn numbered(&self, n: u32) -> PathBuf {
        PathBuf::from(format!("{}.{n}", self.path.display()))
    }

    /// Hand `sink` every entry written since the last call (the whole log
    /// on the first), oldest first.
    pub fn read_new(&mut self, sink: &mut dyn FnMut(Entry) -> Result<()>) -> Result<()> {
        if let Some(c) = self.cur.as_mut() {
            c.read_on(&self.path, sink)?;
            let now = std::fs::metadata(&self.path)
                .ok()
                .map(|m| (m.dev(), m.ino()));
            if now.is_none_or(|id| id == c.id) {
                // Still the live file (or its successor not made yet).
                return Ok(());
            }
        }
        // First read, or rotated: open the live file first, then the
        // numbered ones, so that a rotation in between shows the live one
        // among them rather than losing a file.
        let live = open_if_there(&self.path)?;
        let live_id = live.as_ref().and_then(file_id);
        let mut older: Vec<(File, (u64, u64))> = Vec::new();
        for n in 1..=self.rotated {
            if let Some(f) = open_if_there(&self.numbered(n))? {
                if let Some(id) = file_id(&f) {
                    if !older.iter().any(|(_, o)| *o == id) {
                        older.push((f, id));
                    }
                }
            }
        }
        let cur_id = self.cur.as_ref().map(|c| c.id);
        // Newer than what was read: before the current file's place
        // (all of them when it was rotated away), after the live one's.
        let stop = cur_id
            .and_then(|id| older.iter().position(|(_, o)| *o == id))
            .unwrap_or(older.len());
        let start = live_id
            .and_then(|id| older.iter().position(|(_, o)| *o == id))
            .map(|i| i + 1)
            .unwrap_or(0);
        if let Some(c) = self.cur.as_mut() {
            // The writer has moved on: what it wrote last is complete.
            c.read_on(&self.path, sink)?;
            c.finish(sink);
        }
        // Each newer file in turn becomes the one read so far: when the
        // live file is missing (renamed, its successor not made yet), the
        // newest rotated one is where the next read goes on from.
        let newer = if start < stop {
            older.drain(start..stop).rev().collect()
        } else {
            Vec::new()
        };
        let live = live.zip(live_id).filter(|(_, id)| Some(*id) != cur_id);
        for (f, id) in newer.into_iter().chain(live) {
            if let Some(c) = self.cur.as_mut() {
                c.finish(sink);
            }
            let mut c = Cursor {
                id,
                reader: BufReader::new(f),
                pos: 0,
                partial: Vec::new(),
            };
            c.read_on(&self.path, sink)?;
            self.cur = Some(c);
        }
        Ok(())
    }
}

impl Cursor {
    /// Read to the end of the file, passing on each finished line.
    fn read_on(&mut self, path: &Path, sink: &mut dyn FnMut(Entry) -> Result<()>) -> Result<()> {
        // `max-file=1` rotates by truncating the same file.
        let len = self
            .reader
            .get_ref()
            .metadata()
            .map(|m| m.len())
            .unwrap_or(0);
        if len < self.pos {
            self.reader
                .seek(SeekFrom::Start(0))
                .with_context(|| format!("read {}", path.display()))?;
            self.pos = 0;
            self.partial.clear();
        }
        loop {
            let n = self
                .reader
                .read_until(b'\n', &mut self.partial)
                .with_context(|| format!("read {}", path.display()))?;
            if n == 0 {
                return Ok(());
            }
            self.pos += n as u64;
            if self.partial.last() != Some(&b'\n') {
                return Ok(());
            }
            let line = std::mem::take(&mut self.partial);
            pass_line(&line, sink)?;
        }
    }

    fn finish(&mut self, sink: &mut dyn FnMut(Entry) -> Result<()>) {
        let line = std::mem::take(&mut self.partial);
        let _ = pass_line(&line, sink);
    }
}

fn pass_line(line: &[u8], sink: &mut dyn FnMut(Entry) -> Result<()>) -> Result<()> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    if line.is_empty() {
        return Ok(());
    }
    // A line cut by a crash mid-write is skipped, not fatal.
    match parse_entry(line) {
        Ok(e) => sink(e),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::logfile::tests::cfg;
    use super::super::logfile::{log_path, LogWriter, Stream};
    use super::*;

    fn texts(files: &mut LogFiles) -> Vec<String> {
        let mut out = Vec::new();
        files
            .read_new(&mut |e| {
                out.push(String::from_utf8(e.text).unwrap());
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn reads_on_across_rotations_without_loss_or_repeats() {
        for driver in ["json-file", "k8s-file"] {
            let d = tempfile::tempdir().unwrap();
            let c = cfg(driver, &[("max-size", "300"), ("max-file", "4")]);
            let p = log_path(d.path(), "f", &c).unwrap();
            let mut w = LogWriter::open(&p, &c).unwrap();
            let mut files = LogFiles::new(&p, &c);
            let mut seen = Vec::new();
            let mut i = 0;
            // Between reads: no rotation, one, or two (never more than
            // rotation keeps, else lines are gone for any reader).
            for burst in [1, 2, 3, 5, 1, 8, 2, 6, 1, 1] {
                for _ in 0..burst {
                    w.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                        .unwrap();
                    i += 1;
                }
                seen.extend(texts(&mut files));
            }
            let want: Vec<String> = (0..i).map(|i| format!("line {i}\n")).collect();
            assert_eq!(seen, want, "{driver}");
        }
    }

    #[test]
    fn a_read_between_rename_and_create_repeats_nothing() {
        let d = tempfile::tempdir().unwrap();
        let c = cfg("json-file", &[("max-size", "1m"), ("max-file", "3")]);
        let p = d.path().join("m-json.log");
        std::fs::write(&p, [format_line("a\n"), format_line("b\n")].concat()).unwrap();
        // Caught mid-rotation: the live file renamed, no new one yet.
        std::fs::rename(&p, d.path().join("m-json.log.1")).unwrap();
        let mut files = LogFiles::new(&p, &c);
        assert_eq!(texts(&mut files), ["a\n", "b\n"]);
        assert!(texts(&mut files).is_empty());
        std::fs::write(&p, format_line("c\n")).unwrap();
        assert_eq!(texts(&mut files), ["c\n"]);
    }

    #[test]
    fn a_first_read_starts_at_the_oldest_file() {
        let d = tempfile::tempdir().unwrap();
        let c = cfg("json-file", &[("max-size", "200"), ("max-file", "3")]);
        let p = log_path(d.path(), "o", &c).unwrap();
        let mut w = LogWriter::open(&p, &c).unwrap();
        for i in 0..40 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        let got = texts(&mut LogFiles::new(&p, &c));
        assert_eq!(got.last().unwrap(), "line 39\n");
        let first: usize = got[0]["line ".len()..].trim().parse().unwrap();
        let want: Vec<String> = (first..40).map(|i| format!("line {i}\n")).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn unfinished_lines_wait_for_their_end() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x-json.log");
        let full = format_line("a longer line\n");
        let mut f = std::fs::File::create(&p).unwrap();
        use std::io::Write;
        f.write_all(&full[..10]).unwrap();
        let mut files = LogFiles::new(&p, &LogConfig::default());
        assert!(texts(&mut files).is_empty());
        f.write_all(&full[10..]).unwrap();
        assert_eq!(texts(&mut files), ["a longer line\n"]);
        // Truncated in place (max-file=1): read again from the start
        // (noticed while the file is shorter than what was read).
        let f = std::fs::File::create(&p).unwrap();
        drop(f);
        std::fs::write(&p, format_line("b\n")).unwrap();
        assert_eq!(texts(&mut files), ["b\n"]);
    }

    fn format_line(text: &str) -> Vec<u8> {
        super::super::logfile::format_entry(
            false,
            Utc::now(),
            Stream::Stdout,
            text.as_bytes(),
            false,
        )
    }

    #[test]
    fn tail_since_and_until_filter_in_dockers_order() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t-json.log");
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut data = Vec::new();
        for i in 0..10 {
            data.extend(super::super::logfile::format_entry(
                false,
                t0 + chrono::Duration::seconds(i),
                Stream::Stdout,
                format!("{i}\n").as_bytes(),
                false,
            ));
        }
        std::fs::write(&p, data).unwrap();
        let run = |opts: ReadOpts| {
            let mut out = String::new();
            read(&p, &LogConfig::default(), &opts, None, &mut |e| {
                out.push_str(std::str::from_utf8(&e.text).unwrap());
                Ok(())
            })
            .unwrap();
            out.replace('\n', " ")
        };
        assert_eq!(run(ReadOpts::default()), "0 1 2 3 4 5 6 7 8 9 ");
        let secs = |s| Some(t0 + chrono::Duration::seconds(s));
        assert_eq!(
            run(ReadOpts {
                tail: Some(3),
                ..Default::default()
            }),
            "7 8 9 "
        );
        assert_eq!(
            run(ReadOpts {
                tail: Some(0),
                ..Default::default()
            }),
            ""
        );
        assert_eq!(
            run(ReadOpts {
                since: secs(3),
                until: secs(5),
                ..Default::default()
            }),
            "3 4 5 "
        );
        // The tail is taken before the time filter, as Docker does.
        assert_eq!(
            run(ReadOpts {
                tail: Some(3),
                until: secs(7),
                ..Default::default()
            }),
            "7 "
        );
    }
}
