//! `skiff exec`: start one more process in a running container.
//!
//! The process is planned from the container's own spec, as its init was
//! (`plan::build`), then changed where `exec` differs: its command,
//! environment, user, working directory, and with `--privileged` every
//! capability and no seccomp filter. Nothing is created: every namespace
//! of the container's init is joined instead, through `/proc/PID/ns/*`
//! opened from a descriptor of `/proc/PID` whose start time matched the
//! record (a pid reused by another process is never joined). The pid
//! namespace is entered by skiff for its child before the fork (`setns`
//! never moves the caller itself); the child joins the rest, the user
//! namespace first and the mount namespace last, which also gives it the
//! container's root. From there on it follows the init's own last steps
//! (`init::finish`): rlimits, bounding set, no_new_privs, user, cwd
//! (checked to be inside the container, CVE-2024-21626), capabilities,
//! every descriptor above 2 close-on-exec, seccomp, `execve`.
//!
//! CVE-2019-5736: the new process lives in the container's pid namespace
//! from its first instant, where the container's processes can reach it
//! through `/proc` before its `execve`; the exec trampoline protects only
//! a process that is alone in its namespace, so `exec` always runs from a
//! sealed copy of skiff (`seal::ensure`, called by the command first).

use super::caps::{self, CapPlan};
use super::opts::env::{env_has, merge_env, EnvVar};
use super::paths::open_in_root;
use super::plan::{self, Plan};
use super::process;
use super::seccomp::Filters;
use super::sync::{Channel, Msg};
use super::user::{resolve_user, ResolvedUser};
use super::{bundle::Bundle, init, pty, Exit, RunIo, Stdio};
use crate::error::{kind_err, ErrorKind};
use crate::ns::{Join, NsPlan};
use crate::sys::fork::{fork_into, Forked};
use crate::sys::proc::exit_now;
use anyhow::{anyhow, bail, Context, Result};
use nix::sched::CloneFlags;
use rustix::fs::{Mode, OFlags};
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What `skiff exec` asks for.
#[derive(Debug, Clone, Default)]
pub struct ExecOpts {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// `--env-file` entries, then `-e` ones, in that order.
    pub env: Vec<EnvVar>,
    /// `-u user[:group]`, resolved in the container's `/etc/passwd`.
    pub user: Option<String>,
    /// `-w`, an absolute path inside the container.
    pub workdir: Option<String>,
    pub privileged: bool,
    pub interactive: bool,
    pub tty: bool,
    pub detach: bool,
}

/// The running container to enter.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its bundle: `config.json`, the spec it runs with.
    pub dir: PathBuf,
    pub id: String,
    /// Its init, as the host sees it, and that process's start time.
    pub pid: u32,
    pub pid_start: Option<u64>,
}

/// The namespaces `exec` joins, in order: the user namespace first (it
/// gives the capabilities the other joins need), the mount namespace last
/// (it changes the root under every path after it).
const JOINED: [(&str, CloneFlags); 6] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Start `opts.command` in the container and, unless detached, wait for
/// it. The caller runs from a sealed copy of skiff (`seal::ensure`).
pub fn exec(target: &Target, opts: &ExecOpts) -> Result<Exit> {
    if !super::seal::protected() {
        bail!("refusing to exec into a container while skiff runs from a writable binary (call runtime::seal::ensure first)");
    }
    let bundle = Bundle::load(&target.dir)?;
    let proc_dir = open_process(target)?;
    let mut plan = plan::build(&bundle, &target.id)?;
    let root = open_root(proc_dir.as_fd(), target.pid)?;
    let files = UserFiles::read(root.as_fd());
    adapt(&mut plan, &bundle, opts, &files, &caps::available())?;
    plan.ns = namespaces(proc_dir.as_fd(), target.pid)?;
    plan.cgroup = super::cgroups::join(&bundle.spec)?;
    // The descriptors were opened through the process's own /proc
    // directory: if it still has the recorded start time, they are its.
    check_start(proc_dir.as_fd(), target)?;
    drop((root, proc_dir));
    let io = stdio(opts)?;
    if opts.detach {
        return detached(|| process::launch(&plan, io, |chan, stdio| child(&plan, chan, stdio)));
    }
    let spawned = process::launch(&plan, io, |chan, stdio| child(&plan, chan, stdio))?;
    process::wait(spawned)
}

