//! A detached container's log, as the monitor writes it and `logs` reads
//! it, in Docker's `json-file` format (one JSON object a line:
//! `{"log":"text\n","stream":"stdout","time":"RFC 3339 nanos"}`) or
//! Podman's `k8s-file` (`TIME STREAM F|P text`), with `max-size` /
//! `max-file` rotation: `LOG`, `LOG.1`, ... `LOG.<max-file - 1>`, oldest
//! last.

use crate::store::LogConfig;
use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Which of the container's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A line longer than this is written in pieces (Docker's 16 KiB).
const MAX_LINE: usize = 16 * 1024;

/// Where the log of container `id` (directory `dir`) lives; `None` for the
/// `none` driver.
pub fn log_path(dir: &Path, id: &str, cfg: &LogConfig) -> Option<PathBuf> {
    match cfg.driver.as_str() {
        "none" => None,
        "k8s-file" => Some(
            cfg.options
                .get("path")
                .map(PathBuf::from)
                .unwrap_or_else(|| dir.join("ctr.log")),
        ),
        _ => Some(dir.join(format!("{id}-json.log"))),
    }
}

/// Appends the container's output to its log.
pub struct LogWriter {
    path: PathBuf,
    k8s: bool,
    max_size: Option<u64>,
    max_file: u32,
    file: File,
    size: u64,
    /// The unfinished last line of each stream.
    pending: [Vec<u8>; 2],
}

