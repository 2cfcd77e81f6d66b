//! `RUN`: the command in a step container on the stage's state, with the
//! build arguments in its environment, the build's network, and its
//! `--mount`s (cache, bind from the context, secret, tmpfs); its changes
//! become the step's layer. And `HEALTHCHECK`'s config.

use super::ast::{Command, Health, MountType, Run, RunMount};
use super::stage::{Args, StageBuild};
use super::state::State;
use super::step::StepContainer;
use crate::image::config::HealthConfig;
use crate::runtime::opts::mounts::{MountKind, MountOrigin, MountRequest};
use crate::runtime::opts::{EnvVar, RunOpts};
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};

/// Run a `RUN` step (or take it from the cache).
pub fn run_step(sb: &StageBuild, state: &mut State, args: &Args, run: &Run) -> Result<()> {
    let (argv, script) = command_of(sb, state, run)?;
    let (env, keyed_env) = sb.arg_env(state, args);
    let network = match run.network.as_deref() {
        None | Some("default") => sb.opts.network.clone(),
        Some(n @ ("none" | "host")) => Some(n.to_string()),
        Some(other) => bail!("unsupported network mode {other:?} (default, none or host)"),
    };
    let mut mounts = Vec::new();
    let mut secret_env = Vec::new();
    let mut keep = Vec::new();
    for m in &run.mounts {
        mount_of(sb, state, args, m, &mut mounts, &mut secret_env, &mut keep)?;
    }
    let privileged = match run.security.as_deref() {
        None | Some("sandbox") => false,
        Some("insecure") => true,
        Some(other) => bail!("unsupported security mode {other:?} (sandbox or insecure)"),
    };
    let what = serde_json::json!({
        "run": argv,
        "env": keyed_env,
        "network": network,
        "mounts": mounts.iter().map(|m: &MountRequest| (m.target.clone(), m.source.clone(), m.readonly)).collect::<Vec<_>>(),
        "privileged": privileged,
    })
    .to_string();
    let created_by = format!("RUN {}", argv.join(" "));
    let hit = sb.record(state, &what, created_by, |state| {
        let mut env: Vec<EnvVar> = env
            .iter()
            .map(|(k, v)| EnvVar::Set(k.clone(), v.clone()))
            .collect();
        env.extend(
            secret_env
                .iter()
                .map(|(k, v): &(String, String)| EnvVar::Set(k.clone(), v.clone())),
        );
        let mut all_mounts = mounts.clone();
        if let Some(s) = &script {
            all_mounts.push(s.mount.clone());
        }
        let (net_mode, networks) =
            crate::runtime::opts::net::resolve_networks(network.as_slice(), &[], None, None)?;
        let opts = RunOpts {
            image: format!("build step of {}", sb.file.file),
            command: argv.clone(),
            entrypoint: Some(Vec::new()),
            env,
            mounts: all_mounts,
            network: net_mode,
            networks,
            extra_hosts: sb.opts.extra_hosts.clone(),
            privileged,
            pull: crate::runtime::opts::PullPolicy::Never,
            ..Default::default()
        };
        let mut sc = StepContainer::make(sb.store, sb.cfg, state, opts)?;
        let code = sc.run(sb.opts.quiet)?;
        if code != 0 {
            bail!(
                "process \"{}\" did not complete successfully: exit code: {code}",
                argv.join(" ")
            );
        }
        sc.commit(state, sb.compression())
    })?;
    sb.done(hit, state);
    Ok(())
}

/// A heredoc with a `#!` line, run as a file of its own.
struct Script {
    mount: MountRequest,
    _dir: tempdir::Dir,
}

/// The argv of a `RUN`, and the script file it runs, if any. Heredocs
/// go to the shell as they were written (the shell reads them); a `RUN`
/// that is nothing but a heredoc runs its body, by the shell, or as a
/// script when it starts with `#!`.
fn command_of(sb: &StageBuild, state: &State, run: &Run) -> Result<(Vec<String>, Option<Script>)> {
    let text = match &run.command {
        Command::Exec(v) => return Ok((v.clone(), None)),
        Command::Shell(s) => s,
    };
    if run.heredocs.is_empty() {
        return Ok((sb.command(state, &run.command), None));
    }
    let only = run.heredocs.len() == 1 && text.trim().starts_with("<<") && {
        let rest = text.trim().trim_start_matches("<<").trim_start_matches('-');
        rest.trim_matches(|c| c == '"' || c == '\'') == run.heredocs[0].name
    };
    if only {
        let body = &run.heredocs[0].content;
        if body.starts_with("#!") {
            let dir = tempdir::Dir::new(sb.store)?;
            let file = dir.path().join("script");
            std::fs::write(&file, body).context("write the heredoc's script")?;
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
            let target = format!("/dev/.skiff-heredoc-{}", run.heredocs[0].name);
            let mount = bind(target.clone(), &file, true);
            return Ok((vec![target], Some(Script { mount, _dir: dir })));
        }
        let mut argv = state.shell();
        argv.push(body.clone());
        return Ok((argv, None));
    }
    let mut script = text.clone();
    for h in &run.heredocs {
        script.push('\n');
        script.push_str(&h.content);
        script.push_str(&h.name);
    }
    let mut argv = state.shell();
    argv.push(script);
    Ok((argv, None))
}

