//! `skiff run`: create a container from an image and run it: in the
//! foreground with skiff as its parent (no daemon, no shim), or with `-d`
//! under a monitor of its own. `skiff create` takes the same flags.

use crate::config::Config;
use crate::container::{self, PullSettings};
use crate::error::kind_of;
use crate::image::remote::RegistryFlags;
use crate::runtime::opts::{FlagContext, RunFlags, RunOpts};
use crate::store::Store;
use anyhow::{Context, Result};
use std::os::fd::AsFd;

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true, disable_help_flag = true)]
pub struct Args {
    /// Print help (`-h` is --hostname, as in Docker)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Automatically remove the container and its anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Write the container ID to the file
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<std::path::PathBuf>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Cgroup namespace to use (host|private)
    #[arg(long)]
    pub cgroupns: Option<String>,
    /// User namespace to use (host|keep-id|auto[:size=N]|nomap; keep-id
    /// and nomap rootless)
    #[arg(long)]
    pub userns: Option<String>,
    /// Map container ids to the host's (rootless: to the ids of skiff's
    /// user namespace) in a user namespace of the container's own:
    /// CONTAINER_ID:HOST_ID:AMOUNT, repeatable
    #[arg(long, value_name = "MAP")]
    pub uidmap: Vec<String>,
    /// As --uidmap, for group ids (--uidmap's maps when not given)
    #[arg(long, value_name = "MAP")]
    pub gidmap: Vec<String>,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    pub env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Add additional groups to join
    #[arg(long)]
    pub group_add: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, allow_hyphen_values = true)]
    pub entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
    /// PID namespace to use (host, container:NAME)
    #[arg(long)]
    pub pid: Option<String>,
    /// IPC mode to use (private, shareable, none, host, container:NAME)
    #[arg(long)]
    pub ipc: Option<String>,
    /// UTS namespace to use (host)
    #[arg(long)]
    pub uts: Option<String>,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long, allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Bind mount a volume
    #[arg(short, long)]
    pub volume: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long, value_name = "CONTAINER[:ro|rw]")]
    pub volumes_from: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Add Linux capabilities
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Security Options
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Ulimit options
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Sysctl options
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Add a host device to the container
    #[arg(long)]
    pub device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list
    #[arg(long, value_name = "\"TYPE MAJOR:MINOR ACCESS\"")]
    pub device_cgroup_rule: Vec<String>,
    /// Size of /dev/shm
    #[arg(long)]
    pub shm_size: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long)]
    pub add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long, alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Connect a container to a network (none, host, bridge, container:NAME, or a user network; repeat for several)
    #[arg(long, alias = "net")]
    pub network: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long, alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long)]
    pub mac_address: Option<String>,
    /// Publish a container's port(s) to the host
    #[arg(short, long, value_name = "[IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub expose: Vec<String>,
    /// Set meta data on a container
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long)]
    pub label_file: Vec<String>,
    /// Signal to stop the container
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long)]
    pub pull: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// Proxy received signals to the process (only true is supported)
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: Option<bool>,
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:N])
    #[arg(long)]
    pub restart: Option<String>,
    /// Logging driver for the container (json-file, k8s-file, none)
    #[arg(long)]
    pub log_driver: Option<String>,
    /// Log driver options
    #[arg(long)]
    pub log_opt: Vec<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long, allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Command to run to check health
    #[arg(long)]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(long, allow_hyphen_values = true)]
    pub health_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long, allow_hyphen_values = true)]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long, allow_hyphen_values = true)]
    pub health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s)
    #[arg(long, allow_hyphen_values = true)]
    pub health_start_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(long, allow_hyphen_values = true)]
    pub health_timeout: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    pub no_healthcheck: bool,
    #[command(flatten)]
    pub limits: super::update::LimitArgs,
    /// Disable OOM Killer
    #[arg(long)]
    pub oom_kill_disable: bool,
    /// Optional parent cgroup for the container
    #[arg(long)]
    pub cgroup_parent: Option<String>,
    /// Block IO weight (relative device weight)
    #[arg(long, value_name = "DEVICE:WEIGHT")]
    pub blkio_weight_device: Vec<String>,
    /// Limit read rate (bytes per second) from a device
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_write_iops: Vec<String>,
    /// Suppress the pull output
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// The image to run, then the command and its arguments (flags end
    /// at the image, as Docker's do: `run IMG -c x` passes `-c` on)
    #[arg(
        required = true,
        num_args = 1..,
        allow_hyphen_values = true,
        value_name = "IMAGE [COMMAND [ARG...]]"
    )]
    pub image_and_command: Vec<String>,
}

