//! The packet filter rules of skiff's networks, in a table of skiff's own
//! (`ip skiff`) so no one else's rules are touched: outbound NAT for a
//! network's subnet (none for an `--internal` one), and forwarding only
//! where a network may go. Written with `nft`; where only `iptables` is
//! installed, the same rules go into its `nat` and `filter` tables, each
//! tagged with a comment naming the network so it can be taken out again.

use anyhow::{anyhow, bail, Context, Result};
use std::io::Write;
use std::process::{Command, Stdio};

/// What a network's rules need to know.
#[derive(Debug, Clone)]
pub struct NetRules<'a> {
    /// The network's ID: the rules' tag.
    pub id: &'a str,
    /// Its bridge interface.
    pub bridge: &'a str,
    /// `10.89.0.0/24`
    pub subnet: &'a str,
    pub internal: bool,
}

pub(super) fn tag(id: &str) -> String {
    format!("skiff:{}", &id[..id.len().min(12)])
}

/// Which tool is there (`nft` first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tool {
    Nft,
    Iptables,
}

/// On `PATH`, or in the sbin directories a user's `PATH` may leave out.
pub(super) fn on_path(name: &str) -> bool {
    crate::util::fs::on_path(name)
        || ["/usr/sbin", "/sbin"]
            .iter()
            .any(|d| std::path::Path::new(d).join(name).is_file())
}

/// The tool the user chose (`firewall-driver`), if any.
static CHOSEN: std::sync::OnceLock<Tool> = std::sync::OnceLock::new();

/// Take the user's choice of packet filter: `nftables` (or `nft`),
/// `iptables`, or `None` for the first one installed.
pub fn choose(driver: Option<&str>) -> Result<()> {
    let t = match driver {
        None => return Ok(()),
        Some("nftables" | "nft") => Tool::Nft,
        Some("iptables") => Tool::Iptables,
        Some(other) => bail!("unknown firewall driver {other:?}: use \"nftables\" or \"iptables\""),
    };
    let _ = CHOSEN.set(t);
    Ok(())
}

pub(super) fn tool() -> Result<Tool> {
    match CHOSEN.get() {
        Some(Tool::Nft) if !on_path("nft") => {
            bail!("firewall driver nftables: nft is not installed (the nftables package)")
        }
        Some(Tool::Iptables) if !on_path("iptables") => {
            bail!("firewall driver iptables: iptables is not installed (the iptables package)")
        }
        Some(t) => return Ok(*t),
        None => {}
    }
    if on_path("nft") {
        Ok(Tool::Nft)
    } else if on_path("iptables") {
        Ok(Tool::Iptables)
    } else {
        bail!("container networking needs nft or iptables: install the nftables (or iptables) package")
    }
}

/// The nft script adding a network's rules (and skiff's table and chains,
/// when they are not there yet).
pub fn nft_script(n: &NetRules) -> String {
    let t = tag(n.id);
    let mut s = String::from(
        "add table ip skiff\n\
         add chain ip skiff postrouting { type nat hook postrouting priority srcnat; policy accept; }\n\
         add chain ip skiff forward { type filter hook forward priority filter; policy accept; }\n",
    );
    let (br, net) = (n.bridge, n.subnet);
    if n.internal {
        // Nothing in or out but between its own members.
        s += &format!(
            "add rule ip skiff forward iifname \"{br}\" oifname != \"{br}\" drop comment \"{t}\"\n"
        );
        s += &format!(
            "add rule ip skiff forward oifname \"{br}\" iifname != \"{br}\" drop comment \"{t}\"\n"
        );
    } else {
        s += &format!(
            "add rule ip skiff postrouting ip saddr {net} ip daddr != {net} oifname != \"{br}\" masquerade comment \"{t}\"\n"
        );
        // Other skiff networks stay out of reach; the rest of the world
        // is open, and its answers come back.
        s += &format!(
            "add rule ip skiff forward iifname \"{br}\" oifname {{ \"skiff*\", \"skf-*\" }} oifname != \"{br}\" drop comment \"{t}\"\n"
        );
        s += &format!("add rule ip skiff forward iifname \"{br}\" accept comment \"{t}\"\n");
        s += &format!(
            "add rule ip skiff forward oifname \"{br}\" ct state related,established accept comment \"{t}\"\n"
        );
    }
    s
}

