//! `skiff port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published
//! ports. Containers publish none until bridge networking exists.

use crate::config::Config;
use crate::container::state;
use crate::store::Store;
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let rec = state::find(&store, &args.container)?;
    if let Some(p) = &args.port {
        let p = if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        };
        crate::bail_kind!(NotFound, "No public port '{p}' published for {}", rec.name);
    }
    Ok(0)
}
