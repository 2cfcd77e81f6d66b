//! `-p/--publish`, `-P/--publish-all` and `--expose`, parsed as Docker's
//! CLI parses them, with Docker's words for what it refuses. skiff's
//! networks are IPv4 only: an IPv6 host address is refused here rather
//! than published nowhere.

use super::bad;
use crate::store::ports::PortBinding;
use anyhow::Result;

const PROTOS: [&str; 3] = ["tcp", "udp", "sctp"];

/// `8000` or `8000-8010`, both ends included.
fn port_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return None;
    }
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b).then_some((a, b))
}

/// Docker's `SplitProtoPort`: `80/udp` as ("udp", "80"); no protocol is
/// tcp.
fn split_proto(s: &str) -> (String, &str) {
    match s.split_once('/') {
        _ if s.is_empty() || s.starts_with('/') => (String::new(), ""),
        None => ("tcp".into(), s),
        Some((p, "")) => ("tcp".into(), p),
        Some((p, proto)) => (proto.to_ascii_lowercase(), p),
    }
}

/// One `-p [ip:][hostPort:]containerPort[/proto]`, ranges expanded one
/// binding per container port as Docker expands them (a host range
/// over a single container port stays a range to pick from).
pub fn parse_publish(raw: &str) -> Result<Vec<PortBinding>> {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let (ip, host, container) = match n {
        1 => (String::new(), "", parts[0]),
        2 => (String::new(), parts[0], parts[1]),
        _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
    };
    let (proto, container) = split_proto(container);
    let bare = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(&ip);
    if !bare.is_empty() {
        match bare.parse::<std::net::IpAddr>() {
            Err(_) => return Err(bad(format!("Invalid ip address: {ip}"))),
            Ok(std::net::IpAddr::V6(a)) => {
                return Err(bad(format!(
                "cannot publish {raw}: {a} is an IPv6 address, and skiff's networks are IPv4 only"
            )))
            }
            Ok(_) => {}
        }
    }
    if container.is_empty() {
        return Err(bad(format!("No port specified: {raw}<empty>")));
    }
    let (start, end) = port_range(container)
        .filter(|(a, _)| *a > 0)
        .ok_or_else(|| bad(format!("Invalid containerPort: {container}")))?;
    let hosts = if host.is_empty() {
        None
    } else {
        Some(port_range(host).ok_or_else(|| bad(format!("Invalid hostPort: {host}")))?)
    };
    if let Some((hs, he)) = hosts {
        if end - start != he - hs && start != end {
            return Err(bad(format!(
                "Invalid ranges specified for container and host Ports: {container} and {host}"
            )));
        }
    }
    if !PROTOS.contains(&proto.as_str()) {
        return Err(bad(format!("Invalid proto: {proto}")));
    }
    Ok((start..=end)
        .enumerate()
        .map(|(i, port)| PortBinding {
            port,
            proto: proto.clone(),
            host_ip: bare.to_string(),
            host_port: match hosts {
                None | Some((0, 0)) => String::new(),
                Some((hs, he)) if start == end && hs != he => format!("{hs}-{he}"),
                Some((hs, _)) => (hs + i as u16).to_string(),
            },
        })
        .collect())
}

