//! `-v/--volume`, `--mount` and `--tmpfs`: what to mount where, with
//! Docker's grammar and Docker's error texts (its CLI's `opts/mount.go` and
//! its daemon's Linux volume parser).

use super::bad;
use super::units::{clean_path, is_valid_name, parse_go_bool, parse_size};
use anyhow::Result;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// A host path.
    Bind,
    /// A named volume, or an anonymous one when it has no name.
    Volume,
    /// A fresh tmpfs.
    Tmpfs,
}

impl MountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// Mount propagation, as `-v ...:rshared` or `bind-propagation=` give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    Private,
    /// Docker's default for binds and volumes.
    #[default]
    RPrivate,
    Shared,
    RShared,
    Slave,
    RSlave,
}

impl Propagation {
    pub fn parse(s: &str) -> Option<Propagation> {
        Some(match s {
            "private" => Propagation::Private,
            "rprivate" => Propagation::RPrivate,
            "shared" => Propagation::Shared,
            "rshared" => Propagation::RShared,
            "slave" => Propagation::Slave,
            "rslave" => Propagation::RSlave,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Private => "private",
            Propagation::RPrivate => "rprivate",
            Propagation::Shared => "shared",
            Propagation::RShared => "rshared",
            Propagation::Slave => "slave",
            Propagation::RSlave => "rslave",
        }
    }
}

/// Which flag asked for a mount (for messages and `inspect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountOrigin {
    VolumeFlag,
    MountFlag,
    TmpfsFlag,
    /// A `VOLUME` of the image no flag covered: an anonymous volume.
    ImageVolume,
    /// Another container's (`--volumes-from`).
    VolumesFrom,
}

/// One mount the user asked for, validated but not yet resolved to host
/// paths (named volumes are found or created by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRequest {
    pub kind: MountKind,
    /// Bind: the absolute, cleaned host path. Volume: its name, `None` for
    /// an anonymous volume. Tmpfs: `None`.
    pub source: Option<String>,
    /// Absolute and cleaned path inside the container.
    pub target: String,
    pub readonly: bool,
    /// Binds and volumes; `rprivate` unless asked otherwise.
    pub propagation: Propagation,
    /// `rbind` (the default) or a plain `bind` (`bind-nonrecursive`).
    pub recursive: bool,
    /// Volumes: do not copy the image's content at `target` into a new
    /// volume (`nocopy`, `volume-nocopy`).
    pub nocopy: bool,
    /// Binds from `-v` create a missing host directory, as Docker does;
    /// `--mount type=bind` refuses a missing source instead.
    pub create_source: bool,
    /// Tmpfs: the merged mount options (`noexec`, `size=64m`, ...).
    pub tmpfs_options: Vec<String>,
    pub origin: MountOrigin,
}

impl MountRequest {
    pub fn new(kind: MountKind, target: String, origin: MountOrigin) -> MountRequest {
        MountRequest {
            kind,
            source: None,
            target,
            readonly: false,
            propagation: Propagation::RPrivate,
            recursive: true,
            nocopy: false,
            create_source: false,
            tmpfs_options: Vec::new(),
            origin,
        }
    }

    /// The error for a `--mount type=bind` whose source is missing, in
    /// Docker's words (the caller checks the file system).
    pub fn missing_source_error(&self) -> anyhow::Error {
        bad(format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {}",
            self.source.as_deref().unwrap_or_default()
        ))
    }
}

fn mount_config_err(kind: &str, why: impl std::fmt::Display) -> String {
    format!("invalid mount config for type \"{kind}\": {why}")
}

/// A relative bind source as the Docker CLI accepts it (`.`, `./x`, `../x`),
/// made absolute against `cwd`.
fn absolutize(src: &str, cwd: &Path) -> String {
    if src == "." || src == ".." || src.starts_with("./") || src.starts_with("../") {
        clean_path(&format!("{}/{src}", cwd.display()))
    } else {
        src.to_string()
    }
}

