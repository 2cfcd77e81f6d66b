//! `skiff build`: an image from a Containerfile (see `build`), and
//! `skiff builder prune`: forget the build cache.

use crate::build::builder::{BuildOptions, Format, Output};
use crate::config::Config;
use crate::registry::manifest::Compression;
use crate::store::Store;
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Name and optionally a tag in the 'name:tag' format (repeatable)
    #[arg(short, long = "tag")]
    pub tag: Vec<String>,
    /// Name of the Containerfile (default: PATH/Containerfile, else PATH/Dockerfile)
    #[arg(short, long)]
    pub file: Option<String>,
    /// Set build-time variables (NAME=VALUE, or NAME to take it from the environment)
    #[arg(long = "build-arg")]
    pub build_arg: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the base images (always, missing, never)
    #[arg(long, num_args = 0..=1, default_missing_value = "always", require_equals = true)]
    pub pull: Option<String>,
    /// Images whose build cache (kept in images skiff built) seeds this build's
    #[arg(long = "cache-from")]
    pub cache_from: Vec<String>,
    /// Set metadata for an image (KEY=VALUE)
    #[arg(long)]
    pub label: Vec<String>,
    /// Write the image ID to the file
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    pub quiet: bool,
    /// The format of the image's manifest and config (oci or docker)
    #[arg(long, default_value = "oci")]
    pub format: String,
    /// Squash the layers the build made into one
    #[arg(long)]
    pub squash: bool,
    /// Output destination (type=local,dest=DIR or type=tar,dest=FILE)
    #[arg(short, long)]
    pub output: Option<String>,
    /// Compression of the layers made (gzip or zstd)
    #[arg(long = "compression-format", default_value = "gzip")]
    pub compression_format: String,
    /// The network of RUN instructions (default: the default bridge)
    #[arg(long)]
    pub network: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip) for RUN instructions
    #[arg(long, value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Set the target platform of the build
    #[arg(long)]
    pub platform: Option<String>,
    /// A secret RUN --mount=type=secret may use (id=ID,src=PATH)
    #[arg(long)]
    pub secret: Vec<String>,
    /// Remove intermediate containers after a successful build (always done)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub rm: Option<bool>,
    /// Always remove intermediate containers (always done)
    #[arg(long)]
    pub force_rm: bool,
    /// Type of progress output (accepted: the output is plain)
    #[arg(long)]
    pub progress: Option<String>,
    #[command(flatten)]
    pub registry: crate::image::remote::RegistryFlags,
    /// Build only the stage of this index (the stages of one build run at
    /// once use it)
    #[arg(long, hide = true)]
    pub stage_only: Option<usize>,
    /// Build context: a directory, or `-` for a tar archive (or a
    /// Containerfile alone) on standard input
    #[arg(value_name = "PATH")]
    pub context: String,
}

/// Docker's exit code for a build that failed.
const BUILD_FAILED: i32 = 1;

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    // CVE-2019-5736: the steps run containers as `run` does.
    if crate::runtime::trampoline::get().is_err() {
        crate::runtime::seal::ensure()?;
    }
    let mut opts = options(&args)?;
    let store = Store::open(&cfg.root)?;
    let mut stdin_used = false;
    let (file_text, file_name, ctx) = if args.context == "-" {
        stdin_used = true;
        let scratch = store.temp_dir("context")?;
        let (ctx, text) =
            crate::build::context::Context::from_stdin(std::io::stdin().lock(), &scratch)
                .context("read the build context from standard input")?;
        match text {
            // A Containerfile alone: an empty context.
            Some(text) => {
                let text = String::from_utf8(text).map_err(|_| {
                    anyhow!("the Containerfile on standard input is not UTF-8 text")
                })?;
                (text, "-".to_string(), ctx)
            }
            None => {
                let (text, name) = match &args.file {
                    Some(f) if f != "-" => {
                        let data = ctx.read_file(Path::new(f))?;
                        (String::from_utf8_lossy(&data).into_owned(), f.clone())
                    }
                    _ => containerfile(&args, ctx.root(), &mut stdin_used)?,
                };
                (text, name, ctx)
            }
        }
    } else {
        let dir = PathBuf::from(&args.context);
        if !dir.is_dir() {
            crate::bail_kind!(
                InvalidArgument,
                "unable to prepare context: path {:?} not found",
                args.context
            );
        }
        let (text, name) = containerfile(&args, &dir, &mut stdin_used)?;
        let ctx = crate::build::context::Context::dir(
            &dir,
            args.file.as_deref().filter(|f| *f != "-").map(Path::new),
        )?;
        (text, name, ctx)
    };
    opts.file_text = file_text;
    opts.file_name = file_name;
    let built = match crate::build::builder::build(&store, cfg, &ctx, &opts) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("skiff: {e:#}");
            return Ok(BUILD_FAILED);
        }
    };
    let Some(id) = built.id else {
        return Ok(0);
    };
    if let Some(p) = &args.iidfile {
        crate::util::fs::atomic_write(p, id.as_str().as_bytes())
            .with_context(|| format!("write the image ID to {}", p.display()))?;
    }
    if args.quiet {
        println!("{id}");
    } else {
        let shown: Vec<String> = opts
            .tags
            .iter()
            .map(|t| {
                crate::registry::Reference::parse(t)
                    .map(|r| r.familiar())
                    .unwrap_or_else(|_| t.clone())
            })
            .collect();
        println!("COMMIT {}", shown.first().map(String::as_str).unwrap_or(""));
        println!("--> {}", &id.hex()[..12]);
        for t in &shown {
            println!("Successfully tagged {t}");
        }
        println!("{}", id.hex());
    }
    Ok(0)
}

