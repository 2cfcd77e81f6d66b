//! `skiff attach`: a detached container's output here, our input there,
//! through its monitor; detach with ctrl-p ctrl-q (`--detach-keys`).

use crate::config::Config;
use crate::container::{ops, state};
use crate::runtime::attach::{self, ClientOpts, Ended};
use crate::store::{ContainerRecord, Store};
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = "ctrl-p,ctrl-q")]
    pub detach_keys: String,
    pub container: String,
}

/// Relay through `conn` until the container ends (its exit code) or the
/// user detaches (0).
pub fn relay(
    store: &Store,
    rec: &ContainerRecord,
    conn: std::os::unix::net::UnixStream,
    stdin: bool,
    sig_proxy: bool,
    detach_keys: &str,
) -> Result<i32> {
    let keys = attach::parse_detach_keys(detach_keys).map_err(|e| {
        crate::error::kind_err(crate::error::ErrorKind::InvalidArgument, format!("{e:#}"))
    })?;
    let forward = |sig: i32| {
        if let Ok(r) = state::find(store, &rec.id) {
            let _ = ops::signal(&r, sig);
        }
    };
    let opts = ClientOpts {
        tty: rec.tty,
        stdin: stdin && rec.interactive,
        detach_keys: keys,
        forward: (sig_proxy && !rec.tty).then_some(&forward as &dyn Fn(i32)),
    };
    match attach::client(conn, &opts)? {
        Ended::Detached => Ok(0),
        Ended::Closed => ops::wait(store, &rec.id),
    }
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let rec = state::find(&store, &args.container)?;
    if rec.state.status == "paused" {
        crate::bail_kind!(
            InvalidState,
            "You cannot attach to a paused container, unpause it first"
        );
    }
    if !state::is_running(&rec) {
        crate::bail_kind!(
            InvalidState,
            "You cannot attach to a stopped container, start it first"
        );
    }
    let conn = attach::connect(&attach::socket_path(&cfg.runroot, &rec.id))?;
    relay(
        &store,
        &rec,
        conn,
        !args.no_stdin,
        args.sig_proxy,
        &args.detach_keys,
    )
}