/// The checks Docker's daemon makes on every mount: target present,
/// absolute, not `/`; a bind source absolute; a volume name valid.
fn validate_common(m: &MountRequest, raw_target: &str) -> Result<(), String> {
    let kind = m.kind.as_str();
    if raw_target.is_empty() {
        return Err(mount_config_err(kind, "field Target must not be empty"));
    }
    if !raw_target.starts_with('/') {
        return Err(mount_config_err(
            kind,
            format!("invalid mount path: '{raw_target}' mount path must be absolute"),
        ));
    }
    if m.target == "/" {
        return Err(mount_config_err(
            kind,
            "invalid specification: destination can't be '/'",
        ));
    }
    match (m.kind, m.source.as_deref()) {
        (MountKind::Bind, None | Some("")) => {
            Err(mount_config_err(kind, "field Source must not be empty"))
        }
        (MountKind::Bind, Some(src)) if !src.starts_with('/') => Err(mount_config_err(
            kind,
            format!("invalid mount path: '{src}' mount path must be absolute"),
        )),
        (MountKind::Volume, Some(name)) if !is_valid_name(name) => Err(format!(
            "\"{name}\" includes invalid characters for a local volume name, only \
             \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host \
             directory, use absolute path"
        )),
        (MountKind::Volume, None) if m.readonly => Err(mount_config_err(
            kind,
            "must not set ReadOnly mode when using anonymous volumes",
        )),
        (MountKind::Tmpfs, Some(_)) => {
            Err(mount_config_err(kind, "field Source must not be specified"))
        }
        _ => Ok(()),
    }
}

/// The modes `-v` accepts after the second colon: at most one of each of
/// `ro|rw`, `z|Z`, a propagation, `nocopy`, a consistency.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut counts = [0u8; 5];
    for o in mode.split(',') {
        let slot = match o {
            "ro" | "rw" => 0,
            "z" | "Z" => 1,
            _ if Propagation::parse(o).is_some() => 2,
            "nocopy" => 3,
            "consistent" | "cached" | "delegated" => 4,
            _ => return false,
        };
        counts[slot] += 1;
    }
    counts.iter().all(|&c| c <= 1)
}

/// `-v [SRC:]DST[:MODE]`: SRC an absolute host path (a bind; `.`/`./x` are
/// taken relative to `cwd` as Docker's CLI does), a volume name, or absent
/// (an anonymous volume).
pub fn parse_volume(raw: &str, cwd: &Path) -> Result<MountRequest> {
    let invalid_spec = || format!("invalid volume specification: '{raw}'");
    let parts: Vec<&str> = raw.splitn(4, ':').collect();
    if parts[0].is_empty() {
        return Err(bad(invalid_spec()));
    }
    let (source, target, mode) = match parts.len() {
        1 => ("", parts[0], ""),
        // `/foo:rw` is a destination with a mode: volumes need a source.
        2 if valid_mode(parts[1]) => return Err(bad(invalid_spec())),
        2 => (parts[0], parts[1], ""),
        3 => (parts[0], parts[1], parts[2]),
        _ => return Err(bad(invalid_spec())),
    };
    if !valid_mode(mode) {
        return Err(bad(format!("invalid mode: {mode}")));
    }
    let source = absolutize(source, cwd);
    let kind = if source.starts_with('/') {
        MountKind::Bind
    } else {
        MountKind::Volume
    };
    let opts: Vec<&str> = mode.split(',').filter(|o| !o.is_empty()).collect();
    let mut m = MountRequest::new(kind, clean_path(target), MountOrigin::VolumeFlag);
    m.readonly = opts.contains(&"ro");
    m.nocopy = opts.contains(&"nocopy");
    let propagation = opts.iter().find_map(|o| Propagation::parse(o));
    let wrap = |why: String| bad(format!("{}: {why}", invalid_spec()));
    match kind {
        MountKind::Bind => {
            m.source = Some(clean_path(&source));
            m.create_source = true;
            if m.nocopy {
                return Err(wrap(mount_config_err(
                    "bind",
                    "field VolumeOptions must not be specified",
                )));
            }
        }
        _ => {
            m.source = (!source.is_empty()).then_some(source);
            if propagation.is_some() {
                return Err(wrap(mount_config_err(
                    "volume",
                    "field BindOptions must not be specified",
                )));
            }
        }
    }
    m.propagation = propagation.unwrap_or_default();
    validate_common(&m, target).map_err(wrap)?;
    Ok(m)
}

/// Split one CSV record as Go's `encoding/csv` reads `--mount`'s value:
/// fields separated by commas, a field may be double-quoted with `""`
/// standing for a quote inside it.
fn split_csv(s: &str) -> Result<Vec<String>> {
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => {
                        return Err(bad(format!(
                            "invalid --mount value {s:?}: unterminated quote"
                        )))
                    }
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {}
                Some(_) => {
                    return Err(bad(format!(
                        "invalid --mount value {s:?}: extraneous or missing \" in quoted-field"
                    )))
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => {
                        return Err(bad(format!(
                            "invalid --mount value {s:?}: bare \" in non-quoted field"
                        )))
                    }
                    Some(c) => field.push(c),
                }
            }
        }
        fields.push(field);
    }
}

