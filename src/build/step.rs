//! A build step's container: made on the stage's state (its layers and
//! config, which are not an image), run in the foreground for `RUN` or
//! opened for `COPY`/`ADD`, its changes then taken as the step's layer.
//! The container is never made whole, so a build killed at any point
//! leaves only a half-made container, which the next command removes.

use super::state::State;
use crate::config::Config;
use crate::container::create::{create_on, Created};
use crate::registry::manifest::Compression;
use crate::runtime::opts::RunOpts;
use crate::store::build_cache::CachedLayer;
use crate::store::{ContainerRecord, Store};
use anyhow::{anyhow, Context, Result};
use std::os::fd::AsFd;

/// A step's container.
pub struct StepContainer<'a> {
    store: &'a Store,
    made: Created<'a>,
    pub rec: ContainerRecord,
}

impl<'a> StepContainer<'a> {
    /// A container on `state` as `opts` describe it (`opts.rm` is set).
    pub fn make(
        store: &'a Store,
        cfg: &Config,
        state: &State,
        opts: RunOpts,
    ) -> Result<StepContainer<'a>> {
        state.ensure_unpacked(store)?;
        let opts = RunOpts { rm: true, ..opts };
        let made = create_on(
            store,
            cfg,
            &opts,
            state.image_record(),
            state.config.clone(),
        )?;
        let rec = store
            .container(&made.id)?
            .ok_or_else(|| anyhow!("the step's container {} vanished", made.id))?;
        Ok(StepContainer { store, made, rec })
    }

    /// A container on `state` whose files are read or written but which
    /// never runs (`COPY`, `--from` sources, `--output`, `--squash`).
    pub fn files_only(
        store: &'a Store,
        cfg: &Config,
        state: &State,
        what: &str,
    ) -> Result<StepContainer<'a>> {
        let opts = RunOpts {
            image: what.to_string(),
            // A container must have a command; this one is never run.
            command: vec!["true".into()],
            entrypoint: Some(Vec::new()),
            network: crate::runtime::opts::NetworkMode::None,
            networks: Vec::new(),
            pull: crate::runtime::opts::PullPolicy::Never,
            ..Default::default()
        };
        StepContainer::make(store, cfg, state, opts)
    }

    /// Run its command in the foreground, its output on ours (or
    /// dropped); its exit status.
    pub fn run(&mut self, quiet: bool) -> Result<i32> {
        let store = self.store;
        let id = self.made.id.clone();
        let _owner = crate::container::state::claim(store, &id, true)?
            .ok_or_else(|| anyhow!("the step's container {id} was started by another command"))?;
        let out = |fd: std::os::fd::BorrowedFd| -> Result<std::os::fd::OwnedFd> {
            if quiet {
                let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
                Ok(null.into())
            } else {
                fd.try_clone_to_owned().context("dup the output")
            }
        };
        let io = crate::runtime::RunIo::Stdio(crate::runtime::Stdio {
            stdin: None,
            stdout: out(std::io::stdout().as_fd())?,
            stderr: out(std::io::stderr().as_fd())?,
        });
        // `published` holds the step's host ports (none) until it ends.
        let (_endpoints, published) = crate::network::publish::connect(store, &self.rec)?;
        let spec = self.made.spec.clone();
        let res = crate::runtime::run_spec(&self.made.dir, spec, &id, io, |_pid| Ok(None));
        crate::network::setup::disconnect(store, &id);
        drop(published);
        Ok(res?.exit.status())
    }

    /// Its root file system, mounted writable (for `COPY`/`ADD`); the
    /// mount goes when the view drops.
    pub fn open_root(&self) -> Result<crate::container::fs::RootView> {
        crate::container::fs::open_root(self.store, &self.rec, crate::container::fs::Access::Write)
    }

    /// Its root file system as it is, read only (a `--from` source).
    pub fn view_root(&self) -> Result<crate::container::fs::RootView> {
        crate::container::fs::open_root(self.store, &self.rec, crate::container::fs::Access::Read)
    }

    /// Its changes as the step's layer on `state`; `None` when nothing
    /// changed.
    pub fn commit(&self, state: &State, compression: Compression) -> Result<Option<CachedLayer>> {
        super::layer::commit_step(self.store, &self.rec, state.top(), compression)
    }
}