/// `exec -d`: a copy of skiff in a session of its own starts the process
/// and stays its parent until it exits, so that it is reaped (the
/// container's init may reap nothing) as Docker's shim reaps its execs.
/// The command returns once the process runs, or with the error that kept
/// it from running (told over a pipe, in the monitor's words).
fn detached(start: impl FnOnce() -> Result<process::Spawned>) -> Result<Exit> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| anyhow!("create a pipe: {}", super::io_text(&e.into())))?;
    let _ = std::io::Write::flush(&mut std::io::stdout());
    match fork_into(0, None).map_err(|e| anyhow!("fork: {}", super::io_text(&e)))? {
        Forked::Parent(_) => {
            drop(w);
            let mut said = Vec::new();
            let _ = std::fs::File::from(r).read_to_end(&mut said);
            // The copy keeps running: no zombie of it is left, as it is
            // reaped by whoever inherits it when this command exits.
            super::monitor::read_ready(&said)?;
            Ok(Exit::Code(0))
        }
        Forked::Child => {
            drop(r);
            let mut w = std::fs::File::from(w);
            let _ = rustix::process::setsid();
            // Off the caller's terminal and pipes: a `$(skiff exec -d ...)`
            // must not wait for the process's end.
            if let Ok(null) =
                rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
            {
                let _ = rustix::stdio::dup2_stdin(&null);
                let _ = rustix::stdio::dup2_stdout(&null);
                let _ = rustix::stdio::dup2_stderr(&null);
            }
            let spawned = match start() {
                Ok(s) => s,
                Err(e) => {
                    let code = crate::error::kind_of(&e)
                        .map(|k| k.exit_code())
                        .unwrap_or(125);
                    let _ = write!(w, "err {code}\n{e:#}");
                    exit_now(code);
                }
            };
            let _ = w.write_all(b"ok\n");
            drop(w);
            let code = process::wait(spawned).map(|e| e.status()).unwrap_or(125);
            exit_now(code)
        }
    }
}

fn not_running(id: &str) -> anyhow::Error {
    kind_err(
        ErrorKind::InvalidState,
        format!("container {id} is not running"),
    )
}

/// `/proc/PID` of the container's init, checked to be the recorded
/// process: the directory stays that process's even if the pid is reused.
fn open_process(target: &Target) -> Result<OwnedFd> {
    let path = format!("/proc/{}", target.pid);
    let fd = rustix::fs::open(
        path.as_str(),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|_| not_running(&target.id))?;
    check_start(fd.as_fd(), target)?;
    Ok(fd)
}

/// Is the process of `/proc/PID` descriptor `dir` alive with the start
/// time recorded for the container's init?
fn check_start(dir: BorrowedFd, target: &Target) -> Result<()> {
    match (start_time(dir), target.pid_start) {
        (None, _) => Err(not_running(&target.id)),
        (Some(now), Some(then)) if now != then => Err(not_running(&target.id)),
        _ => Ok(()),
    }
}

/// The start time in `stat` of the process `dir` is `/proc/PID` of.
fn start_time(dir: BorrowedFd) -> Option<u64> {
    let fd =
        rustix::fs::openat(dir, "stat", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).ok()?;
    // Field 22, 19 after the state.
    crate::util::fs::stat_fields(&s)?.nth(19)?.parse().ok()
}

/// The container's root, as its init sees it.
fn open_root(dir: BorrowedFd, pid: u32) -> Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        "root",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| anyhow!("open /proc/{pid}/root: {}", super::io_text(&e.into())))
}

