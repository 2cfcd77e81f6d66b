//! `RUN --mount=type=...,target=...`: BuildKit's CSV of fields, each
//! checked as BuildKit checks it. Values are kept as written; a value
//! holding a variable (`uid=$UID`) is checked only by the builder,
//! after expansion.

use super::flags::suggest;
use crate::build::ast::{MountType, RunMount};

const KEYS: [&str; 19] = [
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

fn type_name(kind: MountType) -> &'static str {
    match kind {
        MountType::Bind => "bind",
        MountType::Cache => "cache",
        MountType::Tmpfs => "tmpfs",
        MountType::Secret => "secret",
        MountType::Ssh => "ssh",
    }
}

/// Parses one `--mount` value.
pub(super) fn parse(spec: &str) -> Result<RunMount, String> {
    let fields = csv_record(spec).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    let mut m = RunMount {
        kind: MountType::Bind,
        target: None,
        source: None,
        from: None,
        id: None,
        read_only: None,
        sharing: None,
        mode: None,
        uid: None,
        gid: None,
        required: false,
        env: None,
        size: None,
    };
    for field in &fields {
        let Some((key, value)) = field.split_once('=') else {
            bare_key(&mut m, field)?;
            continue;
        };
        let key = key.to_lowercase();
        let literal = !value.contains('$');
        let bad_value = || format!("invalid value for {key}: {value}");
        // Like BuildKit, `required` and `size` are checked against the
        // type given so far: put `type=` first.
        let unexpected = || {
            format!(
                "unexpected key '{key}' for mount type '{}'",
                type_name(m.kind)
            )
        };
        match key.as_str() {
            "type" => m.kind = mount_type(value)?,
            "from" => {
                // The stage a mount reads from must be known before any
                // step runs, so it cannot come from a variable.
                if has_variable(value) {
                    return Err(format!(
                        "'{key}' doesn't support variable expansion, define alias stage instead"
                    ));
                }
                m.from = Some(value.to_string());
            }
            "source" | "src" => m.source = Some(value.to_string()),
            "target" | "dst" | "destination" => m.target = Some(value.to_string()),
            "readonly" | "ro" => m.read_only = Some(go_bool(value).ok_or_else(bad_value)?),
            "readwrite" | "rw" => m.read_only = Some(!go_bool(value).ok_or_else(bad_value)?),
            "required" if matches!(m.kind, MountType::Secret | MountType::Ssh) => {
                m.required = go_bool(value).ok_or_else(bad_value)?;
            }
            "required" => return Err(unexpected()),
            "size" if m.kind == MountType::Tmpfs => {
                if literal && !is_ram_size(value) {
                    return Err(bad_value());
                }
                m.size = Some(value.to_string());
            }
            "size" => return Err(unexpected()),
            "id" => m.id = Some(value.to_string()),
            "sharing" => {
                let lower = value.to_lowercase();
                if literal && !matches!(lower.as_str(), "shared" | "private" | "locked") {
                    return Err(format!("unsupported sharing value {value:?}"));
                }
                m.sharing = Some(if literal { lower } else { value.to_string() });
            }
            "mode" | "uid" | "gid" => {
                let radix = if key == "mode" { 8 } else { 10 };
                // Go's ParseUint takes no sign, which Rust's would.
                let number = u32::from_str_radix(value, radix)
                    .ok()
                    .filter(|_| !value.starts_with('+'));
                if literal && number.is_none() {
                    return Err(format!("invalid value {value} for {key}"));
                }
                let slot = match key.as_str() {
                    "mode" => &mut m.mode,
                    "uid" => &mut m.uid,
                    _ => &mut m.gid,
                };
                *slot = Some(value.to_string());
            }
            "env" => m.env = Some(value.to_string()),
            _ => {
                let hint = suggest(&key, &KEYS, true)
                    .map(|s| format!(" (did you mean {s}?)"))
                    .unwrap_or_default();
                return Err(format!("unexpected key '{key}' in '{field}'{hint}"));
            }
        }
    }
    check(&m)?;
    Ok(m)
}