/// The Containerfile's text and the name its errors give: `-f`, else
/// `Containerfile`, else `Dockerfile` in the context.
fn containerfile(args: &Args, dir: &Path, stdin_used: &mut bool) -> Result<(String, String)> {
    if let Some(f) = &args.file {
        if f == "-" {
            if *stdin_used {
                crate::bail_kind!(
                    InvalidArgument,
                    "invalid argument: can't use stdin for both build context and dockerfile"
                );
            }
            *stdin_used = true;
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("read the Containerfile from standard input")?;
            return Ok((text, "-".into()));
        }
        let text = std::fs::read_to_string(f).map_err(|e| {
            crate::error::kind_err(
                crate::error::ErrorKind::NotFound,
                format!("the Containerfile {f}: {e}"),
            )
        })?;
        return Ok((text, f.clone()));
    }
    for name in ["Containerfile", "Dockerfile"] {
        let p = dir.join(name);
        if p.is_file() {
            let text =
                std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?;
            return Ok((text, p.to_string_lossy().into_owned()));
        }
    }
    crate::bail_kind!(
        NotFound,
        "no Containerfile or Dockerfile in {}",
        dir.display()
    )
}

/// The flags as build options (everything but the Containerfile).
fn options(args: &Args) -> Result<BuildOptions> {
    let bad = |m: String| crate::error::kind_err(crate::error::ErrorKind::InvalidArgument, m);
    let mut build_args = BTreeMap::new();
    for a in &args.build_arg {
        match a.split_once('=') {
            Some((k, v)) => {
                build_args.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(a) {
                    build_args.insert(a.clone(), v);
                }
            }
        }
    }
    let mut labels = BTreeMap::new();
    for l in &args.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    let mut tags = Vec::new();
    for t in &args.tag {
        let r = crate::registry::Reference::parse(t).map_err(|e| {
            bad(format!(
                "invalid argument {t:?} for \"-t, --tag\" flag: {e:#}"
            ))
        })?;
        if r.digest.is_some() {
            return Err(bad(format!(
                "invalid argument {t:?} for \"-t, --tag\" flag: a tag cannot be a digest"
            )));
        }
        tags.push(format!(
            "{}:{}",
            r.name(),
            r.tag.as_deref().unwrap_or("latest")
        ));
    }
    let pull = match args.pull.as_deref() {
        None | Some("missing") | Some("false") => crate::runtime::opts::PullPolicy::Missing,
        Some("always") | Some("true") => crate::runtime::opts::PullPolicy::Always,
        Some("never") => crate::runtime::opts::PullPolicy::Never,
        Some(o) => {
            return Err(bad(format!(
                "invalid --pull value {o:?} (always, missing or never)"
            )))
        }
    };
    let format = match args.format.as_str() {
        "oci" => Format::Oci,
        "docker" => Format::Docker,
        o => {
            return Err(bad(format!(
            "invalid argument {o:?} for \"--format\" flag: unrecognized image type (oci or docker)"
        )))
        }
    };
    let compression = match args.compression_format.as_str() {
        "gzip" => Compression::Gzip,
        "zstd" | "zstd:chunked" => Compression::Zstd,
        "none" | "uncompressed" => Compression::None,
        o => {
            return Err(bad(format!(
                "unsupported compression format {o:?} (gzip or zstd)"
            )))
        }
    };
    let output = args.output.as_deref().map(parse_output).transpose()?;
    let mut secrets = BTreeMap::new();
    for s in &args.secret {
        let mut id = None;
        let mut src = None;
        for part in s.split(',') {
            match part.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(PathBuf::from(v)),
                Some(("type", "file")) => {}
                _ => {
                    return Err(bad(format!(
                        "invalid --secret {s:?}: expected id=ID,src=PATH"
                    )))
                }
            }
        }
        let (Some(id), Some(src)) = (id, src) else {
            return Err(bad(format!(
                "invalid --secret {s:?}: expected id=ID,src=PATH"
            )));
        };
        if !src.is_file() {
            return Err(bad(format!(
                "--secret {id}: {} is not a file",
                src.display()
            )));
        }
        secrets.insert(id, src);
    }
    if let Some(n) = &args.network {
        crate::runtime::opts::NetworkMode::parse(n).map_err(|e| {
            bad(format!(
                "invalid argument {n:?} for \"--network\" flag: {e:#}"
            ))
        })?;
    }
    let platform = args
        .platform
        .as_deref()
        .map(crate::registry::platform::Platform::parse)
        .transpose()
        .map_err(|e| bad(format!("{e:#}")))?;
    let registry = args.registry.clone();
    Ok(BuildOptions {
        build_args,
        target: args.target.clone(),
        no_cache: args.no_cache,
        cache_from: args.cache_from.clone(),
        parallel: args.context != "-",
        stage_only: args.stage_only,
        pull,
        labels,
        tags,
        quiet: args.quiet,
        format,
        compression: Some(compression),
        squash: args.squash,
        output,
        network: args.network.clone(),
        extra_hosts: args
            .add_host
            .iter()
            .map(|h| crate::runtime::opts::net::parse_add_host(h))
            .collect::<Result<_>>()?,
        platform,
        secrets,
        registry,
        ..Default::default()
    })
}

