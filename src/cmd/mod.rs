//! One file per command: an `Args` struct and `fn run(args, &Config)`.
//! Commands parse and print; the work lives in `image`, `store` and
//! `registry`.

use crate::config::{Config, LogLevel};
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub mod archive;
pub mod attach;
pub mod build;
pub mod commit;
pub mod container_prune;
pub mod cp;
pub mod create;
pub mod diff;
pub mod events;
pub mod exec;
pub mod export;
pub mod format;
pub mod history;
pub mod images;
pub mod info;
pub mod inspect;
pub mod lifecycle;
pub mod login;
pub mod logs;
pub mod monitor;
pub mod network;
pub mod port;
pub mod prune;
pub mod ps;
pub mod pull;
pub mod push;
pub mod rename;
pub mod rmi;
pub mod run;
pub mod runtime;
pub mod stats;
pub mod system;
pub mod tag;
pub mod top;
pub mod unshare;
pub mod update;
pub mod version;
pub mod volume;

/// skiff: containers without a daemon.
#[derive(Debug, Parser)]
#[command(
    name = "skiff",
    about = "A daemonless container tool with Docker's command line",
    disable_version_flag = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// The persistent store (images, containers, volumes)
    #[arg(long, env = "SKIFF_ROOT", global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Volatile state (pids, sockets, mounts)
    #[arg(long, env = "SKIFF_RUNROOT", global = true, value_name = "DIR")]
    pub runroot: Option<PathBuf>,
    /// How much to log on stderr
    #[arg(long, global = true, value_enum, default_value = "warn")]
    pub log_level: LogLevel,
    /// Storage driver for new containers: overlay, fuse-overlayfs or vfs
    /// (default: the store's, probed once)
    #[arg(long, env = "STORAGE_DRIVER", global = true, value_name = "DRIVER")]
    pub storage_driver: Option<String>,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The command line parsed. The commands whose start time matters most
    /// (`run` and the monitor a detached `run` starts, `inspect`, `ps`) are
    /// parsed against a command tree holding
    /// that command alone: building clap's whole tree (every command and
    /// its flags) costs a tenth of a container's start and a third of an
    /// `inspect`.
    pub fn parse_args() -> Result<Cli, clap::Error> {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        match command_word(&args) {
            Some("run" | "container-monitor") => {
                OneCli::<RunOnly>::try_parse_from(args).map(OneCli::into_cli)
            }
            Some("inspect") => OneCli::<InspectOnly>::try_parse_from(args).map(OneCli::into_cli),
            Some("ps") => OneCli::<PsOnly>::try_parse_from(args).map(OneCli::into_cli),
            _ => Cli::try_parse_from(args),
        }
    }
}

/// The command word of a command line whose only options before it are
/// the global ones (`--root`, `--runroot`, `--log-level`,
/// `--storage-driver`, with their values); `None` for anything else,
/// which the whole tree then parses.
fn command_word(args: &[std::ffi::OsString]) -> Option<&str> {
    const TAKE_VALUE: [&str; 4] = ["--root", "--runroot", "--log-level", "--storage-driver"];
    let mut words = args.iter().skip(1).map(|a| a.to_str());
    while let Some(w) = words.next()? {
        if TAKE_VALUE.contains(&w) {
            words.next()?;
            continue;
        }
        let joined = TAKE_VALUE
            .iter()
            .any(|f| w.strip_prefix(f).is_some_and(|v| v.starts_with('=')));
        if !joined {
            return (!w.starts_with('-')).then_some(w);
        }
    }
    None
}

/// [`Cli`] with one command alone (see [`Cli::parse_args`]); the global
/// options are [`Cli`]'s, for the same help text.
#[derive(Debug, Parser)]
#[command(name = "skiff", disable_version_flag = true)]
struct OneCli<C: Subcommand + Into<Command>> {
    /// The persistent store (images, containers, volumes)
    #[arg(long, env = "SKIFF_ROOT", global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Volatile state (pids, sockets, mounts)
    #[arg(long, env = "SKIFF_RUNROOT", global = true, value_name = "DIR")]
    runroot: Option<PathBuf>,
    /// How much to log on stderr
    #[arg(long, global = true, value_enum, default_value = "warn")]
    log_level: LogLevel,
    /// Storage driver for new containers: overlay, fuse-overlayfs or vfs
    /// (default: the store's, probed once)
    #[arg(long, env = "STORAGE_DRIVER", global = true, value_name = "DRIVER")]
    storage_driver: Option<String>,
    #[command(subcommand)]
    command: C,
}