/// One `RUN --mount` as a mount of the step's container (and, for a
/// secret given as a variable, its environment).
fn mount_of(
    sb: &StageBuild,
    state: &State,
    args: &Args,
    m: &RunMount,
    out: &mut Vec<MountRequest>,
    env: &mut Vec<(String, String)>,
    keep: &mut Vec<tempdir::Dir>,
) -> Result<()> {
    let workdir = state.workdir();
    let abs = |t: &str| {
        crate::runtime::opts::units::clean_path(&if t.starts_with('/') {
            t.to_string()
        } else {
            format!("{workdir}/{t}")
        })
    };
    match m.kind {
        MountType::Cache => {
            let target = abs(m
                .target
                .as_deref()
                .ok_or_else(|| anyhow!("cache mount needs a target"))?);
            let id = m.id.clone().unwrap_or_else(|| target.clone());
            let dir = sb
                .store
                .root()
                .join("build-cache-mounts")
                .join(crate::digest::Digest::of(id.as_bytes()).hex());
            if !dir.exists() {
                crate::util::fs::mkdir_all(&dir, 0o755)?;
                let mode = match &m.mode {
                    Some(s) => u32::from_str_radix(s, 8)
                        .map_err(|_| anyhow!("invalid mode {s:?} for a cache mount"))?,
                    None => 0o755,
                };
                std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
                let id_of = |s: &Option<String>| s.as_deref().map(str::parse::<u32>).transpose();
                let (uid, gid) = (id_of(&m.uid)?, id_of(&m.gid)?);
                if uid.is_some() || gid.is_some() {
                    std::os::unix::fs::chown(&dir, uid, gid)?;
                }
            }
            out.push(bind(target, &dir, m.read_only.unwrap_or(false)));
        }
        MountType::Bind => {
            let target = abs(m
                .target
                .as_deref()
                .ok_or_else(|| anyhow!("bind mount needs a target"))?);
            if m.read_only == Some(false) {
                // BuildKit throws the writes away; here they would reach
                // the context.
                bail!("RUN --mount=type=bind,rw is not supported yet");
            }
            let source = m.source.as_deref().unwrap_or("/");
            let host = match &m.from {
                None => inside(sb.ctx.root(), source)?,
                Some(from) => from_source(sb, state, args, from, source, keep)?,
            };
            out.push(bind(target, &host, true));
        }
        MountType::Secret => {
            let id =
                m.id.clone()
                    .or_else(|| {
                        m.target
                            .as_deref()
                            .and_then(|t| Path::new(t).file_name())
                            .map(|n| n.to_string_lossy().into_owned())
                    })
                    .ok_or_else(|| anyhow!("secret mount needs an id or a target"))?;
            let Some(src) = sb.opts.secrets.get(&id) else {
                if m.required {
                    bail!("secret {id} not found (give it with --secret id={id},src=PATH)");
                }
                return Ok(());
            };
            if let Some(var) = &m.env {
                let value = std::fs::read_to_string(src)
                    .with_context(|| format!("read secret {id} from {}", src.display()))?;
                env.push((var.clone(), value));
                if m.target.is_none() {
                    return Ok(());
                }
            }
            let target = abs(m.target.as_deref().unwrap_or(&format!("/run/secrets/{id}")));
            out.push(bind(target, src, true));
        }
        MountType::Tmpfs => {
            let target = abs(m
                .target
                .as_deref()
                .ok_or_else(|| anyhow!("tmpfs mount needs a target"))?);
            let mut r = MountRequest::new(MountKind::Tmpfs, target, MountOrigin::MountFlag);
            if let Some(size) = &m.size {
                r.tmpfs_options.push(format!("size={size}"));
            }
            out.push(r);
        }
        MountType::Ssh => bail!("RUN --mount=type=ssh is not supported"),
    }
    Ok(())
}