pub(super) fn run(cmd: &mut Command, input: Option<&str>) -> Result<String> {
    let name = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("run {name}"))?;
    if let (Some(i), Some(mut w)) = (input, child.stdin.take()) {
        w.write_all(i.as_bytes())
            .with_context(|| format!("write to {name}"))?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(anyhow!(
            "{name}: {}",
            err.lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("failed")
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Are the network's rules there already?
fn present(n: &NetRules, t: Tool) -> bool {
    let needle = format!("\"{}\"", tag(n.id));
    match t {
        Tool::Nft => run(
            Command::new("nft").args(["list", "chain", "ip", "skiff", "forward"]),
            None,
        )
        .is_ok_and(|s| s.contains(&needle)),
        Tool::Iptables => run(Command::new("iptables").args(["-S", "FORWARD"]), None)
            .is_ok_and(|s| s.contains(&tag(n.id))),
    }
}

/// Add a network's rules unless they are there.
pub fn ensure(n: &NetRules) -> Result<()> {
    let t = tool()?;
    if present(n, t) {
        return Ok(());
    }
    match t {
        Tool::Nft => run(Command::new("nft").args(["-f", "-"]), Some(&nft_script(n)))
            .and_then(|_| open_forward_drop(n)),
        Tool::Iptables => {
            for args in iptables_rules(n) {
                run(Command::new("iptables").args(&args), None)?;
            }
            Ok(())
        }
    }
    .with_context(|| format!("set up the packet filter for network {}", n.bridge))
}

/// A host whose `iptables` FORWARD policy is DROP (as Docker leaves it)
/// drops in its own chain what skiff's chain accepts: a packet must pass
/// every base chain on the hook. The network's forwarding is accepted
/// there too, first, tagged like skiff's other rules. skiff's own chain
/// still drops what it must (other networks, internal ones).
fn open_forward_drop(n: &NetRules) -> Result<()> {
    if !on_path("iptables") {
        return Ok(());
    }
    let Ok(listing) = run(Command::new("iptables").args(["-S", "FORWARD"]), None) else {
        return Ok(());
    };
    if !listing.lines().any(|l| l.trim() == "-P FORWARD DROP") {
        return Ok(());
    }
    for args in forward_accepts(n) {
        run(Command::new("iptables").args(&args), None)?;
    }
    Ok(())
}

/// The accept rules for a FORWARD chain whose policy is DROP (`-I`).
fn forward_accepts(n: &NetRules) -> Vec<Vec<String>> {
    let t = tag(n.id);
    let br = n.bridge;
    let rules: [&[&str]; 2] = [
        &["-I", "FORWARD", "-i", br, "-j", "ACCEPT"],
        &[
            "-I",
            "FORWARD",
            "-o",
            br,
            "-m",
            "conntrack",
            "--ctstate",
            "RELATED,ESTABLISHED,DNAT",
            "-j",
            "ACCEPT",
        ],
    ];
    rules
        .iter()
        .map(|r| {
            r.iter()
                .copied()
                .chain(["-m", "comment", "--comment", &t])
                .map(String::from)
                .collect()
        })
        .collect()
}

/// The same rules for `iptables` (`-A`), each tagged.
fn iptables_rules(n: &NetRules) -> Vec<Vec<String>> {
    let t = tag(n.id);
    let (br, net) = (n.bridge, n.subnet);
    let mut rules: Vec<Vec<&str>> = Vec::new();
    let comment = ["-m", "comment", "--comment", &t];
    if n.internal {
        rules.push(vec!["-A", "FORWARD", "-i", br, "!", "-o", br, "-j", "DROP"]);
        rules.push(vec!["-A", "FORWARD", "-o", br, "!", "-i", br, "-j", "DROP"]);
    } else {
        rules.push(vec![
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-s",
            net,
            "!",
            "-d",
            net,
            "!",
            "-o",
            br,
            "-j",
            "MASQUERADE",
        ]);
        // iptables takes one `-o` a rule: its own bridge is let through
        // first, then other skiff bridges are dropped.
        rules.push(vec!["-A", "FORWARD", "-i", br, "-o", br, "-j", "ACCEPT"]);
        rules.push(vec![
            "-A", "FORWARD", "-i", br, "-o", "skiff+", "-j", "DROP",
        ]);
        rules.push(vec!["-A", "FORWARD", "-i", br, "-o", "skf-+", "-j", "DROP"]);
        rules.push(vec!["-A", "FORWARD", "-i", br, "-j", "ACCEPT"]);
        rules.push(vec![
            "-A",
            "FORWARD",
            "-o",
            br,
            "-m",
            "conntrack",
            "--ctstate",
            "RELATED,ESTABLISHED",
            "-j",
            "ACCEPT",
        ]);
    }
    rules
        .into_iter()
        .map(|r| {
            r.iter()
                .chain(comment.iter())
                .map(|s| s.to_string())
                .collect()
        })
        .collect()
}

/// Take a network's rules out (when the network is removed): the
/// chosen tool's, then whatever the other installed tool holds of them
/// (with nft, the accepts a DROP policy needed, `open_forward_drop`; or
/// rules made before the driver was changed), as far as it can.
pub fn remove(id: &str) -> Result<()> {
    let t = tag(id);
    match tool()? {
        Tool::Nft => {
            delete_tagged(&t)?;
            if on_path("iptables") {
                let _ = remove_iptables(&t, &["nat", "filter"]);
            }
        }
        Tool::Iptables => {
            remove_iptables(&t, &["nat", "filter"])?;
            if on_path("nft") {
                let _ = delete_tagged(&t);
            }
        }
    }
    Ok(())
}

/// Delete the rules tagged `t` from skiff's nft table; the listing they
/// were found in (`None`: there is no table).
pub(super) fn delete_tagged(t: &str) -> Result<Option<String>> {
    let Ok(listing) = run(
        Command::new("nft").args(["-a", "list", "table", "ip", "skiff"]),
        None,
    ) else {
        return Ok(None);
    };
    let script = nft_deletions(&listing, t);
    if !script.is_empty() {
        run(Command::new("nft").args(["-f", "-"]), Some(&script))?;
    }
    Ok(Some(listing))
}

/// Delete the rules tagged `t` from `iptables`' `tables`.
pub(super) fn remove_iptables(t: &str, tables: &[&str]) -> Result<()> {
    for table in tables {
        let rules = run(Command::new("iptables").args(["-t", table, "-S"]), None)?;
        for r in rules.lines().filter(|l| l.contains(t)) {
            let args: Vec<String> = shell_words(r.replacen("-A ", "-D ", 1).as_str());
            let mut c = Command::new("iptables");
            c.args(["-t", table]).args(&args);
            run(&mut c, None)?;
        }
    }
    Ok(())
}

/// `delete rule` lines for each rule of `nft -a list table` tagged `tag`.
pub(super) fn nft_deletions(listing: &str, tag: &str) -> String {
    let mut chain = "";
    let mut out = String::new();
    let needle = format!("comment \"{tag}\"");
    for line in listing.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("chain ") {
            chain = rest.split_whitespace().next().unwrap_or("");
        } else if line.contains(&needle) {
            if let Some(h) = line.rsplit_once("# handle ").map(|(_, h)| h.trim()) {
                out += &format!("delete rule ip skiff {chain} handle {h}\n");
            }
        }
    }
    out
}

/// Split an `iptables -S` line into words (its comments are quoted).
fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123";

    fn net(internal: bool) -> NetRules<'static> {
        NetRules {
            id: ID,
            bridge: "skf-01234567",
            subnet: "10.89.3.0/24",
            internal,
        }
    }

    #[test]
    fn nat_and_forwarding_for_a_network() {
        let s = nft_script(&net(false));
        assert!(s.contains("add table ip skiff\n"));
        assert!(s.contains(
            "ip saddr 10.89.3.0/24 ip daddr != 10.89.3.0/24 oifname != \"skf-01234567\" masquerade comment \"skiff:0123456789ab\""
        ));
        assert!(s.contains("iifname \"skf-01234567\" accept"));
        // Internal: no NAT, no way out.
        let s = nft_script(&net(true));
        assert!(!s.contains("masquerade"));
        assert!(s.contains("iifname \"skf-01234567\" oifname != \"skf-01234567\" drop"));
    }

    #[test]
    fn deletions_find_the_tagged_rules() {
        let listing = "table ip skiff { # handle 9\n\
            \tchain postrouting { # handle 1\n\
            \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
            \t\tip saddr 10.89.3.0/24 masquerade comment \"skiff:0123456789ab\" # handle 4\n\
            \t\tip saddr 10.89.4.0/24 masquerade comment \"skiff:ffffffffffff\" # handle 5\n\
            \t}\n\
            \tchain forward { # handle 2\n\
            \t\tiifname \"skf-01234567\" accept comment \"skiff:0123456789ab\" # handle 7\n\
            \t}\n}\n";
        assert_eq!(
            nft_deletions(listing, &tag(ID)),
            "delete rule ip skiff postrouting handle 4\ndelete rule ip skiff forward handle 7\n"
        );
    }

    #[test]
    fn iptables_rules_carry_the_tag() {
        let rules = iptables_rules(&net(false));
        assert!(rules.iter().all(|r| r.ends_with(&[
            "-m".to_string(),
            "comment".into(),
            "--comment".into(),
            "skiff:0123456789ab".into()
        ])));
        assert_eq!(
            shell_words("-A FORWARD -i br -m comment --comment \"skiff:x y\" -j ACCEPT"),
            [
                "-A",
                "FORWARD",
                "-i",
                "br",
                "-m",
                "comment",
                "--comment",
                "skiff:x y",
                "-j",
                "ACCEPT"
            ]
        );
    }

    #[test]
    fn rules_go_into_the_kernel_and_come_out_again() {
        let id = format!("{:0>20}", std::process::id());
        let n = NetRules {
            id: &id,
            bridge: "skf-fwtest",
            subnet: "10.89.250.0/24",
            internal: false,
        };
        ensure(&n).unwrap();
        assert!(present(&n, tool().unwrap()));
        // Twice is once.
        ensure(&n).unwrap();
        remove(&id).unwrap();
        assert!(!present(&n, tool().unwrap()));
    }
}