impl<C: Subcommand + Into<Command>> OneCli<C> {
    fn into_cli(self) -> Cli {
        Cli {
            root: self.root,
            runroot: self.runroot,
            log_level: self.log_level,
            storage_driver: self.storage_driver,
            version: false,
            command: Some(self.command.into()),
        }
    }
}

#[derive(Debug, Subcommand)]
enum RunOnly {
    /// Create and run a new container from an image
    Run(Box<run::Args>),
    /// The monitor of a detached container
    #[command(hide = true, name = "container-monitor")]
    ContainerMonitor(monitor::Args),
}

impl From<RunOnly> for Command {
    fn from(c: RunOnly) -> Command {
        match c {
            RunOnly::Run(a) => Command::Run(a),
            RunOnly::ContainerMonitor(a) => Command::ContainerMonitor(a),
        }
    }
}

#[derive(Debug, Subcommand)]
enum InspectOnly {
    /// Return low-level information on containers or images
    Inspect(inspect::Args),
}

impl From<InspectOnly> for Command {
    fn from(c: InspectOnly) -> Command {
        match c {
            InspectOnly::Inspect(a) => Command::Inspect(a),
        }
    }
}

#[derive(Debug, Subcommand)]
enum PsOnly {
    /// List containers
    Ps(ps::Args),
}

