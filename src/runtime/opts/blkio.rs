//! The block I/O flags: `--blkio-weight`, `--blkio-weight-device`,
//! `--device-read-bps`, `--device-write-bps`, `--device-read-iops`,
//! `--device-write-iops`. Docker's syntax (`DEVICE:VALUE`, the device a
//! path under /dev), its checks and its words; the devices' numbers are
//! found by the caller (a `stat`), not here.

use super::bad;
use super::units::parse_size;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `--blkio-weight-device /dev/sda:300` (Docker's `WeightDevice`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

/// `--device-read-bps /dev/sda:1mb` and the like (Docker's
/// `ThrottleDevice`): bytes or operations per second.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

/// The block devices' numbers (major, minor) by the path the flags gave.
pub type DeviceNumbers = BTreeMap<String, (i64, i64)>;

/// The weights Docker accepts (0 leaves the weight unset).
pub const WEIGHT_RANGE: std::ops::RangeInclusive<u16> = 10..=1000;

fn flag_err(flag: &str, value: &str, why: impl std::fmt::Display) -> anyhow::Error {
    bad(format!(
        "invalid argument \"{value}\" for \"{flag}\" flag: {why}"
    ))
}

/// `DEVICE:VALUE` with the device under /dev (Docker's CLI checks both).
fn split<'a>(flag: &str, v: &'a str) -> Result<(&'a str, &'a str)> {
    match v.split_once(':') {
        Some((dev, rest)) if !dev.is_empty() => {
            if !dev.starts_with("/dev/") {
                return Err(flag_err(
                    flag,
                    v,
                    format!("bad format for device path: {v}"),
                ));
            }
            Ok((dev, rest))
        }
        _ => Err(flag_err(flag, v, format!("bad format: {v}"))),
    }
}

/// `--blkio-weight`: 10 to 1000, or 0 for none.
pub fn check_weight(w: u16) -> Result<()> {
    if w != 0 && !WEIGHT_RANGE.contains(&w) {
        return Err(bad("Range of blkio weight is from 10 to 1000"));
    }
    Ok(())
}

/// `--blkio-weight-device DEVICE:WEIGHT`.
pub fn parse_weight_device(v: &str) -> Result<WeightDevice> {
    const FLAG: &str = "--blkio-weight-device";
    let (dev, w) = split(FLAG, v)?;
    let invalid = || flag_err(FLAG, v, format!("invalid weight for device: {v}"));
    let weight: u16 = w.parse().map_err(|_| invalid())?;
    if weight != 0 && !WEIGHT_RANGE.contains(&weight) {
        return Err(invalid());
    }
    Ok(WeightDevice {
        path: dev.to_string(),
        weight,
    })
}

/// `--device-read-bps` / `--device-write-bps DEVICE:RATE`, the rate a
/// size (`1mb`, `512k`, `1048576`).
pub fn parse_bps_device(flag: &str, v: &str) -> Result<ThrottleDevice> {
    let (dev, rate) = split(flag, v)?;
    let rate = parse_size(rate).map_err(|_| {
        flag_err(
            flag,
            v,
            format!("invalid rate for device: {v}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"),
        )
    })?;
    Ok(ThrottleDevice {
        path: dev.to_string(),
        rate,
    })
}

/// `--device-read-iops` / `--device-write-iops DEVICE:N`.
pub fn parse_iops_device(flag: &str, v: &str) -> Result<ThrottleDevice> {
    let (dev, rate) = split(flag, v)?;
    let rate = rate.parse::<u64>().map_err(|_| {
        flag_err(
            flag,
            v,
            format!("invalid rate for device: {v}. The correct format is <device-path>:<number>. Number must be a positive integer"),
        )
    })?;
    Ok(ThrottleDevice {
        path: dev.to_string(),
        rate,
    })
}

/// What the host's block I/O controller can do; a limit it cannot hold
/// is dropped with Docker's warning, as the daemon does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlkioSupport {
    pub weight: bool,
    pub weight_device: bool,
    pub throttle: bool,
}

impl BlkioSupport {
    pub const ALL: BlkioSupport = BlkioSupport {
        weight: true,
        weight_device: true,
        throttle: true,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<impl std::fmt::Debug>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn devices_and_values_in_dockers_syntax() {
        assert_eq!(
            parse_weight_device("/dev/sda:300").unwrap(),
            WeightDevice {
                path: "/dev/sda".into(),
                weight: 300
            }
        );
        assert_eq!(parse_weight_device("/dev/sda:0").unwrap().weight, 0);
        let t = parse_bps_device("--device-read-bps", "/dev/loop3:1mb").unwrap();
        assert_eq!((t.path.as_str(), t.rate), ("/dev/loop3", 1 << 20));
        assert_eq!(
            parse_bps_device("--device-write-bps", "/dev/vda:4096")
                .unwrap()
                .rate,
            4096
        );
        let t = parse_iops_device("--device-write-iops", "/dev/vda:150").unwrap();
        assert_eq!(t.rate, 150);
    }

    #[test]
    fn bad_values_in_dockers_words() {
        assert_eq!(
            msg(parse_weight_device("sda")),
            "invalid argument \"sda\" for \"--blkio-weight-device\" flag: bad format: sda"
        );
        assert_eq!(
            msg(parse_weight_device("sda:10")),
            "invalid argument \"sda:10\" for \"--blkio-weight-device\" flag: bad format for device path: sda:10"
        );
        assert_eq!(
            msg(parse_weight_device("/dev/sda:5")),
            "invalid argument \"/dev/sda:5\" for \"--blkio-weight-device\" flag: invalid weight for device: /dev/sda:5"
        );
        assert!(msg(parse_weight_device("/dev/sda:1001")).contains("invalid weight"));
        assert!(msg(parse_bps_device("--device-read-bps", "/dev/sda:fast"))
            .ends_with("invalid rate for device: /dev/sda:fast. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"));
        assert!(msg(parse_bps_device("--device-read-bps", "/dev/sda:-1"))
            .contains("invalid rate for device"));
        assert!(msg(parse_iops_device("--device-read-iops", "/dev/sda:1k"))
            .ends_with("Number must be a positive integer"));
        assert_eq!(
            msg(parse_iops_device("--device-read-iops", ":5")),
            "invalid argument \":5\" for \"--device-read-iops\" flag: bad format: :5"
        );
        assert_eq!(
            msg(check_weight(5)),
            "Range of blkio weight is from 10 to 1000"
        );
        assert!(check_weight(1001).is_err());
        for ok in [0, 10, 500, 1000] {
            check_weight(ok).unwrap();
        }
    }
}