impl LogWriter {
    pub fn open(path: &Path, cfg: &LogConfig) -> Result<LogWriter> {
        let max_size = cfg
            .options
            .get("max-size")
            .map(|v| crate::runtime::opts::parse_size(v))
            .transpose()?
            .filter(|n| *n > 0);
        let max_file = cfg
            .options
            .get("max-file")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
            .max(1);
        let file = open_append(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogWriter {
            path: path.to_path_buf(),
            k8s: cfg.driver == "k8s-file",
            max_size,
            max_file,
            file,
            size,
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Log what the container wrote: every finished line now, the rest
    /// when its line ends (or grows past 16 KiB).
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> Result<()> {
        let i = stream as usize;
        let mut buf = std::mem::take(&mut self.pending[i]);
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            let end = start + nl + 1;
            self.entry(stream, &buf[start..end], false)?;
            start = end;
        }
        while buf.len() - start >= MAX_LINE {
            self.entry(stream, &buf[start..start + MAX_LINE], true)?;
            start += MAX_LINE;
        }
        buf.drain(..start);
        self.pending[i] = buf;
        Ok(())
    }

    /// Write out unfinished lines (the container has exited).
    pub fn flush(&mut self) -> Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let buf = std::mem::take(&mut self.pending[stream as usize]);
            if !buf.is_empty() {
                self.entry(stream, &buf, true)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, stream: Stream, text: &[u8], partial: bool) -> Result<()> {
        let line = format_entry(self.k8s, Utc::now(), stream, text, partial);
        if let Some(max) = self.max_size {
            if self.size > 0 && self.size + line.len() as u64 > max {
                self.rotate()?;
            }
        }
        self.file
            .write_all(&line)
            .with_context(|| format!("write {}", self.path.display()))?;
        self.size += line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> Result<()> {
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if self.max_file <= 1 {
            self.file = File::create(&self.path)
                .with_context(|| format!("truncate {}", self.path.display()))?;
        } else {
            for n in (1..self.max_file - 1).rev() {
                let _ = std::fs::rename(numbered(n), numbered(n + 1));
            }
            std::fs::rename(&self.path, numbered(1))
                .with_context(|| format!("rotate {}", self.path.display()))?;
            self.file = open_append(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
        .with_context(|| format!("open log {}", path.display()))
}

/// One log line in the file's format.
pub fn format_entry(
    k8s: bool,
    time: DateTime<Utc>,
    stream: Stream,
    text: &[u8],
    partial: bool,
) -> Vec<u8> {
    let stamp = time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    if k8s {
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        let mut out = format!(
            "{stamp} {} {} ",
            stream.name(),
            if partial { "P" } else { "F" }
        )
        .into_bytes();
        out.extend_from_slice(text);
        out.push(b'\n');
        return out;
    }
    let obj = serde_json::json!({
        "log": String::from_utf8_lossy(text),
        "stream": stream.name(),
        "time": stamp,
    });
    let mut out = serde_json::to_vec(&obj).expect("JSON of strings");
    out.push(b'\n');
    out
}

/// One entry read back from a log.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub time: DateTime<Utc>,
    pub stream: Stream,
    /// The text, with its newline when the line was finished.
    pub text: Vec<u8>,
}

/// Parse one line of a log file (either format).
pub fn parse_entry(line: &[u8]) -> Result<Entry> {
    if line.first() == Some(&b'{') {
        #[derive(serde::Deserialize)]
        struct Json {
            log: String,
            stream: String,
            time: DateTime<Utc>,
        }
        let j: Json = serde_json::from_slice(line).context("a json-file log line")?;
        return Ok(Entry {
            time: j.time,
            stream: parse_stream(&j.stream)?,
            text: j.log.into_bytes(),
        });
    }
    let mut parts = line.splitn(4, |b| *b == b' ');
    let (Some(t), Some(s), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(anyhow!("a k8s-file log line without time, stream and tag"));
    };
    let time = DateTime::parse_from_rfc3339(std::str::from_utf8(t)?)
        .context("a k8s-file log time")?
        .with_timezone(&Utc);
    let mut text = parts.next().unwrap_or_default().to_vec();
    if tag == b"F" {
        text.push(b'\n');
    }
    Ok(Entry {
        time,
        stream: parse_stream(std::str::from_utf8(s)?)?,
        text,
    })
}

fn parse_stream(s: &str) -> Result<Stream> {
    match s {
        "stdout" => Ok(Stream::Stdout),
        "stderr" => Ok(Stream::Stderr),
        _ => Err(anyhow!("unknown log stream {s:?}")),
    }
}

/// Every entry of the log at `path`, rotated files first (oldest first).
pub fn read_all(path: &Path) -> Result<Vec<Entry>> {
    let mut files = Vec::new();
    for n in (1..100).rev() {
        let p = PathBuf::from(format!("{}.{n}", path.display()));
        if p.exists() {
            files.push(p);
        }
    }
    files.push(path.to_path_buf());
    let mut out = Vec::new();
    for f in files {
        let data = match std::fs::read(&f) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("read {}", f.display())),
        };
        for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            // A line cut by a crash mid-write is skipped, not fatal.
            if let Ok(e) = parse_entry(line) {
                out.push(e);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A log configuration for tests.
    pub(crate) fn cfg(driver: &str, opts: &[(&str, &str)]) -> LogConfig {
        LogConfig {
            driver: driver.into(),
            options: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn lines_are_split_kept_apart_and_read_back() {
        for driver in ["json-file", "k8s-file"] {
            let d = tempfile::tempdir().unwrap();
            let c = cfg(driver, &[]);
            let p = log_path(d.path(), "abc", &c).unwrap();
            let mut w = LogWriter::open(&p, &c).unwrap();
            w.write(Stream::Stdout, b"one\ntw").unwrap();
            w.write(Stream::Stderr, b"err\n").unwrap();
            w.write(Stream::Stdout, b"o\nthree").unwrap();
            w.flush().unwrap();
            let e = read_all(&p).unwrap();
            let texts: Vec<(&str, Stream)> = e
                .iter()
                .map(|e| (std::str::from_utf8(&e.text).unwrap(), e.stream))
                .collect();
            assert_eq!(
                texts,
                [
                    ("one\n", Stream::Stdout),
                    ("err\n", Stream::Stderr),
                    ("two\n", Stream::Stdout),
                    ("three", Stream::Stdout),
                ],
                "{driver}"
            );
        }
    }

    #[test]
    fn json_file_lines_are_dockers() {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.000000006Z")
            .unwrap()
            .with_timezone(&Utc);
        let line = format_entry(false, t, Stream::Stderr, b"a \"q\"\n", false);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"log\":\"a \\\"q\\\"\\n\",\"stream\":\"stderr\",\"time\":\"2026-01-02T03:04:05.000000006Z\"}\n"
        );
    }

    #[test]
    fn rotation_keeps_max_file_files() {
        let d = tempfile::tempdir().unwrap();
        let c = cfg("json-file", &[("max-size", "200"), ("max-file", "3")]);
        let p = log_path(d.path(), "r", &c).unwrap();
        let mut w = LogWriter::open(&p, &c).unwrap();
        for i in 0..40 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        for f in [
            p.clone(),
            d.path().join("r-json.log.1"),
            d.path().join("r-json.log.2"),
        ] {
            let len = std::fs::metadata(&f).unwrap().len();
            assert!(len <= 200, "{} is {len} bytes", f.display());
        }
        assert!(!d.path().join("r-json.log.3").exists());
        let e = read_all(&p).unwrap();
        assert_eq!(e.last().unwrap().text, b"line 39\n");
        assert!(e.len() < 40, "the oldest lines were rotated away");
    }

    #[test]
    fn long_lines_are_written_in_pieces() {
        let d = tempfile::tempdir().unwrap();
        let c = LogConfig::default();
        let p = log_path(d.path(), "l", &c).unwrap();
        let mut w = LogWriter::open(&p, &c).unwrap();
        w.write(Stream::Stdout, &vec![b'x'; MAX_LINE * 2 + 10])
            .unwrap();
        w.write(Stream::Stdout, b"\n").unwrap();
        let e = read_all(&p).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[2].text.len(), 11);
        assert!(log_path(d.path(), "n", &cfg("none", &[])).is_none());
    }
}
