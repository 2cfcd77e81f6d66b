//! The cpu controller: CFS quota and period, and the relative weight
//! (v1's shares, v2's weight).

use super::fs::write;
use anyhow::Result;
use oci_spec::runtime::LinuxCpu;
use std::path::Path;

/// The kernel's default CFS period, in microseconds.
const DEFAULT_PERIOD: u64 = 100_000;

/// Does `c` ask for anything the cpu controller does?
pub fn wanted(c: &LinuxCpu) -> bool {
    c.shares().is_some_and(|s| s > 0) || c.quota().is_some() || c.period().is_some()
}

/// v1 shares (2 to 262144) as a v2 weight (1 to 10000), linearly, as
/// runc and Docker convert them (the default 1024 becomes 39).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// v2: `cpu.weight` and `cpu.max` ("QUOTA PERIOD", "max" for no quota).
pub fn apply_v2(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|s| *s > 0) {
        write(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
    }
    if c.quota().is_some() || c.period().is_some() {
        let quota = match c.quota() {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".into(),
        };
        let period = c.period().unwrap_or(DEFAULT_PERIOD);
        write(dir, "cpu.max", &format!("{quota} {period}"))?;
    }
    Ok(())
}

/// v1: `cpu.shares`, then the period before the quota (the kernel checks
/// the quota against the period in force).
pub fn apply_v1(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|s| *s > 0) {
        write(dir, "cpu.shares", &s.to_string())?;
    }
    if let Some(p) = c.period() {
        write(dir, "cpu.cfs_period_us", &p.to_string())?;
    }
    if let Some(q) = c.quota() {
        write(dir, "cpu.cfs_quota_us", &q.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_become_weights_as_dockers_do() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(shares_to_weight(0), 0);
    }
}
