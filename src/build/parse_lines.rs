//! Physical lines into logical ones, as BuildKit's parser reads them:
//! parser directives at the top, comments and blank lines skipped, lines
//! ending in the escape character joined with the next, and heredoc
//! bodies read on request.

use super::Fail;

/// One instruction's text, continuations joined.
pub(super) struct Logical {
    /// The line it starts on, from 1.
    pub line: usize,
    pub text: String,
}

/// Reads a Containerfile line by line.
pub(super) struct Reader<'a> {
    lines: Vec<&'a str>,
    /// Lines consumed so far: the number of the last one read.
    pub read: usize,
    pub directives: Directives,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        // A byte-order mark is not part of the first line (editors on
        // Windows write one).
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Reader {
            lines: text.split_inclusive('\n').collect(),
            read: 0,
            directives: Directives::default(),
        }
    }

    /// The next line as written, line ending included.
    fn take(&mut self) -> Option<&'a str> {
        let line = self.lines.get(self.read).copied()?;
        self.read += 1;
        Some(line)
    }

    /// The next instruction's text, or `None` at the end of the file.
    pub fn next_logical(&mut self) -> Result<Option<Logical>, Fail> {
        while let Some(raw) = self.take() {
            let token = trim_newline(raw).trim_start();
            self.directive(token)?;
            // A comment line: one starting with `#`, after any indent.
            let token = if token.starts_with('#') { "" } else { token };
            let line = self.read;
            let escape = self.directives.escape;
            let (first, mut continues) = trim_continuation(token, escape);
            if !continues && first.is_empty() {
                continue;
            }
            let mut text = first.to_string();
            while continues {
                let Some(raw) = self.take() else { break };
                // Continuation lines keep their indent (Docker joins
                // them as written), but comment and blank lines among
                // them are skipped without ending the instruction.
                let token = trim_newline(raw);
                self.directive(token)?;
                let trimmed = token.trim_start();
                if trimmed.starts_with('#') || trimmed.is_empty() {
                    continue;
                }
                let part;
                (part, continues) = trim_continuation(token, escape);
                text.push_str(part);
            }
            return Ok(Some(Logical { line, text }));
        }
        Ok(None)
    }

    fn directive(&mut self, token: &str) -> Result<(), Fail> {
        let line = self.read;
        self.directives
            .feed(token)
            .map_err(|msg| Fail { line, msg })
    }

    /// Reads a heredoc's body up to its delimiter line (leading tabs
    /// ignored there with `<<-`): the lines as written, endings kept, or
    /// `None` when the file ends first.
    pub fn heredoc(&mut self, name: &str, chomp: bool) -> Option<String> {
        let mut body = String::new();
        while let Some(raw) = self.take() {
            let mut end = trim_newline(raw);
            if chomp {
                end = end.trim_start_matches('\t');
            }
            if end == name {
                return Some(body);
            }
            body.push_str(raw);
        }
        None
    }
}

/// A line without its ending (`\n`, `\r\n`).
fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// Whether `line` ends in a line continuation, and the line without it.
/// The escape character continues the line when it is last (trailing
/// blanks aside) and not itself escaped; like Docker, three escape
/// characters in a row do not continue either.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    let Some(before) = trimmed.strip_suffix(escape) else {
        return (line, false);
    };
    if before.ends_with(escape) {
        return (line, false);
    }
    (before, true)
}

/// Parser directives (`# syntax=...`, `# escape=...`, `# check=...`):
/// honoured only in the comment lines at the very top; the first line
/// that is not one (an instruction, a blank line, any other comment)
/// ends them, and later ones are plain comments.
#[derive(Debug)]
pub(super) struct Directives {
    done: bool,
    seen: Vec<String>,
    pub escape: char,
    pub syntax: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            done: false,
            seen: Vec::new(),
            escape: '\\',
            syntax: None,
        }
    }
}

/// RE2's `\s`, which Docker's directive pattern uses.
const RE_SPACE: [char; 5] = [' ', '\t', '\n', '\x0c', '\r'];

impl Directives {
    /// Looks at one line (without its ending); errors are Docker's.
    pub fn feed(&mut self, line: &str) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        let Some((key, value)) = directive(line) else {
            self.done = true;
            return Ok(());
        };
        let key = key.to_ascii_lowercase();
        if !matches!(key.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&key) {
            return Err(format!("only one {key} parser directive can be used"));
        }
        match key.as_str() {
            "escape" => match value {
                "\\" => self.escape = '\\',
                "`" => self.escape = '`',
                _ => {
                    return Err(format!(
                        "invalid escape token '{value}' does not match ` or \\"
                    ))
                }
            },
            "syntax" => self.syntax = Some(value.to_string()),
            // `check` configures Docker's linter, which skiff lacks.
            _ => {}
        }
        self.seen.push(key);
        Ok(())
    }
}

/// Splits `#key=value` (blanks allowed around `#`'s content and `=`)
/// into its key and value, as Docker's directive pattern does.
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let key_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if key_len == 0 {
        return None;
    }
    let (key, rest) = rest.split_at(key_len);
    let after = rest.trim_start_matches(RE_SPACE).strip_prefix('=')?;
    let value = after
        .trim_start_matches(RE_SPACE)
        .trim_end_matches(RE_SPACE);
    if !value.is_empty() {
        return Some((key, value));
    }
    // Only blanks after `=`: the pattern's lazy value takes the last one.
    let last = after.chars().last()?;
    Some((key, &after[after.len() - last.len_utf8()..]))
}
