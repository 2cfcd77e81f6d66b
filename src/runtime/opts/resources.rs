//! The resource flags (`--memory`, `--cpus`, `--pids-limit`, ...): Docker's
//! units, its rules between them and its words when they are broken. What
//! depends on the host (how many CPUs, which cpuset) is checked apart, in
//! [`Resources::check_host`], still before anything is created.

use super::bad;
use super::blkio::{self, BlkioSupport, ThrottleDevice, WeightDevice};
use super::units::parse_size;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The flags as given.
#[derive(Debug, Clone, Default)]
pub struct ResourceFlags {
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub oom_kill_disable: bool,
    pub pids_limit: Option<i64>,
    pub cpus: Option<String>,
    pub cpu_shares: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub cgroup_parent: Option<String>,
    pub blkio_weight: Option<u16>,
    pub blkio_weight_device: Vec<String>,
    pub device_read_bps: Vec<String>,
    pub device_write_bps: Vec<String>,
    pub device_read_iops: Vec<String>,
    pub device_write_iops: Vec<String>,
}

/// The limits, in Docker's `HostConfig` units (bytes, nano-CPUs,
/// microseconds); zero or empty is unset. Fields missing from a stored
/// copy (one written before they existed) are unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    pub memory: i64,
    /// Memory plus swap; -1 unlimited; twice `memory` when only that is
    /// given (Docker's default).
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub oom_kill_disable: bool,
    /// Above zero, or unset.
    pub pids_limit: Option<i64>,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub cgroup_parent: String,
    /// 10 to 1000; 0 unset.
    pub blkio_weight: u16,
    pub blkio_weight_device: Vec<WeightDevice>,
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Vec<ThrottleDevice>,
}

/// The kernel will not run a container in less (Docker's `linuxMinMemory`).
const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// The CFS period `--cpus` uses, in microseconds.
pub const CPU_PERIOD: i64 = 100_000;

/// What the host offers, read by the caller.
#[derive(Debug, Clone)]
pub struct HostCpus {
    /// CPUs this process may run on.
    pub count: usize,
    /// `cpuset.cpus` and `cpuset.mems` lists the host allows (`0-1`).
    pub cpus: String,
    pub mems: String,
}

impl HostCpus {
    pub fn read() -> HostCpus {
        let first = |paths: &[&str], default: &str| {
            paths
                .iter()
                .find_map(|p| std::fs::read_to_string(p).ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        HostCpus {
            count: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpus: first(
                &[
                    "/sys/fs/cgroup/cpuset/cpuset.cpus",
                    "/sys/fs/cgroup/cpuset.cpus.effective",
                    "/sys/devices/system/cpu/online",
                ],
                "0",
            ),
            mems: first(
                &[
                    "/sys/fs/cgroup/cpuset/cpuset.mems",
                    "/sys/fs/cgroup/cpuset.mems.effective",
                    "/sys/devices/system/node/online",
                ],
                "0",
            ),
        }
    }
}

fn flag_err(flag: &str, value: &str, why: impl std::fmt::Display) -> anyhow::Error {
    bad(format!(
        "invalid argument \"{value}\" for \"{flag}\" flag: {why}"
    ))
}

fn size(flag: &str, v: &str) -> Result<i64> {
    parse_size(v)
        .map(|n| n.min(i64::MAX as u64) as i64)
        .map_err(|e| flag_err(flag, v, format!("{e:#}")))
}

/// `--cpus 1.5` in nano-CPUs: a decimal with at most nine places.
pub fn parse_cpus(v: &str) -> Result<i64> {
    let err = || {
        flag_err(
            "--cpus",
            v,
            format!("failed to parse {v} as a rational number"),
        )
    };
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return Err(err());
    }
    if frac.len() > 9 {
        return Err(flag_err("--cpus", v, "value is too precise"));
    }
    let whole: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| err())?
    };
    let frac_nanos: i64 = format!("{frac:0<9}").parse().map_err(|_| err())?;
    whole
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(frac_nanos))
        .ok_or_else(err)
}

/// Docker's `ParseUintList`: `0-2,4`, as a set.
pub fn parse_list(v: &str) -> Option<BTreeSet<u32>> {
    let mut out = BTreeSet::new();
    if v.is_empty() {
        return Some(out);
    }
    for part in v.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => {
                out.insert(part.parse().ok()?);
            }
        }
    }
    Some(out)
}