/// A bind mount's source in another stage or an image (`from=`): a
/// copy of it, made read-only by the mount, which lives as long as
/// `keep` holds its directory.
fn from_source(
    sb: &StageBuild,
    state: &State,
    args: &Args,
    from: &str,
    source: &str,
    keep: &mut Vec<tempdir::Dir>,
) -> Result<PathBuf> {
    use std::os::fd::AsRawFd;
    let from = sb.word(state, args, from)?;
    let src_state = sb.source_state(&from)?;
    let viewer = StepContainer::files_only(sb.store, sb.cfg, &src_state, "build mount source")?;
    let view = viewer.view_root()?;
    let root = PathBuf::from(format!("/proc/self/fd/{}", view.fd().as_raw_fd()));
    let clean = crate::runtime::opts::units::clean_path(&format!("/{source}"));
    let is_dir = super::copy::root::Root::open(&root)
        .and_then(|r| {
            let rel = r
                .resolve(
                    Path::new(clean.trim_start_matches('/')),
                    true,
                    &mut Default::default(),
                )
                .map_err(|e| anyhow!("{e}"))?;
            Ok(r.lstat(&rel)?.map(|st| st.st_mode & 0o170000 == 0o040000))
        })
        .with_context(|| format!("the bind mount's source {source} in {from}"))?
        .ok_or_else(|| anyhow!("the bind mount's source {source}: not found in {from}"))?;
    let dir = tempdir::Dir::new(sb.store)?;
    let spec = super::copy::CopySpec::new([clean.clone()], "/src/");
    super::copy::copy(&root, None, &spec, dir.path())
        .with_context(|| format!("the bind mount's source {source} in {from}"))?;
    let mut host = dir.path().join("src");
    if !is_dir {
        if let Some(name) = Path::new(&clean).file_name() {
            host.push(name);
        }
    }
    keep.push(dir);
    Ok(host)
}

/// `rel` inside the directory `root`, never outside it (symlinks
/// resolved within it).
fn inside(root: &Path, rel: &str) -> Result<PathBuf> {
    let clean = crate::runtime::opts::units::clean_path(&format!("/{rel}"));
    let p = root.join(clean.trim_start_matches('/'));
    let real = std::fs::canonicalize(&p)
        .with_context(|| format!("the bind mount's source {rel}: not in the context"))?;
    let base = std::fs::canonicalize(root)?;
    if !real.starts_with(&base) {
        bail!("the bind mount's source {rel} leads out of the context");
    }
    Ok(real)
}

/// `HEALTHCHECK`'s config.
pub fn health(h: &Health) -> Result<HealthConfig> {
    let Health::Check {
        command,
        interval,
        timeout,
        start_period,
        start_interval,
        retries,
    } = h
    else {
        return Ok(HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        });
    };
    let test = match command {
        Command::Exec(v) => std::iter::once("CMD".to_string())
            .chain(v.iter().cloned())
            .collect(),
        Command::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
    };
    let dur = |flag: &str, v: &Option<String>| -> Result<i64> {
        match v {
            None => Ok(0),
            Some(s) => {
                let n = crate::util::timespec::go_duration(s)
                    .ok_or_else(|| anyhow!("--{flag}: invalid duration {s:?}"))?;
                if n != 0 && n < 1_000_000 {
                    bail!("Interval \"{flag}\" cannot be less than 1ms");
                }
                Ok(n as i64)
            }
        }
    };
    let retries = match retries {
        None => 0,
        Some(r) => r
            .parse::<i64>()
            .map_err(|_| anyhow!("--retries: invalid number {r:?}"))?,
    };
    if retries < 0 {
        bail!("--retries cannot be negative ({retries})");
    }
    Ok(HealthConfig {
        test,
        interval: dur("interval", interval)?,
        timeout: dur("timeout", timeout)?,
        start_period: dur("start-period", start_period)?,
        start_interval: dur("start-interval", start_interval)?,
        retries,
    })
}

/// A scratch directory under the store's `tmp/`, removed on drop (and by
/// the store's sweep of dead writers' leftovers if skiff is killed).
mod tempdir {
    use anyhow::Result;
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(store: &crate::store::Store) -> Result<Dir> {
            Ok(Dir(store.temp_dir("heredoc")?))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A bind of host path `source` at `target` in the step container.
fn bind(target: String, source: &Path, readonly: bool) -> MountRequest {
    let mut r = MountRequest::new(MountKind::Bind, target, MountOrigin::MountFlag);
    r.source = Some(source.to_string_lossy().into_owned());
    r.readonly = readonly;
    r
}
