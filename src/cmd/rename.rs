//! `skiff rename CONTAINER NEW_NAME`.

use crate::config::Config;
use crate::container::state;
use crate::store::Store;
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub container: String,
    pub new_name: String,
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let rec = state::find(&store, &args.container)?;
    store.rename_container(&rec.id, &args.new_name)?;
    let old = format!("/{}", rec.name);
    let mut renamed = rec.clone();
    renamed.name = args.new_name.trim_start_matches('/').to_string();
    store.container_event(&renamed, "rename", &[("oldName", &old)]);
    Ok(0)
}