/// `--cgroup-parent`: a path below the hierarchies' roots.
fn parse_parent(v: &str) -> Result<String> {
    let parts: Vec<&str> = v.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(bad(format!(
            "invalid cgroup parent {v:?}: it must stay below the cgroup root"
        )));
    }
    Ok(parts.join("/"))
}

impl Resources {
    /// Does it ask for any limit (the cgroup parent aside)?
    pub fn limits_any(&self) -> bool {
        let placed = Resources {
            cgroup_parent: self.cgroup_parent.clone(),
            ..Default::default()
        };
        *self != placed
    }

    /// Parse the flags and check the rules between them.
    pub fn parse(f: &ResourceFlags) -> Result<Resources> {
        let mut r = Resources::parse_given(f, false)?;
        if r.memory > 0 && r.memory_swap == 0 {
            r.memory_swap = 2 * r.memory;
        }
        Ok(r)
    }

    /// The flags as given, checked alone (`update`: without the rules
    /// that the container's current limits may satisfy).
    pub(super) fn parse_given(f: &ResourceFlags, update: bool) -> Result<Resources> {
        let mut r = Resources {
            oom_kill_disable: f.oom_kill_disable,
            ..Default::default()
        };
        if let Some(v) = &f.memory {
            r.memory = size("--memory", v)?;
        }
        if let Some(v) = &f.memory_swap {
            r.memory_swap = match v.as_str() {
                "-1" => -1,
                _ => size("--memory-swap", v)?,
            };
        }
        if let Some(v) = &f.memory_reservation {
            r.memory_reservation = size("--memory-reservation", v)?;
        }
        r.pids_limit = f.pids_limit.filter(|n| *n > 0);
        if let Some(v) = &f.cpus {
            r.nano_cpus = parse_cpus(v)?;
        }
        r.cpu_shares = f.cpu_shares.unwrap_or(0);
        r.cpu_period = f.cpu_period.unwrap_or(0);
        r.cpu_quota = f.cpu_quota.unwrap_or(0);
        for (flag, v, out) in [
            ("cpus", &f.cpuset_cpus, &mut r.cpuset_cpus),
            ("mems", &f.cpuset_mems, &mut r.cpuset_mems),
        ] {
            if let Some(v) = v {
                if parse_list(v).is_none() {
                    return Err(bad(format!("Invalid value {v} for cpuset {flag}")));
                }
                *out = v.clone();
            }
        }
        r.cgroup_parent = match &f.cgroup_parent {
            Some(p) => parse_parent(p)?,
            None => String::new(),
        };
        if let Some(w) = f.blkio_weight {
            blkio::check_weight(w)?;
            r.blkio_weight = w;
        }
        r.blkio_weight_device = f
            .blkio_weight_device
            .iter()
            .map(|v| blkio::parse_weight_device(v))
            .collect::<Result<_>>()?;
        for (flag, given, out) in [
            (
                "--device-read-bps",
                &f.device_read_bps,
                &mut r.blkio_device_read_bps,
            ),
            (
                "--device-write-bps",
                &f.device_write_bps,
                &mut r.blkio_device_write_bps,
            ),
        ] {
            *out = given
                .iter()
                .map(|v| blkio::parse_bps_device(flag, v))
                .collect::<Result<_>>()?;
        }
        for (flag, given, out) in [
            (
                "--device-read-iops",
                &f.device_read_iops,
                &mut r.blkio_device_read_iops,
            ),
            (
                "--device-write-iops",
                &f.device_write_iops,
                &mut r.blkio_device_write_iops,
            ),
        ] {
            *out = given
                .iter()
                .map(|v| blkio::parse_iops_device(flag, v))
                .collect::<Result<_>>()?;
        }
        r.validate(update)?;
        Ok(r)
    }

