//! The shell patterns of `${VAR#pat}`, `${VAR%pat}` and
//! `${VAR/pat/repl}`: `*` matches any run of characters, `?` any one,
//! `\*`, `\?` and `\\` stand for themselves. Bracket expressions are not
//! supported, as in BuildKit.

/// One element of a pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Star,
    Any,
    Lit(char),
}

/// Turns a pattern into tokens; errors name a bad escape as BuildKit
/// does (`invalid escape '\x'`).
fn compile(pattern: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::Any),
            // `\}` and `\/` were escaped only to get past the `${...}`
            // syntax: the character itself is an ordinary one.
            '\\' if matches!(chars.peek(), Some('}' | '/')) => {}
            '\\' => match chars.next() {
                Some(esc @ ('*' | '?' | '\\')) => toks.push(Tok::Lit(esc)),
                Some(other) => return Err(format!("invalid escape '\\{other}'")),
                None => return Err("invalid escape '\\'".into()),
            },
            _ => toks.push(Tok::Lit(ch)),
        }
    }
    Ok(toks)
}

/// Whether the tokens match all of `text`: the usual backtracking over
/// the last `*`, linear in practice.
fn matches(toks: &[Tok], text: &[char]) -> bool {
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::Any) => {
                t += 1;
                p += 1;
            }
            Some(Tok::Lit(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    p = sp + 1;
                    t = st + 1;
                }
                None => return false,
            },
        }
    }
    toks[p..].iter().all(|tok| *tok == Tok::Star)
}

/// `${VAR#pat}` (shortest matching prefix removed) and `${VAR##pat}`
/// (longest).
pub(super) fn trim_prefix(value: &str, pattern: &str, longest: bool) -> Result<String, String> {
    let toks = compile(pattern)?;
    let chars: Vec<char> = value.chars().collect();
    let mut ends: Box<dyn Iterator<Item = usize>> = if longest {
        Box::new((0..=chars.len()).rev())
    } else {
        Box::new(0..=chars.len())
    };
    Ok(match ends.find(|&end| matches(&toks, &chars[..end])) {
        Some(end) => chars[end..].iter().collect(),
        None => value.to_string(),
    })
}

/// `${VAR%pat}` (shortest matching suffix removed) and `${VAR%%pat}`
/// (longest).
pub(super) fn trim_suffix(value: &str, pattern: &str, longest: bool) -> Result<String, String> {
    let toks = compile(pattern)?;
    let chars: Vec<char> = value.chars().collect();
    let mut starts: Box<dyn Iterator<Item = usize>> = if longest {
        Box::new(0..=chars.len())
    } else {
        Box::new((0..=chars.len()).rev())
    };
    Ok(
        match starts.find(|&start| matches(&toks, &chars[start..])) {
            Some(start) => chars[..start].iter().collect(),
            None => value.to_string(),
        },
    )
}

/// `${VAR/pat/repl}` (first match) and `${VAR//pat/repl}` (every
/// match): the leftmost match wins, and at one place the longest, as
/// with BuildKit's greedy regular expression. The replacement is taken
/// as it is.
pub(super) fn replace(value: &str, pattern: &str, with: &str, all: bool) -> Result<String, String> {
    let toks = compile(pattern)?;
    let chars: Vec<char> = value.chars().collect();
    let mut out = String::new();
    let mut last_end = None;
    let mut i = 0;
    while i <= chars.len() {
        let found = (i..=chars.len())
            .rev()
            .find(|&end| matches(&toks, &chars[i..end]));
        match found {
            // An empty match right after a match is no new match (Go's
            // rule for successive matches).
            Some(end) if !(end == i && last_end == Some(i)) => {
                out.push_str(with);
                if !all {
                    out.extend(&chars[end..]);
                    return Ok(out);
                }
                last_end = Some(end);
                if end > i {
                    i = end;
                    continue;
                }
            }
            _ => {}
        }
        if let Some(ch) = chars.get(i) {
            out.push(*ch);
        }
        i += 1;
    }
    Ok(out)
}