/// `--mount type=bind|volume|tmpfs,source=...,target=...,...` in Docker's
/// CSV grammar, with its aliases (`src`, `dst`, `destination`, `ro`).
pub fn parse_mount(raw: &str, cwd: &Path) -> Result<MountRequest> {
    let mut kind = "volume".to_string();
    let mut source = String::new();
    let mut target = String::new();
    let mut readonly = false;
    let mut propagation: Option<String> = None;
    let mut nonrecursive: Option<bool> = None;
    let mut nocopy: Option<bool> = None;
    let mut volume_opts = false;
    let mut tmpfs_size: Option<u64> = None;
    let mut tmpfs_mode: Option<u32> = None;
    let bool_of = |key: &str, val: &str| {
        parse_go_bool(val).ok_or_else(|| bad(format!("invalid value for {key}: {val}")))
    };
    for field in split_csv(raw)? {
        let Some((key, val)) = field.split_once('=') else {
            match field.as_str() {
                "readonly" | "ro" => readonly = true,
                "volume-nocopy" => nocopy = Some(true),
                "bind-nonrecursive" => nonrecursive = Some(true),
                _ => {
                    return Err(bad(format!(
                        "invalid field '{field}' must be a key=value pair"
                    )))
                }
            }
            continue;
        };
        match key {
            "type" => kind = val.to_ascii_lowercase(),
            "source" | "src" => source = absolutize(val, cwd),
            "target" | "dst" | "destination" => target = val.to_string(),
            "readonly" | "ro" => readonly = bool_of(key, val)?,
            // Docker Desktop's file sharing hint; meaningless on Linux.
            "consistency" => {}
            "bind-propagation" => propagation = Some(val.to_ascii_lowercase()),
            "bind-nonrecursive" => nonrecursive = Some(bool_of(key, val)?),
            "volume-nocopy" => nocopy = Some(bool_of(key, val)?),
            "volume-label" => volume_opts = true,
            "volume-driver" if val == "local" => volume_opts = true,
            "volume-driver" => {
                return Err(bad(format!(
                    "volume driver {val:?} is not supported: skiff has only the local driver"
                )))
            }
            "volume-opt" | "volume-subpath" => {
                return Err(bad(format!("--mount {key} is not supported yet")))
            }
            "tmpfs-size" => {
                tmpfs_size = Some(
                    parse_size(val).map_err(|_| bad(format!("invalid value for {key}: {val}")))?,
                )
            }
            "tmpfs-mode" => {
                tmpfs_mode = Some(
                    u32::from_str_radix(val, 8)
                        .map_err(|_| bad(format!("invalid value for {key}: {val}")))?,
                )
            }
            _ => return Err(bad(format!("unexpected key '{key}' in '{field}'"))),
        }
    }
    if kind.is_empty() {
        return Err(bad("type is required"));
    }
    if target.is_empty() {
        return Err(bad("target is required"));
    }
    let volume_options = volume_opts || nocopy.is_some();
    let bind_options = propagation.is_some() || nonrecursive.is_some();
    let tmpfs_options = tmpfs_size.is_some() || tmpfs_mode.is_some();
    for (set, family, owner) in [
        (volume_options, "volume", "volume"),
        (bind_options, "bind", "bind"),
        (tmpfs_options, "tmpfs", "tmpfs"),
    ] {
        if set && kind != owner {
            return Err(bad(format!(
                "cannot mix '{family}-*' options with mount type '{kind}'"
            )));
        }
    }
    let mk = match kind.as_str() {
        "bind" => MountKind::Bind,
        "volume" => MountKind::Volume,
        "tmpfs" => MountKind::Tmpfs,
        other => return Err(bad(mount_config_err(other, "mount type unknown"))),
    };
    let mut m = MountRequest::new(mk, clean_path(&target), MountOrigin::MountFlag);
    m.readonly = readonly;
    m.source = (!source.is_empty()).then(|| match mk {
        MountKind::Bind => clean_path(&source),
        _ => source.clone(),
    });
    m.recursive = !nonrecursive.unwrap_or(false);
    m.nocopy = nocopy.unwrap_or(false);
    if let Some(p) = propagation {
        m.propagation = Propagation::parse(&p).ok_or_else(|| {
            bad(mount_config_err(
                "bind",
                format!("invalid propagation mode: {p}"),
            ))
        })?;
    }
    validate_common(&m, &target).map_err(bad)?;
    if mk == MountKind::Tmpfs {
        let mut data = Vec::new();
        if readonly {
            data.push("ro".to_string());
        }
        if let Some(mode) = tmpfs_mode {
            data.push(format!("mode={mode:o}"));
        }
        if let Some(size) = tmpfs_size {
            data.push(format!("size={}", size_with_suffix(size)));
        }
        m.tmpfs_options = merge_tmpfs_options(&data)?;
    }
    Ok(m)
}