    /// The daemon's rules, in its words. `update` leaves out the one a
    /// limit already set may satisfy (Docker's does too).
    pub(super) fn validate(&self, update: bool) -> Result<()> {
        if self.memory != 0 && self.memory < MIN_MEMORY {
            return Err(bad("Minimum memory limit allowed is 6MB"));
        }
        if self.memory > 0 && self.memory_swap > 0 && self.memory_swap < self.memory {
            return Err(bad(
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ));
        }
        if self.memory == 0 && self.memory_swap > 0 && !update {
            return Err(bad(
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            ));
        }
        if self.memory_reservation != 0 && self.memory_reservation < MIN_MEMORY {
            return Err(bad("Minimum memory reservation allowed is 6MB"));
        }
        if self.memory > 0 && self.memory_reservation > 0 && self.memory < self.memory_reservation {
            return Err(bad(
                "Minimum memory limit can not be less than memory reservation limit, see usage",
            ));
        }
        if self.nano_cpus > 0 && self.cpu_period > 0 {
            return Err(bad(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ));
        }
        if self.nano_cpus > 0 && self.cpu_quota > 0 {
            return Err(bad(
                "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
            ));
        }
        if self.cpu_shares < 0 {
            return Err(bad(format!(
                "invalid CPU shares ({}): value must be a positive integer",
                self.cpu_shares
            )));
        }
        if self.cpu_period != 0 && !(1000..=1_000_000).contains(&self.cpu_period) {
            return Err(bad(
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
            ));
        }
        if self.cpu_quota > 0 && self.cpu_quota < 1000 {
            return Err(bad("CPU cfs quota can not be less than 1ms (i.e. 1000)"));
        }
        blkio::check_weight(self.blkio_weight)?;
        Ok(())
    }

    /// Drop the block I/O limits the host cannot hold; Docker's warning
    /// for each kind dropped.
    pub fn discard_unsupported(&mut self, host: BlkioSupport) -> Vec<String> {
        let mut notes = Vec::new();
        if self.blkio_weight > 0 && !host.weight {
            notes.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".into());
            self.blkio_weight = 0;
        }
        if !self.blkio_weight_device.is_empty() && !host.weight_device {
            notes.push("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.".into());
            self.blkio_weight_device.clear();
        }
        if !host.throttle {
            for (list, what) in [
                (&mut self.blkio_device_read_bps, "BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit"),
                (&mut self.blkio_device_write_bps, "BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit"),
                (&mut self.blkio_device_read_iops, "IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit"),
                (&mut self.blkio_device_write_iops, "IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit"),
            ] {
                if !list.is_empty() {
                    notes.push(format!("Your kernel does not support {what} discarded."));
                    list.clear();
                }
            }
        }
        notes
    }

    /// The device paths the block I/O limits name, each once.
    pub fn blkio_paths(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .blkio_weight_device
            .iter()
            .map(|d| d.path.as_str())
            .chain(
                [
                    &self.blkio_device_read_bps,
                    &self.blkio_device_write_bps,
                    &self.blkio_device_read_iops,
                    &self.blkio_device_write_iops,
                ]
                .into_iter()
                .flatten()
                .map(|d| d.path.as_str()),
            )
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The rules that depend on the host (the CPU count, the cpusets),
    /// read from the host only when one of those flags is given.
    pub fn check_on_host(&self) -> Result<()> {
        if self.nano_cpus == 0 && self.cpuset_cpus.is_empty() && self.cpuset_mems.is_empty() {
            return Ok(());
        }
        self.check_host(&HostCpus::read())
    }

    /// The rules that depend on the host: the CPU count, the cpusets.
    pub fn check_host(&self, host: &HostCpus) -> Result<()> {
        let n = host.count as i64;
        if self.nano_cpus < 0 || self.nano_cpus > n * 1_000_000_000 {
            return Err(bad(format!(
                "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"
            )));
        }
        for (what, asked, have) in [
            ("CPUs", &self.cpuset_cpus, &host.cpus),
            ("memory nodes", &self.cpuset_mems, &host.mems),
        ] {
            let (Some(a), Some(h)) = (parse_list(asked), parse_list(have)) else {
                continue;
            };
            if !a.is_subset(&h) {
                return Err(bad(format!(
                    "Requested {what} are not available - requested {asked}, available: {have}"
                )));
            }
        }
        Ok(())
    }

    /// The CFS quota and period the container gets: from `--cpus`, else
    /// as given.
    pub fn cfs(&self) -> (i64, i64) {
        if self.nano_cpus > 0 {
            (self.nano_cpus * CPU_PERIOD / 1_000_000_000, CPU_PERIOD)
        } else {
            (self.cpu_quota, self.cpu_period)
        }
    }

    /// The container's cgroup, `/PARENT/ID` (`/skiff/ID` by default).
    pub fn cgroup_path(&self, id: &str) -> String {
        let parent = if self.cgroup_parent.is_empty() {
            "skiff"
        } else {
            &self.cgroup_parent
        };
        format!("/{parent}/{id}")
    }
}

#[cfg(test)]
#[path = "resources_tests.rs"]
mod tests;
