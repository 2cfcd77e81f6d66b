//! Splitting an instruction's text the ways BuildKit's line parsers do:
//! the name and `--flags` off the front, then whitespace-separated words,
//! quote-aware words (`ENV`, `LABEL`, `ARG`), JSON arrays, and the
//! heredoc words (`<<EOF`) of a line.

use crate::build::expand::{self, Options};

/// BuildKit's `[\t\v\f\r ]+`, the separator between words of `FROM`,
/// `EXPOSE`, shell-form `COPY`, ...
fn is_sep(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0b' | '\x0c' | '\r')
}

/// An instruction line taken apart: its name (as written), its leading
/// `--flags` (quotes removed) and the rest (trimmed).
pub(super) struct Split<'a> {
    pub name: &'a str,
    pub flags: Vec<String>,
    pub args: &'a str,
}

/// Takes an instruction line apart.
pub(super) fn split_command(line: &str) -> Split<'_> {
    let line = line.trim();
    let Some(at) = line.find(is_sep) else {
        return Split {
            name: line,
            flags: Vec::new(),
            args: "",
        };
    };
    let (flags, args) = extract_flags(line[at..].trim_start_matches(is_sep));
    Split {
        name: &line[..at],
        flags,
        args: args.trim(),
    }
}

#[derive(PartialEq)]
enum Phase {
    Spaces,
    Word,
    Quote(char),
}

/// Takes the words starting with `--` off the front of `line` (a lone
/// `--` ends them). Quotes are removed and `\` escapes the next
/// character, whatever the escape directive says, as in BuildKit.
fn extract_flags(line: &str) -> (Vec<String>, &str) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut flags = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut i = 0;
    loop {
        let here = chars.get(i).copied();
        if phase == Phase::Spaces {
            let Some((at, ch)) = here else { break };
            if ch.is_whitespace() {
                i += 1;
                continue;
            }
            if ch != '-' || chars.get(i + 1).map(|c| c.1) != Some('-') {
                return (flags, &line[at..]);
            }
            phase = Phase::Word;
        }
        let Some((at, ch)) = here else {
            if word != "--" && (blank_ok || !word.is_empty()) {
                flags.push(word);
            }
            break;
        };
        i += 1;
        match phase {
            Phase::Word if ch.is_whitespace() => {
                if word == "--" {
                    return (flags, &line[at..]);
                }
                if blank_ok || !word.is_empty() {
                    flags.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                phase = Phase::Spaces;
            }
            Phase::Word if ch == '\'' || ch == '"' => {
                phase = Phase::Quote(ch);
                blank_ok = true;
            }
            Phase::Quote(q) if ch == q => phase = Phase::Word,
            _ if ch == '\\' => {
                // A `\` at the very end escapes nothing and is dropped
                // (and ends a quote).
                match chars.get(i) {
                    Some(&(_, next)) => {
                        word.push(next);
                        i += 1;
                    }
                    None => phase = Phase::Word,
                }
            }
            _ => word.push(ch),
        }
    }
    (flags, "")
}

