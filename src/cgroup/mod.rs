//! Control groups: which layout the machine has, and a container's own
//! cgroup on it (made, joined, limited, killed, removed). One type over v2
//! and v1; each controller's files in its own module. Only `oci_spec`'s
//! resources come in, never skiff's records.

mod cpu;
mod cpuset;
pub mod devices;
pub mod fs;
pub mod io;
mod memory;
mod pids;
pub mod stats;
pub mod v1;
pub mod v2;

pub use cpu::shares_to_weight;

use anyhow::{bail, Result};
use oci_spec::runtime::LinuxResources;
use std::os::fd::BorrowedFd;
use std::path::{Component, Path, PathBuf};

/// The cgroup layout of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Pure cgroup v2 at /sys/fs/cgroup.
    Unified,
    /// v1 controllers with a cgroup2 mount at /sys/fs/cgroup/unified.
    Hybrid,
    /// v1 only.
    Legacy,
    /// No cgroup file system found.
    None,
}

impl Layout {
    /// Docker's `CgroupVersion`: "2" for unified, "1" otherwise.
    pub fn version(self) -> &'static str {
        match self {
            Layout::Unified => "2",
            Layout::None => "",
            _ => "1",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Layout::Unified => "unified (v2)",
            Layout::Hybrid => "hybrid (v1 controllers, v2 at /sys/fs/cgroup/unified)",
            Layout::Legacy => "legacy (v1)",
            Layout::None => "none",
        }
    }
}

fn is_cgroup2(p: &Path) -> bool {
    nix::sys::statfs::statfs(p)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// Detect the layout under /sys/fs/cgroup.
pub fn detect() -> Layout {
    let root = Path::new("/sys/fs/cgroup");
    if is_cgroup2(root) {
        Layout::Unified
    } else if is_cgroup2(&root.join("unified")) {
        Layout::Hybrid
    } else if root.join("memory").exists() || root.join("cpu").exists() {
        Layout::Legacy
    } else {
        Layout::None
    }
}

/// Where the hierarchies are mounted, and in which layout.
#[derive(Debug, Clone)]
pub struct Hierarchies {
    pub layout: Layout,
    /// `/sys/fs/cgroup` on a host.
    pub base: PathBuf,
}

impl Hierarchies {
    /// The host's.
    pub fn host() -> Hierarchies {
        Hierarchies {
            layout: detect(),
            base: PathBuf::from("/sys/fs/cgroup"),
        }
    }

    /// The cgroup2 mount, if there is one.
    fn unified(&self) -> Option<PathBuf> {
        match self.layout {
            Layout::Unified => Some(self.base.clone()),
            Layout::Hybrid => Some(self.base.join("unified")),
            Layout::Legacy | Layout::None => None,
        }
    }
}

/// A container's cgroup.
#[derive(Debug)]
pub enum Cgroup {
    /// v2: one directory holds the processes and every limit.
    V2(v2::Group),
    /// v1 (legacy or hybrid): a directory per controller with limits. On
    /// hybrid the controller-less cgroup2 hierarchy holds the processes
    /// too (the child is cloned into it, and `cgroup.kill` ends them all);
    /// on legacy a freezer directory does that work.
    V1 {
        dirs: v1::Group,
        tracker: Option<v2::Group>,
    },
}

/// `path` (`/skiff/ID`) relative to a hierarchy's root; `..` refused.
fn relative(path: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir => {}
            _ => bail!("invalid cgroup path {}", path.display()),
        }
    }
    if out.as_os_str().is_empty() {
        bail!("invalid cgroup path {}: the root cgroup", path.display());
    }
    Ok(out)
}