impl From<PsOnly> for Command {
    fn from(c: PsOnly) -> Command {
        match c {
            PsOnly::Ps(a) => Command::Ps(a),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and run a new container from an image
    Run(Box<run::Args>),
    /// Download an image from a registry
    Pull(pull::Args),
    /// Upload an image to a registry
    Push(push::Args),
    /// List images
    Images(images::Args),
    /// Show the history of an image
    History(history::Args),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Return low-level information on containers or images
    Inspect(inspect::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(tag::Args),
    /// Remove one or more images
    Rmi(rmi::Args),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(archive::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(archive::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(archive::ImportArgs),
    /// Log in to a registry
    Login(login::LoginArgs),
    /// Log out from a registry
    Logout(login::LogoutArgs),
    /// Manage skiff's store
    #[command(subcommand)]
    System(system::SystemCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Show the skiff version information
    Version(version::Args),
    /// Run a command in the rootless user and mount namespaces (to inspect or clean the store)
    Unshare(unshare::Args),
    /// Display system-wide information
    Info(info::Args),
    /// Create a new container
    Create(Box<run::Args>),
    /// Start one or more stopped containers
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers
    Stop(lifecycle::StopArgs),
    /// Restart one or more containers
    Restart(lifecycle::StopArgs),
    /// Kill one or more running containers
    Kill(lifecycle::KillArgs),
    /// Pause all processes within one or more containers
    Pause(lifecycle::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(lifecycle::PauseArgs),
    /// Remove one or more containers
    Rm(lifecycle::RmArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(lifecycle::WaitArgs),
    /// List containers
    Ps(ps::Args),
    /// Fetch the logs of a container
    Logs(logs::Args),
    /// Rename a container
    Rename(rename::Args),
    /// Display the running processes of a container
    Top(top::Args),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::Args),
    /// Update configuration of one or more containers
    Update(update::Args),
    /// List port mappings or a specific mapping for the container
    Port(port::Args),
    /// Get real time events from skiff's record
    Events(events::Args),
    /// Attach local standard input, output, and error streams to a running container
    Attach(attach::Args),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::Args),
    /// Export a container's filesystem as a tar archive
    Export(export::Args),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(diff::Args),
    /// Create a new image from a container's changes
    Commit(commit::Args),
    /// Execute a command in a running container
    Exec(exec::Args),
    /// Build an image from a Containerfile or Dockerfile
    Build(Box<build::Args>),
    /// Manage the build cache
    #[command(subcommand)]
    Builder(build::BuilderCommand),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Run OCI bundles with the built-in runtime
    #[command(subcommand, hide = true)]
    Runtime(runtime::RuntimeCommand),
    /// The monitor of a detached container
    #[command(hide = true, name = "container-monitor")]
    ContainerMonitor(monitor::Args),
    /// One health check of a running container
    #[command(hide = true, name = "container-probe")]
    ContainerProbe(monitor::ProbeArgs),
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create and run a new container from an image
    Run(Box<run::Args>),
    /// Create a new container
    Create(Box<run::Args>),
    /// Start one or more stopped containers
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers
    Stop(lifecycle::StopArgs),
    /// Restart one or more containers
    Restart(lifecycle::StopArgs),
    /// Kill one or more running containers
    Kill(lifecycle::KillArgs),
    /// Pause all processes within one or more containers
    Pause(lifecycle::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(lifecycle::PauseArgs),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(lifecycle::RmArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(lifecycle::WaitArgs),
    /// List containers
    #[command(alias = "ps", alias = "list")]
    Ls(ps::Args),
    /// Fetch the logs of a container
    Logs(logs::Args),
    /// Rename a container
    Rename(rename::Args),
    /// Display the running processes of a container
    Top(top::Args),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::Args),
    /// Update configuration of one or more containers
    Update(update::Args),
    /// List port mappings or a specific mapping for the container
    Port(port::Args),
    /// Remove all stopped containers
    Prune(container_prune::Args),
    /// Attach local standard input, output, and error streams to a running container
    Attach(attach::Args),
    /// Display detailed information on one or more containers
    Inspect(inspect::Args),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::Args),
    /// Export a container's filesystem as a tar archive
    Export(export::Args),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(diff::Args),
    /// Create a new image from a container's changes
    Commit(commit::Args),
    /// Execute a command in a running container
    Exec(exec::Args),
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(images::Args),
    /// Display detailed information on one or more images
    Inspect(inspect::Args),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(rmi::Args),
    /// Remove unused images
    Prune(prune::Args),
    /// Download an image from a registry
    Pull(pull::Args),
    /// Upload an image to a registry
    Push(push::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(tag::Args),
    /// Save one or more images to a tar archive
    Save(archive::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(archive::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(archive::ImportArgs),
    /// Build an image from a Containerfile or Dockerfile
    Build(Box<build::Args>),
    /// Show the history of an image
    History(history::Args),
}

fn container(c: ContainerCommand, cfg: &Config) -> Result<i32> {
    match c {
        ContainerCommand::Run(a) => run::run(*a, cfg),
        ContainerCommand::Create(a) => create::run(*a, cfg),
        ContainerCommand::Start(a) => lifecycle::start_cmd(a, cfg),
        ContainerCommand::Stop(a) => lifecycle::stop_cmd(a, cfg),
        ContainerCommand::Restart(a) => lifecycle::restart_cmd(a, cfg),
        ContainerCommand::Kill(a) => lifecycle::kill_cmd(a, cfg),
        ContainerCommand::Pause(a) => lifecycle::pause_cmd(a, cfg),
        ContainerCommand::Unpause(a) => lifecycle::unpause_cmd(a, cfg),
        ContainerCommand::Rm(a) => lifecycle::rm_cmd(a, cfg),
        ContainerCommand::Wait(a) => lifecycle::wait_cmd(a, cfg),
        ContainerCommand::Ls(a) => ps::run(a, cfg),
        ContainerCommand::Logs(a) => logs::run(a, cfg),
        ContainerCommand::Rename(a) => rename::run(a, cfg),
        ContainerCommand::Top(a) => top::run(a, cfg),
        ContainerCommand::Stats(a) => stats::run(a, cfg),
        ContainerCommand::Update(a) => update::run(a, cfg),
        ContainerCommand::Port(a) => port::run(a, cfg),
        ContainerCommand::Prune(a) => container_prune::run(a, cfg),
        ContainerCommand::Attach(a) => attach::run(a, cfg),
        ContainerCommand::Inspect(a) => inspect::container_cmd(a, cfg),
        ContainerCommand::Cp(a) => cp::run(a, cfg),
        ContainerCommand::Export(a) => export::run(a, cfg),
        ContainerCommand::Diff(a) => diff::run(a, cfg),
        ContainerCommand::Commit(a) => commit::run(a, cfg),
        ContainerCommand::Exec(a) => exec::run(a, cfg),
    }
}

/// Run the command the user asked for; returns the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let cfg = Config::load(cli.root, cli.runroot, cli.log_level, cli.storage_driver)?;
    crate::network::firewall::choose(cfg.firewall_driver.as_deref())?;
    // The OCI runtime commands take bundles whose maps are the host's
    // ids, as any runtime's do: they stay where they were started.
    if cfg.rootless && !matches!(cli.command, Some(Command::Runtime(_))) {
        crate::ns::rootless::enter(&cfg.runroot)?;
    }
    if cli.version {
        println!("skiff version {}", env!("CARGO_PKG_VERSION"));
        return Ok(0);
    }
    let Some(command) = cli.command else {
        return Ok(0);
    };
    match command {
        Command::Run(a) => run::run(*a, &cfg),
        Command::Pull(a) => pull::run(a, &cfg),
        Command::Push(a) => push::run(a, &cfg),
        Command::Images(a) => images::run(a, &cfg),
        Command::History(a) => history::run(a, &cfg),
        Command::Image(c) => image(c, &cfg),
        Command::Inspect(a) => inspect::run(a, &cfg),
        Command::Tag(a) => tag::run(a, &cfg),
        Command::Rmi(a) => rmi::run(a, &cfg),
        Command::Save(a) => archive::save_cmd(a, &cfg),
        Command::Load(a) => archive::load_cmd(a, &cfg),
        Command::Import(a) => archive::import_cmd(a, &cfg),
        Command::Login(a) => login::login(a, &cfg),
        Command::Logout(a) => login::logout(a, &cfg),
        Command::System(c) => system::run(c, &cfg),
        Command::Volume(c) => volume::run(c, &cfg),
        Command::Network(c) => network::run(c, &cfg),
        Command::Version(a) => version::run(a, &cfg),
        Command::Unshare(a) => unshare::run(a, &cfg),
        Command::Info(a) => info::run(a, &cfg),
        Command::Runtime(c) => runtime::run(c, &cfg),
        Command::Create(a) => create::run(*a, &cfg),
        Command::Start(a) => lifecycle::start_cmd(a, &cfg),
        Command::Stop(a) => lifecycle::stop_cmd(a, &cfg),
        Command::Restart(a) => lifecycle::restart_cmd(a, &cfg),
        Command::Kill(a) => lifecycle::kill_cmd(a, &cfg),
        Command::Pause(a) => lifecycle::pause_cmd(a, &cfg),
        Command::Unpause(a) => lifecycle::unpause_cmd(a, &cfg),
        Command::Rm(a) => lifecycle::rm_cmd(a, &cfg),
        Command::Wait(a) => lifecycle::wait_cmd(a, &cfg),
        Command::Ps(a) => ps::run(a, &cfg),
        Command::Logs(a) => logs::run(a, &cfg),
        Command::Rename(a) => rename::run(a, &cfg),
        Command::Top(a) => top::run(a, &cfg),
        Command::Stats(a) => stats::run(a, &cfg),
        Command::Update(a) => update::run(a, &cfg),
        Command::Port(a) => port::run(a, &cfg),
        Command::Events(a) => events::run(a, &cfg),
        Command::Attach(a) => attach::run(a, &cfg),
        Command::Cp(a) => cp::run(a, &cfg),
        Command::Export(a) => export::run(a, &cfg),
        Command::Diff(a) => diff::run(a, &cfg),
        Command::Commit(a) => commit::run(a, &cfg),
        Command::Exec(a) => exec::run(a, &cfg),
        Command::Build(a) => build::run(*a, &cfg),
        Command::Builder(c) => build::builder(c, &cfg),
        Command::Container(c) => container(c, &cfg),
        Command::ContainerMonitor(a) => monitor::run(a, &cfg),
        Command::ContainerProbe(a) => monitor::probe(a, &cfg),
    }
}

fn image(cmd: ImageCommand, cfg: &Config) -> Result<i32> {
    match cmd {
        ImageCommand::Ls(a) => images::run(a, cfg),
        ImageCommand::Inspect(a) => inspect::image_cmd(a, cfg),
        ImageCommand::Rm(a) => rmi::run(a, cfg),
        ImageCommand::Prune(a) => prune::run(a, cfg),
        ImageCommand::Pull(a) => pull::run(a, cfg),
        ImageCommand::Push(a) => push::run(a, cfg),
        ImageCommand::Tag(a) => tag::run(a, cfg),
        ImageCommand::Save(a) => archive::save_cmd(a, cfg),
        ImageCommand::Load(a) => archive::load_cmd(a, cfg),
        ImageCommand::Import(a) => archive::import_cmd(a, cfg),
        ImageCommand::Build(a) => build::run(*a, cfg),
        ImageCommand::History(a) => history::run(a, cfg),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
        super::OneCli::<super::RunOnly>::command().debug_assert();
        super::OneCli::<super::InspectOnly>::command().debug_assert();
        super::OneCli::<super::PsOnly>::command().debug_assert();
    }

    #[test]
    fn the_command_word_follows_the_global_options() {
        let word = |line: &str| {
            let args: Vec<std::ffi::OsString> = line.split(' ').map(Into::into).collect();
            super::command_word(&args).map(str::to_string)
        };
        assert_eq!(word("skiff inspect x").as_deref(), Some("inspect"));
        assert_eq!(
            word("skiff --root /r --runroot=/rr --log-level debug ps -a").as_deref(),
            Some("ps")
        );
        assert_eq!(word("skiff --root run inspect").as_deref(), Some("inspect"));
        assert_eq!(word("skiff -v inspect x"), None);
        assert_eq!(word("skiff --rooted inspect x"), None);
        assert_eq!(word("skiff --root"), None);
        assert_eq!(word("skiff"), None);
    }
}