/// Words separated by blanks, nothing else special (`FROM`, `EXPOSE`,
/// shell-form `COPY`/`ADD`/`VOLUME`): `COPY "a b" /x` is three words, as
/// in Docker.
pub(super) fn split_blanks(rest: &str) -> Vec<String> {
    rest.split(is_sep)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Words separated by whitespace outside quotes, quotes and escapes
/// kept for the expansion that comes later (`ENV a="x y" b=1`).
pub(super) fn split_quoted(rest: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut pos = 0;
    loop {
        let here = chars.get(pos).copied();
        if phase == Phase::Spaces {
            let Some(ch) = here else { break };
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        let Some(mut ch) = here else {
            if blank_ok || !word.is_empty() {
                words.push(word);
            }
            break;
        };
        pos += 1;
        match phase {
            Phase::Word if ch.is_whitespace() => {
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                phase = Phase::Spaces;
                continue;
            }
            Phase::Word if ch == '\'' || ch == '"' => {
                phase = Phase::Quote(ch);
                blank_ok = true;
            }
            Phase::Quote(q) if ch == q => phase = Phase::Word,
            // Nothing is escaped inside single quotes.
            Phase::Quote('\'') => {}
            _ if ch == escape => match chars.get(pos) {
                Some(&next) => {
                    word.push(ch);
                    ch = next;
                    pos += 1;
                }
                // An escape at the very end is dropped.
                None => {
                    phase = Phase::Word;
                    continue;
                }
            },
            _ => {}
        }
        word.push(ch);
    }
    words
}

/// The text as a JSON array of strings (exec form), `None` when it is
/// not valid JSON (then it is shell form, as in Docker). An array with
/// anything but strings in it is an error.
pub(super) fn json_array(rest: &str) -> Result<Option<Vec<String>>, String> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(rest) else {
        return Ok(None);
    };
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => {
                Err("when using JSON array syntax, arrays must be comprised of strings only".into())
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `ENV`'s and `LABEL`'s pairs: `k=v k2="a b"`, or the old `k v w`
/// where the rest of the line is the value. Keys and values stay as
/// written. No pairs at all is left to the caller.
pub(super) fn name_values(
    rest: &str,
    instr: &str,
    escape: char,
) -> Result<Vec<(String, String)>, String> {
    let words = split_quoted(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let Some(at) = rest.find(is_sep) else {
            return Err(format!("{instr} must have two arguments"));
        };
        let value = rest[at..].trim_start_matches(is_sep);
        return Ok(vec![(rest[..at].to_string(), value.to_string())]);
    }
    words
        .iter()
        .map(|word| match word.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!(
                "Syntax error - can't find = in {word:?}. Must be of the form: name=value"
            )),
        })
        .collect()
}

/// A word that opens a heredoc (`<<EOF`, `<<-EOF`, `<<"EOF"`, `2<<EOF`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct HeredocWord {
    pub name: String,
    /// `<<-`: leading tabs are stripped from the body and delimiter.
    pub chomp: bool,
    /// No part of the delimiter was quoted.
    pub expand: bool,
}

fn unset(_: &str) -> Option<String> {
    None
}

/// `word` as a heredoc opener, if it is one: BuildKit's
/// `^(\d*)<<(-?)([^<]*)$`, the delimiter being a single word.
pub(super) fn heredoc_word(word: &str) -> Option<HeredocWord> {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let lex = |raw_quotes| {
        let opts = Options {
            raw_quotes,
            skip_unset: true,
            ..Options::default()
        };
        expand::process(rest, '\\', opts, &unset)
            .ok()
            .map(|(_, w)| w)
    };
    let (plain, raw) = (lex(false)?, lex(true)?);
    let ([name], [raw]) = (plain.as_slice(), raw.as_slice()) else {
        return None;
    };
    // Quotes anywhere in the delimiter (`<<"EOF"`, `<<'EOF'`, `<<E"O"F`)
    // turn expansion off: lexing with and without keeping them tells.
    let quotes = |s: &str| s.matches(['\'', '"']).count();
    Some(HeredocWord {
        name: name.clone(),
        chomp,
        expand: quotes(name) == quotes(raw),
    })
}

/// The heredocs a line opens, in order. Quoted text is one word, so
/// `echo "<<EOF"` opens none; a line that does not lex opens none.
pub(super) fn heredocs_in_line(line: &str) -> Vec<HeredocWord> {
    if !line.contains("<<") {
        return Vec::new();
    }
    let opts = Options {
        raw_quotes: true,
        raw_escapes: true,
        skip_unset: true,
        skip_quotes: false,
    };
    match expand::process(line, '\\', opts, &unset) {
        Ok((_, words)) => words.iter().filter_map(|w| heredoc_word(w)).collect(),
        Err(_) => Vec::new(),
    }
}
