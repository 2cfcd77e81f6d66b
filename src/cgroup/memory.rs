//! The memory controller: limit, swap, reservation, the OOM killer, and
//! the count of OOM kills read when a container ends.

use super::fs::{keyed, read, write};
use anyhow::Result;
use oci_spec::runtime::LinuxMemory;
use std::path::Path;

/// Does `m` ask for anything the controller does?
pub fn wanted(m: &LinuxMemory) -> bool {
    m.limit().is_some()
        || m.swap().is_some()
        || m.reservation().is_some()
        || m.disable_oom_killer() == Some(true)
}

/// v2 takes "max" for no limit.
fn v2_value(n: i64) -> String {
    if n < 0 {
        "max".into()
    } else {
        n.to_string()
    }
}

/// v2: `memory.max`, `memory.swap.max` and `memory.low`. The spec's swap
/// is memory plus swap (v1's memsw); v2 limits the swap alone.
pub fn apply_v2(dir: &Path, m: &LinuxMemory) -> Result<()> {
    if let Some(r) = m.reservation() {
        write(dir, "memory.low", &v2_value(r))?;
    }
    if let Some(l) = m.limit() {
        write(dir, "memory.max", &v2_value(l))?;
    }
    if let Some(s) = m.swap() {
        let swap = match m.limit() {
            _ if s < 0 => -1,
            Some(l) if l > 0 => s - l,
            _ => s,
        };
        write(dir, "memory.swap.max", &v2_value(swap))?;
    }
    Ok(())
}

/// v1: the limit and memory+swap, in the order the kernel takes them
/// (memsw may never be below the limit: raising both, memsw goes first;
/// lowering, the limit), then the soft limit and the OOM killer switch.
pub fn apply_v1(dir: &Path, m: &LinuxMemory) -> Result<()> {
    let swap_first = match (m.limit(), m.swap()) {
        (Some(_), Some(s)) if s < 0 => true,
        (Some(_), Some(s)) => read(dir, "memory.limit_in_bytes")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|now| now < s as u64),
        _ => false,
    };
    let swap = |s: i64| write(dir, "memory.memsw.limit_in_bytes", &s.to_string());
    if let (true, Some(s)) = (swap_first, m.swap()) {
        swap(s)?;
    }
    if let Some(l) = m.limit() {
        write(dir, "memory.limit_in_bytes", &l.to_string())?;
    }
    if let (false, Some(s)) = (swap_first, m.swap()) {
        swap(s)?;
    }
    if let Some(r) = m.reservation() {
        write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
    }
    if m.disable_oom_killer() == Some(true) {
        write(dir, "memory.oom_control", "1")?;
    }
    Ok(())
}

/// How many processes the OOM killer took: `oom_kill` of v2's
/// `memory.events`, or of v1's `memory.oom_control` (Linux 4.13+).
pub fn oom_kills(dir: &Path, v2: bool) -> u64 {
    let file = if v2 {
        "memory.events"
    } else {
        "memory.oom_control"
    };
    read(dir, file)
        .ok()
        .and_then(|s| keyed(&s, "oom_kill"))
        .unwrap_or(0)
}
