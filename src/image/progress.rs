//! What long image work (pull, push, save, load) tells the user while it
//! runs: a bar per layer on a terminal, one line per event otherwise,
//! nothing when quiet. Always on stderr, so stdout stays parseable.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

pub enum Mode {
    Quiet,
    Lines,
    Bars,
}

pub struct Progress {
    mode: Mode,
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    /// Bars when stderr is a terminal, lines otherwise, nothing if quiet.
    pub fn for_stderr(quiet: bool) -> Progress {
        if quiet {
            Progress::new(Mode::Quiet)
        } else if crate::sys::isatty(&std::io::stderr()) {
            Progress::new(Mode::Bars)
        } else {
            Progress::new(Mode::Lines)
        }
    }

    pub fn new(mode: Mode) -> Progress {
        let multi = matches!(mode, Mode::Bars)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress {
            mode,
            multi,
            bars: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_quiet(&self) -> bool {
        matches!(self.mode, Mode::Quiet)
    }

    /// A plain line (headers such as "latest: Pulling from library/busybox").
    pub fn line(&self, msg: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                let _ = writeln!(std::io::stderr(), "{msg}");
            }
            Mode::Bars => {
                if let Some(m) = &self.multi {
                    let _ = m.println(msg);
                }
            }
        }
    }

    fn bar(&self, id: &str) -> Option<ProgressBar> {
        let multi = self.multi.as_ref()?;
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            bars.entry(id.to_string())
                .or_insert_with(|| {
                    let b = multi.add(ProgressBar::new(0));
                    b.set_style(
                        ProgressStyle::with_template(
                            "{prefix}: {msg:<18} [{bar:30}] {bytes}/{total_bytes}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    b.set_prefix(id.to_string());
                    b
                })
                .clone(),
        )
    }

    /// A layer's status changed ("Pulling fs layer", "Pull complete", ...).
    pub fn status(&self, id: &str, status: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                let _ = writeln!(std::io::stderr(), "{id}: {status}");
            }
            Mode::Bars => {
                if let Some(b) = self.bar(id) {
                    b.set_message(status.to_string());
                }
            }
        }
    }

    /// Bytes moved for a layer so far (bars only).
    pub fn bytes(&self, id: &str, done: u64, total: u64) {
        if let Mode::Bars = self.mode {
            if let Some(b) = self.bar(id) {
                b.set_length(total);
                b.set_position(done);
            }
        }
    }

    /// Stop drawing; leaves the final state on screen.
    pub fn finish(&self) {
        if let Mode::Bars = self.mode {
            let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
            for b in bars.values() {
                b.abandon();
            }
        }
    }
}
