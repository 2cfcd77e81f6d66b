//! A container's resource usage at one moment, as `skiff stats` shows it:
//! its cgroup's figures, the byte counters of its network namespace, and
//! the host's CPU time and memory they are measured against (Docker's
//! formulas need both).

use crate::cgroup::stats::Usage;
use std::path::Path;

/// One reading of one container.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub usage: Usage,
    pub net_rx: u64,
    pub net_tx: u64,
    /// CPU time of the whole host, read next to the container's.
    pub host: HostCpu,
}

/// The host's CPU time since boot, as Docker counts it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HostCpu {
    /// The first seven fields of /proc/stat's `cpu` line (user to softirq,
    /// steal and guest left out as Docker leaves them), in nanoseconds.
    pub total_ns: u64,
    /// The CPUs online (the `cpuN` lines).
    pub online: u32,
}

/// Read the usage of the running container whose bundle is `dir` and
/// whose init is `pid`. A container without a cgroup (a host with no
/// cgroup file system) counts nothing but its network.
pub fn sample(dir: &Path, pid: u32) -> Sample {
    // The host first and the cgroup right after: the two deltas then
    // cover the same stretch of time.
    let host = host_cpu();
    let usage = super::cgroups::existing(dir)
        .map(|cg| cg.usage())
        .unwrap_or_default();
    let (net_rx, net_tx) = net_io(pid);
    Sample {
        usage,
        net_rx,
        net_tx,
        host,
    }
}

/// /proc/stat, read now.
pub fn host_cpu() -> HostCpu {
    let ticks = rustix::param::clock_ticks_per_second().max(1);
    std::fs::read_to_string("/proc/stat")
        .map(|s| parse_proc_stat(&s, ticks))
        .unwrap_or_default()
}

/// The host's memory (`MemTotal`), the limit shown for a container that
/// has none.
pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

pub fn parse_proc_stat(text: &str, ticks_per_second: u64) -> HostCpu {
    let mut out = HostCpu::default();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("cpu") => {
                let ticks: u64 = f.take(7).filter_map(|n| n.parse::<u64>().ok()).sum();
                out.total_ns = ticks.saturating_mul(1_000_000_000) / ticks_per_second.max(1);
            }
            Some(c)
                if c.strip_prefix("cpu")
                    .is_some_and(|n| n.parse::<u32>().is_ok()) =>
            {
                out.online += 1;
            }
            _ => {}
        }
    }
    out
}

/// Bytes received and sent by the interfaces of `pid`'s network
/// namespace, loopback left out (Docker counts the container's own
/// interfaces). A container in the host's namespace counts none, as in
/// Docker: the host's traffic is not its own.
fn net_io(pid: u32) -> (u64, u64) {
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/net")).ok();
    let own = ns(&pid.to_string());
    if own.is_none() || own == ns("self") {
        return (0, 0);
    }
    std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .map(|s| parse_net_dev(&s))
        .unwrap_or_default()
}

/// `/proc/net/dev`: two header lines, then `name: rx_bytes (7 more rx
/// counters) tx_bytes ...` per interface.
pub fn parse_net_dev(text: &str) -> (u64, u64) {
    let mut rx = 0u64;
    let mut tx = 0u64;
    for line in text.lines().skip(2) {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let n: Vec<u64> = counters
            .split_whitespace()
            .map(|c| c.parse().unwrap_or(0))
            .collect();
        if n.len() >= 9 {
            rx = rx.saturating_add(n[0]);
            tx = tx.saturating_add(n[8]);
        }
    }
    (rx, tx)
}

/// Docker's CPU %: the container's share of the host's CPU time between
/// two readings, scaled to the CPUs online (200% is two CPUs busy).
pub fn cpu_percent(prev: &Sample, now: &Sample) -> f64 {
    let cpu = now.usage.cpu_ns as f64 - prev.usage.cpu_ns as f64;
    let system = now.host.total_ns as f64 - prev.host.total_ns as f64;
    if cpu > 0.0 && system > 0.0 {
        cpu / system * f64::from(now.host.online) * 100.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_cpu_time_counts_seven_fields_and_the_cpus_online() {
        let text = "cpu  100 2 30 400 5 6 7 8 9 10\n\
                    cpu0 50 1 15 200 2 3 3 4 0 0\n\
                    cpu1 50 1 15 200 3 3 4 4 0 0\n\
                    intr 12345\nctxt 99\n";
        let h = parse_proc_stat(text, 100);
        assert_eq!(h.total_ns, 550 * 10_000_000);
        assert_eq!(h.online, 2);
    }

    #[test]
    fn network_bytes_leave_loopback_out() {
        let text = "Inter-|   Receive                            |  Transmit\n \
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
lo:  9999      10    0    0    0     0          0         0     9999      10    0    0    0     0       0          0\n  \
eth0:  1200      12    0    0    0     0          0         0      648       6    0    0    0     0       0          0\n  \
eth1:   100       1    0    0    0     0          0         0        2       1    0    0    0     0       0          0\n";
        assert_eq!(parse_net_dev(text), (1300, 650));
        assert_eq!(parse_net_dev(""), (0, 0));
    }

    #[test]
    fn cpu_percent_is_dockers() {
        let at = |cpu_ns, total_ns| Sample {
            usage: Usage {
                cpu_ns,
                ..Usage::default()
            },
            host: HostCpu {
                total_ns,
                online: 2,
            },
            ..Sample::default()
        };
        // Half a second of CPU over a second of two CPUs' time (2 s).
        let p = cpu_percent(&at(0, 0), &at(500_000_000, 2_000_000_000));
        assert!((p - 50.0).abs() < 1e-9, "{p}");
        // Nothing used, or no host time gone by: zero, never negative.
        assert_eq!(cpu_percent(&at(5, 10), &at(5, 20)), 0.0);
        assert_eq!(cpu_percent(&at(5, 10), &at(9, 10)), 0.0);
    }
}
