//! An instruction's `--flags`, checked against the ones it takes, with
//! BuildKit's messages (`unknown flag: --form (did you mean from?)`).

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum FlagKind {
    /// `--link`, `--link=true|false`.
    Bool,
    /// `--from=x`, at most once.
    Str,
    /// `--mount=x`, any number of times.
    Strs,
}

/// The flags an instruction was given.
#[derive(Debug, Default)]
pub(super) struct Flags {
    /// Each use in order: the flag's name and its value (`true`/`false`
    /// for booleans).
    used: Vec<(&'static str, String)>,
}

impl Flags {
    /// A single-valued flag's value, if given.
    pub fn string(&self, name: &str) -> Option<String> {
        self.used
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }

    /// Every value of a repeatable flag, in order.
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.used
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean flag: given without `=false`.
    pub fn bool(&self, name: &str) -> bool {
        self.string(name).is_some_and(|v| v == "true")
    }
}

/// Checks `args` (each `--name[=value]`) against `known`.
pub(super) fn parse(args: &[String], known: &[(&'static str, FlagKind)]) -> Result<Flags, String> {
    let mut flags = Flags::default();
    for arg in args {
        // A lone `--` ends the flags (POSIX's rule, which BuildKit keeps).
        if arg == "--" {
            break;
        }
        let Some(body) = arg.strip_prefix("--") else {
            return Err(format!("arg should start with -- : {arg}"));
        };
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let flag = format!("--{name}");
        let Some(&(known_name, kind)) = known.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
            let hint = suggest(name, &names, true)
                .map(|m| format!(" (did you mean {m}?)"))
                .unwrap_or_default();
            return Err(format!("unknown flag: {flag}{hint}"));
        };
        if kind != FlagKind::Strs && flags.used.iter().any(|(n, _)| *n == known_name) {
            return Err(format!("duplicate flag specified: {flag}"));
        }
        let value = match (kind, value) {
            (FlagKind::Bool, Some("")) | (FlagKind::Str | FlagKind::Strs, None) => {
                return Err(format!("missing a value on flag: {flag}"))
            }
            (FlagKind::Bool, None) => "true".to_string(),
            (FlagKind::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
                "true" => "true".to_string(),
                "false" => "false".to_string(),
                _ => return Err(format!("expecting boolean value for flag {flag}, not: {v}")),
            },
            (_, Some(v)) => v.to_string(),
        };
        flags.used.push((known_name, value));
    }
    Ok(flags)
}

/// The option closest to `val` (edit distance under 3), for "did you
/// mean" hints; none when `val` is one of them. Without case
/// sensitivity the hint takes `val`'s case when it is all upper or all
/// lower, as BuildKit's does.
pub(super) fn suggest(val: &str, options: &[&str], case_sensitive: bool) -> Option<String> {
    let fold = |s: &str| {
        if case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let wanted = fold(val);
    let mut best: Option<(usize, String)> = None;
    for opt in options {
        let opt = fold(opt);
        if opt == wanted {
            return None;
        }
        let dist = levenshtein(&wanted, &opt);
        if dist < best.as_ref().map_or(3, |(d, _)| *d) {
            best = Some((dist, opt));
        }
    }
    let (_, found) = best?;
    if !case_sensitive && val != val.to_lowercase() && val == val.to_uppercase() {
        return Some(found.to_uppercase());
    }
    Some(found)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
