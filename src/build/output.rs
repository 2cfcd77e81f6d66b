//! `--output`: the target stage's files written out (a directory, or a
//! tar archive) instead of an image.

use super::builder::Output;
use super::state::State;
use super::step::StepContainer;
use crate::config::Config;
use crate::container::tarfs::{extract, write_tree, Owner};
use crate::store::Store;
use anyhow::{Context, Result};
use std::os::fd::AsFd;
use std::path::Path;

/// Write `state`'s files where `out` says.
pub fn write(store: &Store, cfg: &Config, state: &State, out: &Output) -> Result<()> {
    let sc = StepContainer::files_only(store, cfg, state, "build output")?;
    let view = sc.view_root()?;
    match out {
        Output::Tar(p) if p.as_os_str() == "-" => {
            write_tree(view.fd(), std::io::stdout().lock()).context("write the tar to stdout")
        }
        Output::Tar(p) => {
            let tmp = crate::util::fs::tmp_sibling(p);
            let res = (|| -> Result<()> {
                let f = std::fs::File::create(&tmp)
                    .with_context(|| format!("create {}", tmp.display()))?;
                write_tree(view.fd(), &f)?;
                f.sync_all()?;
                std::fs::rename(&tmp, p).with_context(|| format!("rename to {}", p.display()))
            })();
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res
        }
        Output::Local(dir) => {
            crate::util::fs::mkdir_all(dir, 0o755)?;
            let root =
                std::fs::File::open(dir).with_context(|| format!("open {}", dir.display()))?;
            let (r, w) = rustix::pipe::pipe().context("create a pipe")?;
            let fd = view.fd();
            std::thread::scope(|s| {
                let writer = s.spawn(move || write_tree(fd, std::fs::File::from(w)));
                let read = extract(
                    std::fs::File::from(r),
                    root.as_fd(),
                    Path::new(""),
                    Owner::Keep,
                );
                let wrote = writer.join().expect("the tar writer does not panic");
                read.and(wrote)
            })
            .with_context(|| format!("write the files to {}", dir.display()))
        }
    }
}