impl Cgroup {
    /// Make the cgroup `path` with the limits of `res`. `None` when the
    /// machine has no cgroup file system and no limit is asked for.
    pub fn create(
        h: &Hierarchies,
        path: &Path,
        res: Option<&LinuxResources>,
    ) -> Result<Option<Cgroup>> {
        let rel = relative(path)?;
        let limits = res.map(v1::controllers).unwrap_or_default();
        match h.layout {
            Layout::Unified => Ok(Some(Cgroup::V2(v2::Group::create(&h.base, &rel, res)?))),
            Layout::None if limits.is_empty() => Ok(None),
            Layout::None => bail!("cannot apply resource limits: no cgroup file system is mounted"),
            Layout::Hybrid | Layout::Legacy => {
                let rules = res.and_then(devices::rules);
                let tracker = match h.unified() {
                    Some(u) => Some(v2::Group::create(&u, &rel, None)?),
                    None => None,
                };
                // The kernel asks the cgroup2 group's device program too:
                // one program load instead of a v1 directory and a write
                // per rule.
                if let (Some(t), Some(r)) = (&tracker, rules) {
                    if let Err(e) = devices::apply_v2(&t.dir, r) {
                        let _ = fs::rmdir(&t.dir);
                        return Err(e);
                    }
                }
                let mut names = limits;
                if tracker.is_none() {
                    names.push("freezer");
                    if rules.is_some() {
                        names.push("devices");
                    }
                }
                match v1::Group::create(&h.base, &rel, &names, res) {
                    Ok(dirs) => Ok(Some(Cgroup::V1 { dirs, tracker })),
                    Err(e) => {
                        if let Some(t) = &tracker {
                            let _ = fs::rmdir(&t.dir);
                        }
                        Err(e)
                    }
                }
            }
        }
    }

    /// The cgroup `path` as it is now; `None` when it does not exist.
    pub fn open(h: &Hierarchies, path: &Path) -> Result<Option<Cgroup>> {
        let rel = relative(path)?;
        let tracker = match h.unified().map(|u| u.join(&rel)) {
            Some(d) if d.is_dir() => Some(v2::Group::open(d)?),
            _ => None,
        };
        Ok(match h.layout {
            Layout::Unified => tracker.map(Cgroup::V2),
            Layout::None => None,
            Layout::Hybrid | Layout::Legacy => {
                let dirs = v1::Group::open(&h.base, &rel);
                (tracker.is_some() || !dirs.dirs.is_empty()).then_some(Cgroup::V1 { dirs, tracker })
            }
        })
    }

    /// Change the limits of the cgroup `path`, a running container's, to
    /// `res`: controllers it lacks are added (v2: enabled above it; v1: a
    /// directory made, the container's processes moved in). `false` when
    /// there is no such cgroup: nothing runs in it to limit.
    pub fn update(h: &Hierarchies, path: &Path, res: &LinuxResources) -> Result<bool> {
        let rel = relative(path)?;
        match Cgroup::open(h, path)? {
            None => Ok(false),
            Some(Cgroup::V2(_)) => v2::update(&h.base, &rel, res).map(|()| true),
            Some(Cgroup::V1 { mut dirs, tracker }) => {
                // Where all of the container's processes are listed: the
                // cgroup2 directory it was cloned into, else the freezer
                // one (legacy), else any.
                let members = match &tracker {
                    Some(t) => t.dir.clone(),
                    None => match dirs.dirs.iter().find(|(n, _)| *n == "freezer") {
                        Some((_, d)) => d.clone(),
                        None => match dirs.dirs.first() {
                            Some((_, d)) => d.clone(),
                            None => return Ok(false),
                        },
                    },
                };
                dirs.update(res, &members).map(|()| true)
            }
        }
    }