/// The namespaces of the process `dir` is `/proc/PID` of that are not
/// already ours: the pid namespace apart (entered for the child by
/// skiff), the rest to join in [`JOINED`]'s order.
fn namespaces(dir: BorrowedFd, pid: u32) -> Result<NsPlan> {
    let open = |name: &str| -> Result<Option<(OwnedFd, PathBuf)>> {
        let rel = format!("ns/{name}");
        let path = PathBuf::from(format!("/proc/{pid}/{rel}"));
        let fd = match rustix::fs::openat(
            dir,
            rel.as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            // A kernel without this kind of namespace.
            Err(rustix::io::Errno::NOENT) if name != "mnt" && name != "pid" => return Ok(None),
            Err(e) => bail!("open {}: {}", path.display(), super::io_text(&e.into())),
        };
        let theirs = rustix::fs::fstat(&fd)
            .map_err(|e| anyhow!("stat {}: {}", path.display(), super::io_text(&e.into())))?;
        let ours = rustix::fs::stat(format!("/proc/self/ns/{name}").as_str())
            .map_err(|e| anyhow!("stat /proc/self/ns/{name}: {}", super::io_text(&e.into())))?;
        if (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino) {
            // Shared with the host (`--network host`, ...); joining one's
            // own user namespace is even refused.
            return Ok(None);
        }
        Ok(Some((fd, path)))
    };
    let mut join = Vec::new();
    for (name, flag) in JOINED {
        match open(name)? {
            Some((fd, path)) => join.push(Join { flag, path, fd }),
            None if flag == CloneFlags::CLONE_NEWNS => {
                bail!("container's mount namespace is skiff's own: refusing to exec on the host")
            }
            None => {}
        }
    }
    let pid_ns = open("pid")?.map(|(fd, path)| Join {
        flag: CloneFlags::CLONE_NEWPID,
        path,
        fd,
    });
    Ok(NsPlan {
        create: CloneFlags::empty(),
        join,
        pid: pid_ns,
    })
}

/// The container's `/etc/passwd` and `/etc/group`, read inside its root.
#[derive(Debug, Default)]
struct UserFiles {
    passwd: Option<String>,
    group: Option<String>,
}

impl UserFiles {
    fn read(root: BorrowedFd) -> UserFiles {
        let read = |p: &str| -> Option<String> {
            let fd = open_in_root(root, Path::new(p), OFlags::RDONLY).ok()?;
            let mut s = String::new();
            std::fs::File::from(fd).read_to_string(&mut s).ok()?;
            Some(s)
        };
        UserFiles {
            passwd: read("/etc/passwd"),
            group: read("/etc/group"),
        }
    }

    fn resolve(&self, spec: &str) -> Result<ResolvedUser> {
        resolve_user(spec, self.passwd.as_deref(), self.group.as_deref())
    }
}

fn cstrings(what: &str, v: &[String]) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| CString::new(s.as_str()).with_context(|| format!("{what} {s:?} holds a NUL byte")))
        .collect()
}

fn invalid(msg: String) -> anyhow::Error {
    kind_err(ErrorKind::InvalidArgument, msg)
}

/// Turn the plan of the container's init into the plan of the exec'd
/// process.
fn adapt(
    plan: &mut Plan,
    bundle: &Bundle,
    opts: &ExecOpts,
    files: &UserFiles,
    available: &caps::CapsHashSet,
) -> Result<()> {
    let Some(arg0) = opts.command.first().cloned() else {
        return Err(invalid("no command given".into()));
    };
    let process = bundle.spec.process().clone().unwrap_or_default();

    if let Some(u) = opts.user.as_deref().filter(|u| !u.is_empty()) {
        let user = files.resolve(u)?;
        plan.uid = user.uid;
        plan.gid = user.gid;
        plan.groups = user.additional_gids;
    }
    let env = exec_env(
        process.env().as_deref().unwrap_or(&[]),
        opts,
        files,
        process.user().uid(),
        plan.uid,
    );
    if let Some(w) = &opts.workdir {
        if !Path::new(w).is_absolute() {
            return Err(invalid(format!(
                "the working directory '{w}' is invalid, it needs to be an absolute path"
            )));
        }
        plan.cwd = PathBuf::from(w);
    }
    if opts.privileged {
        let all: caps::CapsHashSet = available.clone();
        plan.caps = Some(CapPlan {
            bounding: all.clone(),
            effective: all.clone(),
            permitted: all,
            inheritable: Default::default(),
            ambient: Default::default(),
        });
        plan.seccomp = Filters::default();
    }
    let keeps_sys_admin = plan
        .caps
        .as_ref()
        .is_none_or(|c| c.effective.contains(&::caps::Capability::CAP_SYS_ADMIN));
    plan.seccomp_early = !plan.no_new_privs && !keeps_sys_admin;

    plan.path_env = super::exec::path_of_env(&env).map(str::to_string);
    plan.args = cstrings("argument", &opts.command)?;
    plan.env = cstrings("environment entry", &env)?;
    plan.arg0 = arg0;
    plan.terminal = opts.tty && !opts.detach;
    plan.console_size = None;
    // Like `docker exec`, the process outlives the command that started it.
    plan.parent_death_signal = None;
    plan.init = false;
    Ok(())
}

