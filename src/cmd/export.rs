//! `skiff export`: a container's file system as a tar archive.

use crate::config::Config;
use crate::container::fs::{open_root, Access};
use crate::container::state::find;
use crate::container::tarfs::write_tree_as;
use crate::store::Store;
use crate::util::idshift::IdShift;
use anyhow::{Context, Result};
use std::fs::File;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The container
    pub container: String,
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let rec = find(&store, &args.container)?;
    if args.output.is_none() && crate::sys::isatty(&std::io::stdout()) {
        crate::bail_kind!(
            InvalidArgument,
            "cowardly refusing to save to a terminal. Use the -o flag or redirect"
        );
    }
    let view = open_root(&store, &rec, Access::Export)?;
    // A container that sees its image through its maps: its files go
    // back to its own ids, as in the image they came from.
    let shift = if crate::container::fs::overlay_of(&store, &rec)?.shifted {
        crate::container::changes::shift_of(&store, &rec)
    } else {
        IdShift::identity()
    };
    let what = || format!("export {}", args.container);
    match &args.output {
        Some(p) => {
            let tmp = crate::util::fs::tmp_sibling(p);
            let res = (|| -> Result<()> {
                let f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
                write_tree_as(view.fd(), &f, &shift)?;
                f.sync_all()?;
                std::fs::rename(&tmp, p).with_context(|| format!("rename to {}", p.display()))
            })();
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res.with_context(what)?;
        }
        None => write_tree_as(view.fd(), std::io::stdout().lock(), &shift).with_context(what)?,
    }
    Ok(0)
}