/// `--output type=local,dest=DIR`, `type=tar,dest=FILE`, or a plain
/// directory (`-o DIR`, Docker's short form).
fn parse_output(s: &str) -> Result<Output> {
    if !s.contains('=') {
        return Ok(if s == "-" {
            Output::Tar(PathBuf::from("-"))
        } else {
            Output::Local(PathBuf::from(s))
        });
    }
    let mut kind = None;
    let mut dest = None;
    for part in s.split(',') {
        match part.split_once('=') {
            Some(("type", v)) => kind = Some(v.to_string()),
            Some(("dest", v)) => dest = Some(PathBuf::from(v)),
            _ => crate::bail_kind!(
                InvalidArgument,
                "invalid --output {s:?}: unknown field {part:?}"
            ),
        }
    }
    let dest = dest.ok_or_else(|| {
        crate::error::kind_err(
            crate::error::ErrorKind::InvalidArgument,
            format!("invalid --output {s:?}: dest= is required"),
        )
    })?;
    match kind.as_deref() {
        Some("local") => Ok(Output::Local(dest)),
        Some("tar") => Ok(Output::Tar(dest)),
        other => crate::bail_kind!(
            InvalidArgument,
            "invalid --output {s:?}: type {} (local or tar)",
            other.unwrap_or("missing")
        ),
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum BuilderCommand {
    /// Remove the build cache
    Prune(PruneArgs),
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Remove all unused build cache (the only kind kept)
    #[arg(short, long)]
    pub all: bool,
}

/// Forget the build cache entries (those written before `until`, when
/// given); the layers and blobs only they kept go at the next `gc`. The
/// report's part.
pub fn prune_cache(
    store: &Store,
    until: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<super::prune::Section> {
    Ok(super::prune::Section {
        title: "Deleted build cache objects",
        lines: store.cache_prune(until.map(std::time::SystemTime::from))?,
    })
}

pub fn builder(cmd: BuilderCommand, cfg: &Config) -> Result<i32> {
    match cmd {
        BuilderCommand::Prune(a) => {
            if !a.force
                && !super::prune::confirm("WARNING! This will remove all dangling build cache.")
            {
                return Ok(0);
            }
            let store = Store::open(&cfg.root)?;
            let cache = prune_cache(&store, None)?;
            let report = store.gc()?;
            cache.print()?;
            println!(
                "Total reclaimed space: {}",
                crate::util::human::size(report.bytes_freed)
            );
            Ok(0)
        }
    }
}