/// The exec'd process's environment, as Docker makes it: `TERM=xterm`
/// with `-t` unless the container sets TERM, the container's variables,
/// then `--env-file` and `-e`. HOME follows `-u` when the container's came
/// from its own user's passwd entry (not from the image or `-e`).
fn exec_env(
    base: &[String],
    opts: &ExecOpts,
    files: &UserFiles,
    spec_uid: u32,
    uid: u32,
) -> Vec<String> {
    let mut env = Vec::with_capacity(base.len() + opts.env.len() + 1);
    if opts.tty && !env_has(base, "TERM") {
        env.push("TERM=xterm".to_string());
    }
    env.extend(base.iter().cloned());
    if opts.user.is_some() && uid != spec_uid {
        let home_of = |uid: u32| files.resolve(&uid.to_string()).map(|u| u.home).ok();
        let current = env
            .iter()
            .find_map(|e| e.strip_prefix("HOME="))
            .map(str::to_string);
        if let (Some(old), Some(new)) = (home_of(spec_uid), home_of(uid)) {
            if current.as_deref() == Some(old.as_str()) {
                let mut over = vec![EnvVar::Set("HOME".into(), new)];
                over.extend(opts.env.iter().cloned());
                return merge_env(&env, &over);
            }
        }
    }
    merge_env(&env, &opts.env)
}

/// The process's standard streams: skiff's own, stdin only with `-i`;
/// nothing at all when detached.
fn stdio(opts: &ExecOpts) -> Result<RunIo> {
    let dup = |fd: BorrowedFd, what: &str| -> Result<OwnedFd> {
        fd.try_clone_to_owned()
            .map_err(|e| anyhow!("duplicate {what}: {}", super::io_text(&e)))
    };
    if opts.detach {
        let null = || -> Result<OwnedFd> {
            rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| anyhow!("open /dev/null: {}", super::io_text(&e.into())))
        };
        return Ok(RunIo::Stdio(Stdio {
            stdin: None,
            stdout: null()?,
            stderr: null()?,
        }));
    }
    if opts.interactive {
        return Ok(RunIo::Inherit);
    }
    Ok(RunIo::Stdio(Stdio {
        stdin: None,
        stdout: dup(std::io::stdout().as_fd(), "stdout")?,
        stderr: dup(std::io::stderr().as_fd(), "stderr")?,
    }))
}

/// The forked child, born in the container's pid namespace; never
/// returns.
fn child(plan: &Plan, chan: Channel, stdio: Option<&Stdio>) -> std::convert::Infallible {
    let e = match enter(plan, &chan, stdio) {
        Ok(_) => anyhow!("the exec'd process returned from its setup"),
        Err(e) if e.chain().any(|c| c.is::<init::CwdError>()) => {
            kind_err(ErrorKind::CannotInvoke, format!("{e:#}"))
        }
        Err(e) => e,
    };
    init::report(&chan, e)
}

