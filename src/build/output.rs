//! `--output`: the target stage's files written out (a directory, or a
//! tar archive) instead of an image.

use super::builder::Output;
use super::state::State;
use super::step::StepContainer;
use crate::config::Config;
use crate::container::tarfs::{append_tree, extract, Links, Owner};
use crate::store::Store;
use anyhow::{Context, Result};
use std::ffi::OsStr;
use std::io::{BufWriter, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// Write `state`'s files where `out` says.
pub fn write(store: &Store, cfg: &Config, state: &State, out: &Output) -> Result<()> {
    let opts = crate::runtime::opts::RunOpts {
        image: "build output".into(),
        command: vec!["true".into()],
        entrypoint: Some(Vec::new()),
        network: crate::runtime::opts::NetworkMode::None,
        networks: Vec::new(),
        pull: crate::runtime::opts::PullPolicy::Never,
        ..Default::default()
    };
    let sc = StepContainer::make(store, cfg, state, opts)?;
    let view = sc.view_root()?;
    match out {
        Output::Tar(p) if p.as_os_str() == "-" => {
            tar_of(view.fd(), std::io::stdout().lock()).context("write the tar to stdout")
        }
        Output::Tar(p) => {
            let tmp = crate::util::fs::tmp_sibling(p);
            let res = (|| -> Result<()> {
                let f = std::fs::File::create(&tmp)
                    .with_context(|| format!("create {}", tmp.display()))?;
                tar_of(view.fd(), &f)?;
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
                let writer = s.spawn(move || tar_of(fd, std::fs::File::from(w)));
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

fn tar_of(root: BorrowedFd, w: impl Write) -> Result<()> {
    let mut b = tar::Builder::new(BufWriter::with_capacity(1 << 20, w));
    b.follow_symlinks(false);
    append_tree(
        &mut b,
        root,
        OsStr::new(""),
        Path::new(""),
        &mut Links::new(),
    )?;
    b.into_inner()?.flush()?;
    Ok(())
}