impl Args {
    fn flags(&self) -> RunFlags {
        RunFlags {
            image: self.image_and_command[0].clone(),
            command: self.image_and_command[1..].to_vec(),
            name: self.name.clone(),
            rm: self.rm,
            interactive: self.interactive,
            tty: self.tty,
            init: self.init,
            read_only: self.read_only,
            privileged: self.privileged,
            cgroupns: self.cgroupns.clone(),
            userns: self.userns.clone(),
            uidmap: self.uidmap.clone(),
            gidmap: self.gidmap.clone(),
            env: self.env.clone(),
            env_file: self.env_file.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            group_add: self.group_add.clone(),
            entrypoint: self.entrypoint.clone(),
            hostname: self.hostname.clone(),
            domainname: self.domainname.clone(),
            pid: self.pid.clone(),
            ipc: self.ipc.clone(),
            uts: self.uts.clone(),
            oom_score_adj: self.oom_score_adj,
            device_cgroup_rule: self.device_cgroup_rule.clone(),
            volume: self.volume.clone(),
            volumes_from: self.volumes_from.clone(),
            mount: self.mount.clone(),
            tmpfs: self.tmpfs.clone(),
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            security_opt: self.security_opt.clone(),
            ulimit: self.ulimit.clone(),
            sysctl: self.sysctl.clone(),
            device: self.device.clone(),
            shm_size: self.shm_size.clone(),
            add_host: self.add_host.clone(),
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_option: self.dns_option.clone(),
            network: self.network.clone(),
            network_alias: self.network_alias.clone(),
            ip: self.ip.clone(),
            mac_address: self.mac_address.clone(),
            publish: self.publish.clone(),
            publish_all: self.publish_all,
            expose: self.expose.clone(),
            label: self.label.clone(),
            label_file: self.label_file.clone(),
            stop_signal: self.stop_signal.clone(),
            pull: self.pull.clone(),
            platform: self.platform.clone(),
            detach: self.detach,
            restart: self.restart.clone(),
            log_driver: self.log_driver.clone(),
            log_opt: self.log_opt.clone(),
            stop_timeout: self.stop_timeout,
            health: crate::runtime::opts::life::HealthFlags {
                cmd: self.health_cmd.clone(),
                interval: self.health_interval.clone(),
                timeout: self.health_timeout.clone(),
                start_period: self.health_start_period.clone(),
                start_interval: self.health_start_interval.clone(),
                retries: self.health_retries,
                none: self.no_healthcheck,
            },
            resources: crate::runtime::opts::resources::ResourceFlags {
                oom_kill_disable: self.oom_kill_disable,
                cgroup_parent: self.cgroup_parent.clone(),
                blkio_weight_device: self.blkio_weight_device.clone(),
                device_read_bps: self.device_read_bps.clone(),
                device_write_bps: self.device_write_bps.clone(),
                device_read_iops: self.device_read_iops.clone(),
                device_write_iops: self.device_write_iops.clone(),
                ..self.limits.resource_flags()
            },
        }
    }