/// Join the container and go on as its init would, up to the `execve`.
fn enter(plan: &Plan, chan: &Channel, stdio: Option<&Stdio>) -> Result<nix::unistd::Pid> {
    // Nothing in the container may ptrace or read us while we are still
    // skiff; execve makes the process dumpable again.
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    init::wait_cgroup(plan, chan)?;
    if let Some(io) = stdio.filter(|_| !plan.terminal) {
        init::redirect_stdio(io)?;
    }
    crate::ns::enter_all(&plan.ns.join)?;
    // Joining the mount namespace made its root (the container's) our
    // root and working directory.
    if plan.terminal {
        let root = rustix::fs::open(
            "/",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| anyhow!("open /: {}", super::io_text(&e.into())))?;
        let (master, slave) = pty::open_pair(root.as_fd(), plan.console_size)?;
        pty::take_terminal(&slave)?;
        chan.send(&Msg::Pty, Some(master.as_fd()))
            .map_err(|e| anyhow!("send the pty to skiff: {}", super::io_text(&e)))?;
    }
    init::finish(plan, chan, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::caps::Capability;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
        app:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nextra:x:2000:app\n";

    fn files() -> UserFiles {
        UserFiles {
            passwd: Some(PASSWD.into()),
            group: Some(GROUP.into()),
        }
    }

    fn bundle() -> (tempfile::TempDir, Bundle) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        let mut spec = oci_spec::runtime::Spec::default();
        let mut p = spec.process().clone().unwrap();
        p.set_env(Some(vec![
            "PATH=/usr/bin:/bin".into(),
            "HOME=/root".into(),
            "A=1".into(),
        ]));
        p.set_cwd("/srv".into());
        spec.set_process(Some(p));
        let b = Bundle::new(dir.path(), spec).unwrap();
        (dir, b)
    }

    fn adapted(opts: &ExecOpts) -> Result<Plan> {
        let (_d, b) = bundle();
        let mut plan = plan::build(&b, "c1")?;
        let avail: caps::CapsHashSet = [Capability::CAP_CHOWN, Capability::CAP_SYS_ADMIN]
            .into_iter()
            .collect();
        adapt(&mut plan, &b, opts, &files(), &avail)?;
        Ok(plan)
    }

    fn env_of(p: &Plan) -> Vec<String> {
        p.env
            .iter()
            .map(|c| c.to_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn the_command_env_and_cwd_are_exec_s() {
        let opts = ExecOpts {
            command: vec!["ps".into(), "-o".into(), "pid".into()],
            env: vec![
                EnvVar::Set("A".into(), "2".into()),
                EnvVar::Set("B".into(), "3".into()),
            ],
            workdir: Some("/tmp".into()),
            ..Default::default()
        };
        let p = adapted(&opts).unwrap();
        assert_eq!(p.arg0, "ps");
        assert_eq!(p.args.len(), 3);
        assert_eq!(
            env_of(&p),
            vec!["PATH=/usr/bin:/bin", "HOME=/root", "A=2", "B=3"]
        );
        assert_eq!(p.path_env.as_deref(), Some("/usr/bin:/bin"));
        assert_eq!(p.cwd, PathBuf::from("/tmp"));
        assert!(p.parent_death_signal.is_none());
        assert!(!p.terminal);
        let p = adapted(&ExecOpts {
            command: vec!["ls".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.cwd, PathBuf::from("/srv"), "the container's own");
    }

    #[test]
    fn tty_adds_term_and_detach_drops_the_terminal() {
        let p = adapted(&ExecOpts {
            command: vec!["sh".into()],
            tty: true,
            ..Default::default()
        })
        .unwrap();
        assert!(p.terminal);
        assert_eq!(env_of(&p)[0], "TERM=xterm");
        let p = adapted(&ExecOpts {
            command: vec!["sh".into()],
            tty: true,
            detach: true,
            ..Default::default()
        })
        .unwrap();
        assert!(!p.terminal);
    }

    #[test]
    fn user_is_resolved_in_the_container_and_home_follows() {
        let p = adapted(&ExecOpts {
            command: vec!["id".into()],
            user: Some("app".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!((p.uid, p.gid), (1000, 1000));
        assert_eq!(p.groups, vec![2000]);
        assert!(env_of(&p).contains(&"HOME=/home/app".to_string()));
        let p = adapted(&ExecOpts {
            command: vec!["id".into()],
            user: Some("65534:2000".into()),
            env: vec![EnvVar::Set("HOME".into(), "/x".into())],
            ..Default::default()
        })
        .unwrap();
        assert_eq!((p.uid, p.gid), (65534, 2000));
        assert!(env_of(&p).contains(&"HOME=/x".to_string()), "-e wins");
        let e = adapted(&ExecOpts {
            command: vec!["id".into()],
            user: Some("ghost".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("unable to find user ghost"), "{e}");
    }

    #[test]
    fn privileged_gets_every_capability_and_no_filter() {
        let p = adapted(&ExecOpts {
            command: vec!["sh".into()],
            privileged: true,
            ..Default::default()
        })
        .unwrap();
        let c = p.caps.unwrap();
        assert!(c.effective.contains(&Capability::CAP_SYS_ADMIN));
        assert_eq!(c.bounding, c.permitted);
        assert!(p.seccomp.programs.is_empty());
        assert!(!p.seccomp_early);
    }

    #[test]
    fn bad_requests_are_refused() {
        let e = adapted(&ExecOpts::default()).unwrap_err();
        assert_eq!(e.to_string(), "no command given");
        let e = adapted(&ExecOpts {
            command: vec!["ls".into()],
            workdir: Some("rel".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("needs to be an absolute path"));
    }
}