    /// The directory a child is cloned into (`CLONE_INTO_CGROUP`).
    pub fn clone_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Cgroup::V2(g) => Some(g.fd()),
            Cgroup::V1 { tracker, .. } => tracker.as_ref().map(|t| t.fd()),
        }
    }

    /// Must the parent move the child in by pid (v1), before it goes on?
    pub fn joins_by_pid(&self) -> bool {
        matches!(self, Cgroup::V1 { dirs, .. } if !dirs.dirs.is_empty())
    }

    /// Move process `pid` into the v1 directories.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        match self {
            Cgroup::V2(_) => Ok(()),
            Cgroup::V1 { dirs, .. } => dirs.add_pid(pid),
        }
    }

    /// The cgroup2 directory (the container's `/sys/fs/cgroup` on v2, its
    /// `/sys/fs/cgroup/unified` on hybrid).
    pub fn v2_dir(&self) -> Option<&Path> {
        match self {
            Cgroup::V2(g) => Some(&g.dir),
            Cgroup::V1 { tracker, .. } => tracker.as_ref().map(|t| t.dir.as_path()),
        }
    }

    /// Did the OOM killer end a process of it?
    pub fn oom_killed(&self) -> bool {
        match self {
            Cgroup::V2(g) => memory::oom_kills(&g.dir, true) > 0,
            Cgroup::V1 { dirs, .. } => dirs.current().oom_kills() > 0,
        }
    }

    /// SIGKILL every process in it.
    pub fn kill(&self) -> Result<()> {
        match self {
            Cgroup::V2(g) => g.kill(),
            Cgroup::V1 {
                tracker: Some(t), ..
            } => t.kill(),
            Cgroup::V1 { dirs, .. } => dirs.current().kill(),
        }
    }

    /// Freeze (pause) or thaw (unpause) every process in it: through
    /// `cgroup.freeze` wherever there is a cgroup2 group (the hybrid
    /// layout's tracker too), the v1 freezer elsewhere.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        match self {
            Cgroup::V2(g)
            | Cgroup::V1 {
                tracker: Some(g), ..
            } => g.freeze(frozen),
            Cgroup::V1 { dirs, .. } => dirs.set_frozen(frozen),
        }
    }

    /// Remove it, killing what is left in it first (with the directories
    /// an `update` added since it was opened).
    pub fn remove(&self) -> Result<()> {
        let busy = match self {
            Cgroup::V2(g)
            | Cgroup::V1 {
                tracker: Some(g), ..
            } => g.populated(),
            Cgroup::V1 { dirs, .. } => dirs
                .current()
                .dirs
                .iter()
                .any(|(_, d)| fs::read(d, "cgroup.procs").is_ok_and(|s| !s.is_empty())),
        };
        if busy {
            self.kill()?;
        }
        match self {
            Cgroup::V2(g) => fs::rmdir(&g.dir),
            Cgroup::V1 { dirs, tracker } => {
                let r = dirs.current().remove();
                match tracker {
                    Some(t) => r.and(fs::rmdir(&t.dir)),
                    None => r,
                }
            }
        }
    }
}

