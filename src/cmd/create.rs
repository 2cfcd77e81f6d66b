//! `skiff create`: make a container (as `run` would) without starting it;
//! prints its ID. `skiff start` runs it.

use crate::config::Config;
use crate::container;
use crate::store::Store;
use anyhow::Result;

pub fn run(args: super::run::Args, cfg: &Config) -> Result<i32> {
    if args.detach {
        crate::bail_kind!(InvalidArgument, "unknown shorthand flag: 'd' in -d");
    }
    let opts = args.opts()?;
    let store = Store::open(&cfg.root)?;
    let cidfile = super::run::CidFile::claim(args.cidfile.as_deref())?;
    let mut made = container::create(&store, cfg, &opts, &args.pulling())?;
    cidfile.write(&made.id)?;
    store.update_container(&made.id, |c| {
        c.state.made_whole();
        Ok(())
    })?;
    made.cleanup.disarm();
    println!("{}", made.id);
    Ok(0)
}