    /// The flags parsed and checked, with warnings printed.
    pub fn opts(&self) -> Result<RunOpts> {
        let cwd = std::env::current_dir().context("read the current directory")?;
        let lookup = |k: &str| std::env::var(k).ok();
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p).with_context(|| format!("open {}", p.display()))
        };
        let ctx = FlagContext {
            lookup_env: &lookup,
            read_file: &read,
            cwd: &cwd,
        };
        let mut opts = RunOpts::from_flags(&self.flags(), &ctx)?;
        opts.resources.check_on_host()?;
        let mut notes = opts.notes();
        if opts.resources.blkio_weight > 0 || !opts.resources.blkio_paths().is_empty() {
            notes.extend(
                opts.resources
                    .discard_unsupported(crate::runtime::cgroups::blkio_support()),
            );
        }
        for n in notes {
            if n.starts_with("WARNING: ") {
                eprintln!("{n}");
            } else {
                eprintln!("skiff: warning: {n}");
            }
        }
        Ok(opts)
    }

    pub fn pulling(&self) -> PullSettings {
        PullSettings {
            quiet: self.quiet,
            registry: self.registry.clone(),
        }
    }
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let opts = args.opts()?;
    // CVE-2019-5736: `run` always gives the container its own pid
    // namespace, so the sealed exec trampoline suffices where this machine
    // can run it. Without one, or with the built-in init (which stays
    // skiff for the container's life), skiff re-executes itself from a
    // sealed copy first: before any lock is taken or file written. (A
    // detached container's monitor sees to this itself.)
    let own_pid = opts.shares.pid == crate::runtime::opts::share::Share::Own;
    if !opts.detach && (opts.init || !own_pid || crate::runtime::trampoline::get().is_err()) {
        crate::runtime::seal::ensure()?;
    }
    let store = Store::open(&cfg.root)?;
    let cidfile = CidFile::claim(args.cidfile.as_deref())?;
    let mut made = container::create(&store, cfg, &opts, &args.pulling())?;
    cidfile.write(&made.id)?;
    if opts.detach {
        // A container that fails to start stays, as `created`, unless --rm.
        if !opts.rm {
            made.cleanup.disarm();
        }
        container::start::detached(cfg, &made.id, Some(&made.maker))?;
        made.cleanup.disarm();
        println!("{}", made.id);
        return Ok(0);
    }
    let id = made.id.clone();
    // Its maker starts it: a `start` meanwhile waits for this to let go.
    let _owner = crate::container::state::claim(&store, &id, true)?
        .ok_or_else(|| anyhow::anyhow!("container {id} was started by another command"))?;

    let mut running = None;
    let made_rec = store
        .container(&id)?
        .ok_or_else(|| anyhow::anyhow!("container {id} vanished before it started"))?;
    let (io, tee) = foreground_io(&store, &made_rec, &opts)?;
    // The containers it shares namespaces with, as they run now.
    crate::container::shares::point(
        &store,
        &crate::container::shares::of(&made_rec)?,
        &mut made.spec,
    )?;
    // `published` holds its host ports until it ends.
    let (endpoints, published) = crate::network::publish::connect(&store, &made_rec)?;
    let mut endpoints = Some(endpoints);
    let res = crate::runtime::run_spec(&made.dir, made.spec, &id, io, |pid| {
        // skiff itself is the container's owner (see container::state).
        let rec = store.update_container(&id, |c| {
            crate::runtime::monitor::mark_running(c, pid, true);
            c.state.endpoints = endpoints.take().unwrap_or_default();
            c.state.ports = published.ports.clone();
            Ok(c.clone())
        })?;
        store.container_event(&rec, "start", &[]);
        let roots = crate::runtime::probe::Roots {
            root: cfg.root.clone(),
            runroot: cfg.runroot.clone(),
        };
        let prober = crate::runtime::probe::Prober::start(&id, roots, rec.healthcheck.as_ref())?;
        running = Some(rec);
        let mut beside: Vec<Box<dyn crate::runtime::process::Beside>> = Vec::new();
        if let Some(prober) = prober {
            beside.push(Box::new(crate::runtime::probe::Beside {
                prober,
                store: &store,
            }));
        }
        if let Some(tee) = tee {
            beside.push(Box::new(tee));
        }
        Ok((!beside.is_empty()).then(|| {
            Box::new(crate::runtime::process::Several(beside))
                as Box<dyn crate::runtime::process::Beside>
        }))
    });
    crate::network::setup::disconnect(&store, &id);
    drop(published);
    let (code, oom, err) = match res {
        Ok(end) => (Some(end.exit.status()), end.oom_killed, None),
        Err(e) => (None, false, Some(e)),
    };
    if let (Some(c), Some(rec)) = (code, &running) {
        store.container_event(rec, "die", &[("exitCode", &c.to_string())]);
    }
    if !opts.rm {
        made.cleanup.disarm();
        store.update_container(&id, |c| {
            c.state.made_whole();
            c.state.status = if code.is_some() { "exited" } else { "created" }.into();
            c.state.exit_code = code.or(err.as_ref().and_then(kind_of).map(|k| k.exit_code()));
            c.state.oom_killed = oom;
            c.state.finished_at = Some(crate::store::containers::now());
            c.state.monitor_pid = None;
            c.state.monitor_start = None;
            c.state.pid = None;
            c.state.pid_start = None;
            c.state.endpoints.clear();
            c.state.ports.clear();
            if let Some(e) = &err {
                c.state.error = format!("{e:#}");
            }
            if let Some(h) = c.state.health.as_mut() {
                h.status = crate::runtime::health::UNHEALTHY.into();
            }
            Ok(())
        })?;
    }
    match (code, err) {
        (Some(c), _) => Ok(c),
        (None, Some(e)) => Err(e),
        (None, None) => Ok(0),
    }
}