/// A field without `=`: only the boolean switches may stand alone.
fn bare_key(m: &mut RunMount, field: &str) -> Result<(), String> {
    let key = field.to_lowercase();
    match key.as_str() {
        "readonly" | "ro" => m.read_only = Some(true),
        "readwrite" | "rw" => m.read_only = Some(false),
        "required" if matches!(m.kind, MountType::Secret | MountType::Ssh) => m.required = true,
        "required" => {
            return Err(format!(
                "unexpected key '{key}' for mount type '{}'",
                type_name(m.kind)
            ))
        }
        _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
    }
    Ok(())
}

fn mount_type(value: &str) -> Result<MountType, String> {
    Ok(match value.to_lowercase().as_str() {
        "bind" => MountType::Bind,
        "cache" => MountType::Cache,
        "tmpfs" => MountType::Tmpfs,
        "secret" => MountType::Secret,
        "ssh" => MountType::Ssh,
        _ => {
            let types = ["bind", "cache", "tmpfs", "secret", "ssh"];
            let hint = suggest(value, &types, true)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            return Err(format!("unsupported mount type {value:?}{hint}"));
        }
    })
}

/// The checks BuildKit makes once every field is read.
fn check(m: &RunMount) -> Result<(), String> {
    let kind = type_name(m.kind);
    let file_info = matches!(
        m.kind,
        MountType::Secret | MountType::Ssh | MountType::Cache
    );
    if !file_info {
        for (name, value) in [("mode", &m.mode), ("uid", &m.uid), ("gid", &m.gid)] {
            if value.is_some() {
                return Err(format!("{name} not allowed for {kind:?} type mounts"));
            }
        }
    }
    if m.sharing.is_some() && m.kind != MountType::Cache {
        return Err(format!("invalid cache sharing set for {kind} mount"));
    }
    if m.kind == MountType::Secret {
        if m.from.is_some() {
            return Err("secret mount should not have a from".into());
        }
        if m.source.is_none() && m.target.is_none() && m.id.is_none() {
            return Err("invalid secret mount. one of source, target required".into());
        }
        if m.source.is_some() && m.id.is_some() {
            return Err("both source and id can't be set".into());
        }
    }
    Ok(())
}

/// Whether `$` is followed by something, as BuildKit's `\$.` test.
fn has_variable(value: &str) -> bool {
    value.find('$').is_some_and(|at| at + 1 < value.len())
}

/// Go's `strconv.ParseBool`.
fn go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Docker's size syntax (`64m`, `1.5GiB`, `100 kb`): digits with
/// optional fractions, then an optional unit.
fn is_ram_size(value: &str) -> bool {
    let digits_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits_end);
    let number_ok = !number.is_empty()
        && number
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    // At most one of each, in this order: a prefix, `i`, `b`.
    let mut rest = unit.as_str();
    for class in ["kmgtp", "i", "b"] {
        if rest.starts_with(|c: char| class.contains(c)) {
            rest = &rest[1..];
        }
    }
    let unit_ok = rest.is_empty();
    number_ok && unit_ok
}

/// One record of Go's `encoding/csv` (comma-separated; a field may be
/// quoted, `""` standing for `"` inside).
fn csv_record(line: &str) -> Result<Vec<String>, String> {
    if line.is_empty() {
        return Err("EOF".into());
    }
    let chars: Vec<char> = line.chars().collect();
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let mut field = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            loop {
                match chars.get(i) {
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        field.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        field.push(*c);
                        i += 1;
                    }
                    None => return Err(quote_error(i)),
                }
            }
            if !matches!(chars.get(i), None | Some(',')) {
                return Err(quote_error(i));
            }
        } else {
            while let Some(&c) = chars.get(i).filter(|c| **c != ',') {
                if c == '"' {
                    return Err(format!(
                        "parse error on line 1, column {}: bare \" in non-quoted field",
                        i + 1
                    ));
                }
                field.push(c);
                i += 1;
            }
        }
        fields.push(field);
        if chars.get(i).is_none() {
            return Ok(fields);
        }
        i += 1;
    }
}

fn quote_error(at: usize) -> String {
    format!(
        "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
        at + 1
    )
}
