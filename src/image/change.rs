//! `--change` instructions (`import`, and later `commit`): the Dockerfile
//! instructions that only touch the image config.

use super::config::RunConfig;
use anyhow::{bail, Result};
use serde_json::Value;

/// JSON form (`["a","b"]`) or shell form (`/bin/sh -c "..."`).
fn command(rest: &str) -> Vec<String> {
    if rest.trim_start().starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest.trim()) {
            return v;
        }
    }
    vec!["/bin/sh".into(), "-c".into(), rest.trim().to_string()]
}

/// `k=v k2="v 2"` pairs, or the legacy `k v` form.
fn pairs(rest: &str) -> Result<Vec<(String, String)>> {
    let rest = rest.trim();
    let first = rest.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let (k, v) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.peek() {
            chars.next();
            match (quote, c) {
                (None, '"') | (None, '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, c) if c.is_whitespace() => break,
                (_, '\\') => {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                }
                (_, c) => word.push(c),
            }
        }
        match word.split_once('=') {
            Some((k, v)) => out.push((k.to_string(), v.to_string())),
            None => bail!("{word:?}: expected KEY=VALUE"),
        }
    }
    Ok(out)
}

/// Apply one `--change` line to a run config.
pub fn apply(cfg: &mut RunConfig, change: &str) -> Result<()> {
    let change = change.trim();
    let (instr, rest) = change
        .split_once(char::is_whitespace)
        .unwrap_or((change, ""));
    match instr.to_uppercase().as_str() {
        "CMD" => cfg.cmd = Some(command(rest)),
        "ENTRYPOINT" => cfg.entrypoint = Some(command(rest)),
        "ENV" => {
            let env = cfg.env.get_or_insert_with(Vec::new);
            for (k, v) in pairs(rest)? {
                env.retain(|e| e.split_once('=').map(|(a, _)| a) != Some(k.as_str()));
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            let labels = cfg.labels.get_or_insert_with(Default::default);
            for (k, v) in pairs(rest)? {
                labels.insert(k, v);
            }
        }
        "EXPOSE" => {
            let ports = cfg.exposed_ports.get_or_insert_with(Default::default);
            for p in rest.split_whitespace() {
                let p = if p.contains('/') { p.to_string() } else { format!("{p}/tcp") };
                ports.insert(p, Value::Object(Default::default()));
            }
        }
        "VOLUME" => {
            let vols = cfg.volumes.get_or_insert_with(Default::default);
            let list: Vec<String> = if rest.trim_start().starts_with('[') {
                serde_json::from_str(rest.trim())?
            } else {
                rest.split_whitespace().map(String::from).collect()
            };
            for v in list {
                vols.insert(v, Value::Object(Default::default()));
            }
        }
        "USER" => cfg.user = Some(rest.trim().to_string()),
        "WORKDIR" => cfg.working_dir = Some(rest.trim().to_string()),
        "STOPSIGNAL" => cfg.stop_signal = Some(rest.trim().to_string()),
        "ONBUILD" => {
            let list = cfg
                .extra
                .entry("OnBuild")
                .or_insert(Value::Array(Vec::new()));
            if let Value::Array(a) = list {
                a.push(Value::String(rest.trim().to_string()));
            }
        }
        other => bail!(
            "{other} is not a valid change instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)"
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_apply() {
        let mut c = RunConfig::default();
        apply(&mut c, r#"CMD ["sh", "-c", "echo hi"]"#).unwrap();
        apply(&mut c, "ENTRYPOINT /bin/app --flag").unwrap();
        apply(&mut c, r#"ENV A=1 B="two words""#).unwrap();
        apply(&mut c, "ENV C 3 4").unwrap();
        apply(&mut c, "LABEL x=y").unwrap();
        apply(&mut c, "EXPOSE 80 53/udp").unwrap();
        apply(&mut c, "WORKDIR /srv").unwrap();
        assert_eq!(c.cmd.unwrap(), vec!["sh", "-c", "echo hi"]);
        assert_eq!(
            c.entrypoint.unwrap(),
            vec!["/bin/sh", "-c", "/bin/app --flag"]
        );
        assert_eq!(c.env.unwrap(), vec!["A=1", "B=two words", "C=3 4"]);
        assert_eq!(c.labels.unwrap()["x"], "y");
        assert!(c.exposed_ports.unwrap().contains_key("80/tcp"));
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        assert!(apply(&mut RunConfig::default(), "RUN rm -rf /").is_err());
    }
}