/// Wait until `done` says a change written to the cgroup `dir` took
/// effect (a freeze: every task stopped), at most two seconds.
fn wait_for(dir: &Path, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut pause = std::time::Duration::from_micros(100);
    while !done()? {
        if std::time::Instant::now() > deadline {
            bail!("cgroup {}: the freezer did not settle in 2s", dir.display());
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(20));
    }
    Ok(())
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

/// The parent of the monitors' own cgroups in the cgroup2 hierarchy (no
/// controllers are enabled there; a monitor needs none).
const MONITORS: &str = "skiff-monitors";

/// The cgroup a detached container's monitor lives in, apart from the
/// container's and from the session that started it (whose end, a CI
/// step's or a login's, may kill every process of its cgroup).
#[derive(Debug)]
pub struct MonitorScope {
    dir: PathBuf,
    /// Where the monitor came from (cgroup2 path), to go back to at exit.
    from: Option<PathBuf>,
    unified: PathBuf,
}

impl MonitorScope {
    /// Move this process into `skiff-monitors/ID` of the cgroup2
    /// hierarchy. `None` where there is none or the move is not allowed
    /// (rootless without delegation): the monitor then stays where it is.
    pub fn enter(id: &str) -> Option<MonitorScope> {
        if let Some(s) = MonitorScope::adopt(id) {
            return Some(s);
        }
        let unified = Hierarchies::host().unified()?;
        let parent = unified.join(MONITORS);
        let dir = parent.join(id);
        let from = own_cgroup2();
        fs::mkdir(&parent).ok()?;
        fs::mkdir(&dir).ok()?;
        if fs::write(&dir, "cgroup.procs", "0").is_err() {
            let _ = fs::rmdir(&dir);
            return None;
        }
        Some(MonitorScope { dir, from, unified })
    }

    /// The scope this process was started in (`prepare`), if it was.
    pub fn adopt(id: &str) -> Option<MonitorScope> {
        let own = own_cgroup2()?;
        if own != Path::new("/").join(MONITORS).join(id) {
            return None;
        }
        let unified = Hierarchies::host().unified()?;
        Some(MonitorScope {
            dir: unified.join(MONITORS).join(id),
            from: None,
            unified,
        })
    }

    /// Make the cgroup of container `id`'s monitor before the monitor
    /// exists, open for `CLONE_INTO_CGROUP`: the monitor then starts in it
    /// and never runs a moment in the cgroup of the command that started
    /// it (a CI step's, whose end may kill every process in it). `None`
    /// where it cannot be made (no cgroup2, rootless without delegation).
    pub fn prepare(id: &str) -> Option<std::os::fd::OwnedFd> {
        use rustix::fs::{Mode, OFlags};
        let parent = Hierarchies::host().unified()?.join(MONITORS);
        fs::mkdir(&parent).ok()?;
        let dir = parent.join(id);
        fs::mkdir(&dir).ok()?;
        let fd = rustix::fs::open(
            &dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        );
        if fd.is_err() {
            let _ = fs::rmdir(&dir);
        }
        fd.ok()
    }

    /// Leave it (back where the monitor came from, or to the root when
    /// that is gone) and remove it: the monitor is about to exit.
    pub fn leave(self) {
        let back = self
            .from
            .as_ref()
            .and_then(|p| relative(p).ok())
            .map(|rel| self.unified.join(rel))
            .filter(|d| d.is_dir());
        let moved = back.is_some_and(|d| fs::write(&d, "cgroup.procs", "0").is_ok())
            || fs::write(&self.unified, "cgroup.procs", "0").is_ok();
        if moved {
            let _ = fs::rmdir(&self.dir);
        }
    }
}

/// Remove the (empty) cgroup of container `id`'s monitor, left by a
/// monitor that was killed.
pub fn remove_monitor_scope(id: &str) {
    if let Some(u) = Hierarchies::host().unified() {
        let _ = std::fs::remove_dir(u.join(MONITORS).join(id));
    }
}

/// The cgroup2 subtree delegated to this unprivileged user (as systemd
/// delegates `user@UID.service`), as a path from the hierarchy's root;
/// `None` on v1 and hybrid hosts, for root, and where this process is not
/// inside a subtree the user owns (a cgroup can only be entered from
/// within one: the kernel checks the common ancestor).
pub fn delegated_subtree() -> Option<PathBuf> {
    // The host's uid: rootless skiff is root only in its user namespace.
    let uid = crate::util::ids::outer_uid();
    if uid == 0 || detect() != Layout::Unified {
        return None;
    }
    delegation_in(Path::new("/sys/fs/cgroup"), &own_cgroup2()?, uid)
}

/// The topmost cgroup from `own` (a path from the root of the hierarchy
/// at `base`) up that `uid` owns with its `cgroup.subtree_control` and
/// `cgroup.procs`: where this user may make cgroups and move processes.
fn delegation_in(base: &Path, own: &Path, uid: u32) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let owned = |rel: &Path| {
        let dir = base.join(rel.strip_prefix("/").unwrap_or(rel));
        ["", "cgroup.subtree_control", "cgroup.procs"]
            .iter()
            .all(|f| std::fs::metadata(dir.join(f)).is_ok_and(|m| m.uid() == uid))
    };
    let mut found = None;
    let mut at = Some(own);
    while let Some(p) = at.filter(|p| p.parent().is_some() && owned(p)) {
        found = Some(p.to_path_buf());
        at = p.parent();
    }
    found
}

/// This process's cgroup2 path (`0::/PATH` in /proc/self/cgroup).
fn own_cgroup2() -> Option<PathBuf> {
    let s = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(PathBuf::from)
}
