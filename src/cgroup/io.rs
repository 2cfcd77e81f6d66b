//! The io controller (v1's blkio): a relative weight, weights per device,
//! and per-device throttles in bytes and operations per second.

use super::fs::write;
use super::{Hierarchies, Layout};
use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice, LinuxWeightDevice};
use std::path::Path;

/// Does `b` ask for anything the controller does?
pub fn wanted(b: &LinuxBlockIo) -> bool {
    let some = |l: &Option<Vec<LinuxThrottleDevice>>| l.as_ref().is_some_and(|l| !l.is_empty());
    b.weight().is_some_and(|w| w > 0)
        || b.weight_device().as_ref().is_some_and(|l| !l.is_empty())
        || some(b.throttle_read_bps_device())
        || some(b.throttle_write_bps_device())
        || some(b.throttle_read_iops_device())
        || some(b.throttle_write_iops_device())
}

/// A blkio weight (10 to 1000) as an io weight (1 to 10000), linearly, as
/// runc and Docker convert it (500 becomes 4950, 10 becomes 1).
pub fn weight_to_io(w: u16) -> u64 {
    let w = u64::from(w.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

/// The device's weight, or none when it gives only a leaf weight.
fn device_weight(d: &LinuxWeightDevice) -> Option<u16> {
    d.weight().filter(|w| *w > 0)
}

/// A block device's major and minor numbers.
type DeviceNumber = (i64, i64);

/// The throttles as `io.max` lines, one per device: `MAJ:MIN rbps=N
/// wbps=N riops=N wiops=N`, only the keys given (a later entry for the
/// same device and key wins, as a later write of the kernel's would).
fn io_max_lines(b: &LinuxBlockIo) -> Vec<String> {
    let mut devs: Vec<(DeviceNumber, Vec<(&str, u64)>)> = Vec::new();
    for (key, list) in [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ] {
        for t in list.iter().flatten() {
            let num = (t.major(), t.minor());
            let i = match devs.iter().position(|(n, _)| *n == num) {
                Some(i) => i,
                None => {
                    devs.push((num, Vec::new()));
                    devs.len() - 1
                }
            };
            let keys = &mut devs[i].1;
            keys.retain(|(k, _)| *k != key);
            keys.push((key, t.rate()));
        }
    }
    devs.into_iter()
        .map(|((major, minor), keys)| {
            let kv: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{major}:{minor} {}", kv.join(" "))
        })
        .collect()
}

/// v2: `io.weight` ("default N", then "MAJ:MIN N" per device) and
/// `io.max`, a write per device.
pub fn apply_v2(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    if let Some(w) = b.weight().filter(|w| *w > 0) {
        write(dir, "io.weight", &format!("default {}", weight_to_io(w)))?;
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = device_weight(d) {
            let line = format!("{}:{} {}", d.major(), d.minor(), weight_to_io(w));
            write(dir, "io.weight", &line)?;
        }
    }
    for line in io_max_lines(b) {
        write(dir, "io.max", &line)?;
    }
    Ok(())
}

/// The weight file a v1 blkio directory has: BFQ's, else CFQ's; `None`
/// when the kernel has neither scheduler (multi-queue devices with
/// `none` or `mq-deadline`).
fn v1_weight_file(dir: &Path, device: bool) -> Option<&'static str> {
    let (bfq, cfq) = if device {
        ("blkio.bfq.weight_device", "blkio.weight_device")
    } else {
        ("blkio.bfq.weight", "blkio.weight")
    };
    [bfq, cfq].into_iter().find(|f| dir.join(f).exists())
}

/// v1: `blkio.weight` and `blkio.weight_device` (or BFQ's), then
/// `blkio.throttle.*_device`, a "MAJ:MIN VALUE" write per device.
pub fn apply_v1(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    let no_weight = || {
        format!(
            "the kernel offers no block I/O weight in {} (no CFQ or BFQ I/O scheduler)",
            dir.display()
        )
    };
    if let Some(w) = b.weight().filter(|w| *w > 0) {
        let file = v1_weight_file(dir, false).with_context(no_weight)?;
        write(dir, file, &w.to_string())?;
    }
    let weights: Vec<&LinuxWeightDevice> = b.weight_device().iter().flatten().collect();
    if !weights.is_empty() {
        let file = v1_weight_file(dir, true).with_context(no_weight)?;
        for d in weights {
            if let Some(w) = device_weight(d) {
                write(dir, file, &format!("{}:{} {w}", d.major(), d.minor()))?;
            }
        }
    }
    for (file, list) in [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ] {
        for t in list.iter().flatten() {
            write(
                dir,
                file,
                &format!("{}:{} {}", t.major(), t.minor(), t.rate()),
            )?;
        }
    }
    Ok(())
}

/// What the host's controller can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Support {
    pub weight: bool,
    pub weight_device: bool,
    pub throttle: bool,
}

/// Read from the root of the hierarchies: v2 offers everything once the
/// io controller is there (as Docker reads it); v1's files say which
/// parts its blkio controller has.
pub fn support(h: &Hierarchies) -> Support {
    match h.layout {
        Layout::Unified => {
            let on = super::fs::read(&h.base, "cgroup.controllers")
                .is_ok_and(|c| c.split_whitespace().any(|c| c == "io"));
            Support {
                weight: on,
                weight_device: on,
                throttle: on,
            }
        }
        Layout::Hybrid | Layout::Legacy => {
            let dir = h.base.join("blkio");
            Support {
                weight: v1_weight_file(&dir, false).is_some(),
                weight_device: v1_weight_file(&dir, true).is_some(),
                throttle: dir.join("blkio.throttle.read_bps_device").exists(),
            }
        }
        Layout::None => Support::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(major: i64, minor: i64, rate: u64) -> LinuxThrottleDevice {
        oci_spec::runtime::LinuxThrottleDeviceBuilder::default()
            .major(major)
            .minor(minor)
            .rate(rate)
            .build()
            .unwrap()
    }

    #[test]
    fn weights_convert_as_runc_does() {
        assert_eq!(weight_to_io(10), 1);
        assert_eq!(weight_to_io(500), 4950);
        assert_eq!(weight_to_io(1000), 10_000);
    }

    #[test]
    fn one_io_max_line_per_device() {
        let mut b = LinuxBlockIo::default();
        b.set_throttle_read_bps_device(Some(vec![throttle(8, 0, 1 << 20), throttle(7, 3, 10)]))
            .set_throttle_write_iops_device(Some(vec![throttle(8, 0, 100)]))
            .set_throttle_write_bps_device(Some(vec![throttle(8, 0, 5), throttle(8, 0, 6)]));
        assert_eq!(
            io_max_lines(&b),
            ["8:0 rbps=1048576 wbps=6 wiops=100", "7:3 rbps=10"]
        );
        assert!(wanted(&b));
        assert!(!wanted(&LinuxBlockIo::default()));
    }
}