/// One `--expose PORT[/proto]` or `--expose START-END[/proto]`: Docker's
/// keys (`80/tcp`).
pub fn parse_expose(raw: &str) -> Result<Vec<String>> {
    if raw.contains(':') {
        return Err(bad(format!("invalid port format for --expose: {raw}")));
    }
    let (proto, port) = split_proto(raw);
    let (start, end) = port_range(port).ok_or_else(|| {
        bad(format!(
            "invalid range format for --expose: {raw}, error: invalid port {port:?}"
        ))
    })?;
    if !PROTOS.contains(&proto.as_str()) {
        return Err(bad(format!("Invalid proto: {proto}")));
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// Every `-p` flag, in order, each binding once.
pub fn parse_all(publish: &[String]) -> Result<Vec<PortBinding>> {
    let mut out: Vec<PortBinding> = Vec::new();
    for p in publish {
        for b in parse_publish(p)? {
            if !out.contains(&b) {
                out.push(b);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(port: u16, proto: &str, ip: &str, host: &str) -> PortBinding {
        PortBinding {
            port,
            proto: proto.into(),
            host_ip: ip.into(),
            host_port: host.into(),
        }
    }

    #[test]
    fn the_shapes_docker_takes() {
        assert_eq!(parse_publish("80").unwrap(), [b(80, "tcp", "", "")]);
        assert_eq!(
            parse_publish("8080:80").unwrap(),
            [b(80, "tcp", "", "8080")]
        );
        assert_eq!(
            parse_publish("127.0.0.1:8080:80/udp").unwrap(),
            [b(80, "udp", "127.0.0.1", "8080")]
        );
        assert_eq!(
            parse_publish("127.0.0.1::80").unwrap(),
            [b(80, "tcp", "127.0.0.1", "")]
        );
        assert_eq!(
            parse_publish("8080:80/SCTP").unwrap(),
            [b(80, "sctp", "", "8080")]
        );
        assert_eq!(parse_publish("80/").unwrap(), [b(80, "tcp", "", "")]);
    }

    #[test]
    fn ranges_expand_as_dockers_do() {
        assert_eq!(
            parse_publish("8000-8002:80-82").unwrap(),
            [
                b(80, "tcp", "", "8000"),
                b(81, "tcp", "", "8001"),
                b(82, "tcp", "", "8002")
            ]
        );
        // A host range over one container port: a range to pick from.
        assert_eq!(
            parse_publish("8000-8010:80").unwrap(),
            [b(80, "tcp", "", "8000-8010")]
        );
        assert_eq!(
            parse_publish("90-91").unwrap(),
            [b(90, "tcp", "", ""), b(91, "tcp", "", "")]
        );
        assert_eq!(
            parse_publish("8000-8001:80-82").unwrap_err().to_string(),
            "Invalid ranges specified for container and host Ports: 80-82 and 8000-8001"
        );
    }

    #[test]
    fn dockers_words_for_bad_specs() {
        let err = |s: &str| parse_publish(s).unwrap_err().to_string();
        assert_eq!(err("x"), "Invalid containerPort: x");
        assert_eq!(err("8080:0"), "Invalid containerPort: 0");
        assert_eq!(err("8080:70000"), "Invalid containerPort: 70000");
        assert_eq!(err("y:80"), "Invalid hostPort: y");
        assert_eq!(err("8080:80/ipx"), "Invalid proto: ipx");
        assert_eq!(err("1.2.3:8080:80"), "Invalid ip address: 1.2.3");
        assert_eq!(err("8080:"), "No port specified: 8080:<empty>");
        assert!(
            err("[::1]:8080:80").contains("IPv6"),
            "{}",
            err("[::1]:8080:80")
        );
        assert!(err("[::1]:8080:80").contains("::1"));
        assert!(err(":::8080:80").contains("IPv6"));
        let e = parse_publish("x").unwrap_err();
        assert_eq!(
            crate::error::kind_of(&e),
            Some(crate::error::ErrorKind::InvalidArgument)
        );
    }

    #[test]
    fn expose() {
        assert_eq!(parse_expose("80").unwrap(), ["80/tcp"]);
        assert_eq!(parse_expose("53/udp").unwrap(), ["53/udp"]);
        assert_eq!(
            parse_expose("7000-7002/tcp").unwrap(),
            ["7000/tcp", "7001/tcp", "7002/tcp"]
        );
        assert!(parse_expose("80:80")
            .unwrap_err()
            .to_string()
            .starts_with("invalid port format for --expose"));
        assert!(parse_expose("x").is_err());
        assert_eq!(
            parse_expose("80/foo").unwrap_err().to_string(),
            "Invalid proto: foo"
        );
    }

    #[test]
    fn each_binding_once() {
        let all = parse_all(&["8080:80".into(), "8080:80".into(), "81".into()]).unwrap();
        assert_eq!(all.len(), 2);
    }
}