/// A byte count with the largest binary suffix that divides it evenly
/// (`64m`, `1g`, `1536k`), as Docker writes `size=` for tmpfs.
fn size_with_suffix(size: u64) -> String {
    for (suffix, div) in [("g", 1u64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if size != 0 && size.is_multiple_of(div) {
            return format!("{}{suffix}", size / div);
        }
    }
    size.to_string()
}

/// `--tmpfs /path[:opts]`, opts being tmpfs mount options (`size=64m`,
/// `mode=1777`, `exec`, `ro`, ...).
pub fn parse_tmpfs(raw: &str) -> Result<MountRequest> {
    let (target, data) = raw.split_once(':').unwrap_or((raw, ""));
    let mut m = MountRequest::new(MountKind::Tmpfs, clean_path(target), MountOrigin::TmpfsFlag);
    validate_common(&m, target).map_err(bad)?;
    let data: Vec<String> = data
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    m.tmpfs_options = merge_tmpfs_options(&data)?;
    m.readonly = m.tmpfs_options.iter().any(|o| o == "ro");
    Ok(m)
}

/// The collision group of a mount flag: flags in one group override each
/// other (`exec` undoes `noexec`); every propagation flag shares one.
fn flag_group(opt: &str) -> Option<&'static str> {
    Some(match opt {
        "ro" | "rw" => "rdonly",
        "suid" | "nosuid" => "nosuid",
        "dev" | "nodev" => "nodev",
        "exec" | "noexec" => "noexec",
        "sync" | "async" => "sync",
        "dirsync" => "dirsync",
        "mand" | "nomand" => "mand",
        "atime" | "noatime" => "noatime",
        "diratime" | "nodiratime" => "nodiratime",
        "relatime" | "norelatime" => "relatime",
        "strictatime" | "nostrictatime" => "strictatime",
        "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
        | "runbindable" => "propagation",
        _ => return None,
    })
}

/// Docker's tmpfs options: its defaults (`noexec,nosuid,nodev,rprivate`)
/// then the user's, merged so that a later option wins over an earlier one
/// of the same kind (its `MergeTmpfsOptions`). Data options other than
/// `size`, `mode`, `uid`, `gid`, `nr_inodes`, `nr_blocks`, `mpol` are refused.
pub fn merge_tmpfs_options(user: &[String]) -> Result<Vec<String>> {
    let all: Vec<&str> = ["noexec", "nosuid", "nodev", "rprivate"]
        .into_iter()
        .chain(user.iter().map(String::as_str))
        .collect();
    let mut seen: Vec<&str> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for opt in all.iter().rev() {
        if *opt == "defaults" {
            continue;
        }
        let key = match flag_group(opt) {
            Some(group) => group,
            None => match opt.split_once('=') {
                Some((k, _))
                    if matches!(
                        k,
                        "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks" | "mpol"
                    ) =>
                {
                    k
                }
                _ => return Err(bad(format!("invalid tmpfs option \"{opt}\""))),
            },
        };
        if !seen.contains(&key) {
            seen.push(key);
            out.insert(0, opt.to_string());
        }
    }
    Ok(out)
}

/// Anonymous volumes for the image's `VOLUME`s that no flag already mounts
/// something on (Docker gives each its own fresh volume).
pub fn image_volumes<'a>(
    volumes: impl IntoIterator<Item = &'a str>,
    requested: &[MountRequest],
) -> Vec<MountRequest> {
    let mut out: Vec<MountRequest> = Vec::new();
    for v in volumes {
        let target = clean_path(v);
        if target == "/" || !target.starts_with('/') {
            continue;
        }
        if requested
            .iter()
            .chain(out.iter())
            .any(|m| m.target == target)
        {
            continue;
        }
        out.push(MountRequest::new(
            MountKind::Volume,
            target,
            MountOrigin::ImageVolume,
        ));
    }
    out
}

/// `--volumes-from CONTAINER[:ro|:rw]`: the container, and whether its
/// mounts are to be read-only (`None`: as they are in it).
pub fn parse_volumes_from(v: &str) -> Result<(String, Option<bool>)> {
    let (name, mode) = match v.rsplit_once(':') {
        Some((n, m)) => (n, Some(m)),
        None => (v, None),
    };
    let readonly = match mode {
        None => None,
        Some("ro") => Some(true),
        Some("rw") => Some(false),
        Some(m) => return Err(bad(format!("invalid mode: {m}"))),
    };
    if name.is_empty() {
        return Err(bad(format!(
            "--volumes-from: invalid container name: {v:?}"
        )));
    }
    Ok((name.to_string(), readonly))
}

#[cfg(test)]
#[path = "mounts_tests.rs"]
mod tests;