/// A foreground container's standard streams, and the tee that logs its
/// output (as a detached container's is logged) unless its log driver is
/// `none`. Without -i its stdin is /dev/null, as Docker's is.
fn foreground_io(
    store: &Store,
    rec: &crate::store::containers::ContainerRecord,
    opts: &RunOpts,
) -> Result<(crate::runtime::RunIo, Option<crate::runtime::tee::Tee>)> {
    use crate::runtime::{logfile, tee::Tee, RunIo};
    let dup =
        |fd: std::os::fd::BorrowedFd| fd.try_clone_to_owned().context("dup a standard stream");
    let log = match logfile::log_path(&store.container_dir(&rec.id), &rec.id, &rec.log) {
        Some(p) => Some(logfile::LogWriter::open(&p, &rec.log)?),
        None => None,
    };
    Ok(match (log, opts.tty) {
        // The terminal's relay hands the tee what it copies.
        (Some(log), true) => (RunIo::Inherit, Some(Tee::for_tty(log))),
        (Some(log), false) => {
            let stdin = opts
                .interactive
                .then(|| dup(std::io::stdin().as_fd()))
                .transpose()?;
            let (stdio, tee) = Tee::new(stdin, log)?;
            (RunIo::Stdio(stdio), Some(tee))
        }
        (None, _) if opts.interactive || opts.tty => (RunIo::Inherit, None),
        (None, _) => (
            RunIo::Stdio(crate::runtime::Stdio {
                stdin: None,
                stdout: dup(std::io::stdout().as_fd())?,
                stderr: dup(std::io::stderr().as_fd())?,
            }),
            None,
        ),
    })
}

/// `--cidfile`: the file is made (and must not exist) before the
/// container, and holds its ID once it is made; a create that fails
/// takes the file away again, as Docker's does.
pub struct CidFile {
    path: Option<std::path::PathBuf>,
    file: Option<std::fs::File>,
}

impl CidFile {
    pub fn claim(path: Option<&std::path::Path>) -> Result<CidFile> {
        let Some(path) = path else {
            return Ok(CidFile {
                path: None,
                file: None,
            });
        };
        let file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => crate::bail_kind!(
                InvalidArgument,
                "Container ID file found, make sure the other container isn't running or delete {}",
                path.display()
            ),
            Err(e) => {
                return Err(e).with_context(|| format!("create the cidfile {}", path.display()))
            }
        };
        Ok(CidFile {
            path: Some(path.to_path_buf()),
            file: Some(file),
        })
    }

    /// The container is made: its ID into the file, which then stays.
    pub fn write(mut self, id: &str) -> Result<()> {
        use std::io::Write;
        if let (Some(mut f), Some(p)) = (self.file.take(), self.path.take()) {
            f.write_all(id.as_bytes())
                .with_context(|| format!("write the cidfile {}", p.display()))?;
        }
        Ok(())
    }
}

impl Drop for CidFile {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}
