//! Docker's word processing (BuildKit's `shell.Lex`): quote removal,
//! escapes and `$VAR` substitution, applied to a Containerfile's words
//! when each step runs.
//!
//! It is not a shell: there is no command substitution, globbing or
//! arithmetic, and the quoting rules are Docker's, which differ from
//! POSIX in places (a backslash inside double quotes escapes only `"`,
//! `$` and itself; a backtick escape directive makes `` ` `` the escape
//! character and leaves `\` literal, so `C:\path` survives). The
//! `${...}` forms are the ones BuildKit supports: `-`, `+`, `?` (each
//! also with `:`), `#`, `##`, `%`, `%%`, `/` and `//`. Unset variables
//! expand to nothing.

use anyhow::{anyhow, Result};

#[path = "expand_pattern.rs"]
mod pattern;

#[cfg(test)]
#[path = "expand_tests.rs"]
mod tests;

/// Expands one word: quotes removed, escapes applied, variables
/// substituted; spaces inside it are kept (`ENV`, `WORKDIR`, `COPY`
/// paths, `USER`, `LABEL` values, ...). `lookup` returns `Some` for a
/// set variable (even when empty) and `None` for an unset one.
pub fn word(raw: &str, escape: char, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    process(raw, escape, Options::default(), lookup).map(|(word, _)| word)
}

/// Expands like [`word`], then splits the result into fields at
/// whitespace outside quotes, as Docker does for `EXPOSE` (`EXPOSE
/// $PORTS` with `PORTS="80 443"` gives two ports). Text a variable
/// expands to is split too, even inside `${VAR:-...}`; empty fields are
/// dropped.
pub fn words(
    raw: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    process(raw, escape, Options::default(), lookup).map(|(_, words)| words)
}

/// Expands the body of a heredoc whose delimiter was not quoted (`COPY
/// <<EOF`): variables are substituted and `\` escapes applied, but
/// quotes are left alone, since they belong to the file's text. This is
/// BuildKit's rule for heredoc files, whatever the escape directive
/// says. (A `RUN` heredoc is not expanded here: the shell that runs it
/// does that.)
pub fn heredoc_body(body: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let opts = Options {
        skip_quotes: true,
        ..Options::default()
    };
    process(body, '\\', opts, lookup).map(|(word, _)| word)
}

/// The lexer's switches (BuildKit's `Lex` fields of the same names).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape characters in the output.
    pub raw_escapes: bool,
    /// Treat quotes as ordinary characters.
    pub skip_quotes: bool,
    /// Leave unset variables as written (`$X`, `${X:-y}`).
    pub skip_unset: bool,
}

/// Runs the lexer over `raw`: the whole expanded text and its fields.
/// Errors read like Docker's: `failed to process "${X:?}": X: is not
/// allowed to be unset`.
pub(crate) fn process(
    raw: &str,
    escape: char,
    opts: Options,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<String>)> {
    let mut lexer = Lexer {
        chars: raw.chars().collect(),
        pos: 0,
        escape,
        opts,
        raw_escapes: opts.raw_escapes,
        lookup,
    };
    lexer
        .until(None, opts.raw_escapes)
        .map_err(|msg| anyhow!("failed to process {raw:?}: {msg}"))
}

/// Fields being collected: whitespace from plain text or a variable's
/// value ends a field, quoted or escaped text never does.
#[derive(Default)]
struct Fields {
    done: Vec<String>,
    current: String,
    in_word: bool,
}

impl Fields {
    fn add_char(&mut self, ch: char) {
        if !ch.is_whitespace() {
            self.add_raw_char(ch);
        } else if self.in_word && !self.current.is_empty() {
            self.done.push(std::mem::take(&mut self.current));
            self.in_word = false;
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.current.push(ch);
        self.in_word = true;
    }

    fn add_str(&mut self, s: &str) {
        s.chars().for_each(|ch| self.add_char(ch));
    }

    fn add_raw_str(&mut self, s: &str) {
        self.current.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.current.is_empty() {
            self.done.push(self.current);
        }
        self.done
    }
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    opts: Options,
    /// Whether escapes are kept right now: `${X#pattern}` and
    /// `${X/a/b}` keep them so the pattern can tell `\*` from `*`.
    raw_escapes: bool,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

type Step<T> = std::result::Result<T, String>;

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let ch = self.peek();
        if ch.is_some() {
            self.pos += 1;
        }
        ch
    }

    /// Reads up to `stop` (consumed) or the end of input: the text and
    /// its fields.
    fn until(&mut self, stop: Option<char>, raw_escapes: bool) -> Step<(String, Vec<String>)> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let out = self.until_inner(stop);
        self.raw_escapes = saved;
        out
    }

    fn until_inner(&mut self, stop: Option<char>) -> Step<(String, Vec<String>)> {
        let mut result = String::new();
        let mut fields = Fields::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.pos += 1;
                return Ok((result, fields.finish()));
            }
            if ch == '$' {
                let value = self.dollar()?;
                result.push_str(&value);
                fields.add_str(&value);
                continue;
            }
            if !self.opts.skip_quotes && (ch == '\'' || ch == '"') {
                let value = if ch == '\'' {
                    self.single_quoted()?
                } else {
                    self.double_quoted()?
                };
                result.push_str(&value);
                fields.add_raw_str(&value);
                continue;
            }
            self.pos += 1;
            if ch != self.escape {
                fields.add_char(ch);
                result.push(ch);
                continue;
            }
            if self.raw_escapes {
                fields.add_raw_char(ch);
                result.push(ch);
            }
            // An escape at the very end escapes nothing and is dropped.
            let Some(escaped) = self.next() else { break };
            fields.add_raw_char(escaped);
            result.push(escaped);
        }
        match stop {
            Some(stop) => Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            )),
            None => Ok((result, fields.finish())),
        }
    }

    /// `'...'`: everything literal, no escapes at all.
    fn single_quoted(&mut self) -> Step<String> {
        let mut out = String::new();
        let quote = self.next();
        if self.opts.raw_quotes {
            out.extend(quote);
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => {
                    if self.opts.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(ch) => out.push(ch),
            }
        }
    }

    /// `"..."`: variables expand; the escape character escapes only `"`,
    /// `$` and itself and is otherwise literal (Docker's rule, narrower
    /// than POSIX's).
    fn double_quoted(&mut self) -> Step<String> {
        let mut out = String::new();
        let quote = self.next();
        if self.opts.raw_quotes {
            out.extend(quote);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.pos += 1;
                    if self.opts.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => {
                    let value = self.dollar()?;
                    out.push_str(&value);
                }
                Some(ch) => {
                    self.pos += 1;
                    if ch != self.escape {
                        out.push(ch);
                        continue;
                    }
                    match self.peek() {
                        None => {}
                        Some(next) if next == '"' || next == '$' || next == self.escape => {
                            self.pos += 1;
                            if self.raw_escapes {
                                out.push(ch);
                            }
                            out.push(next);
                        }
                        Some(_) => out.push(ch),
                    }
                }
            }
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// `$NAME`, `${NAME}` and `${NAME<modifier>...}`, the `$` next.
    fn dollar(&mut self) -> Step<String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.get(&name) {
                Some(value) => value,
                None if self.opts.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let Some(mut op) = self.next() else {
            return Err("syntax error: missing '}'".into());
        };
        let mut ops = op.to_string();
        let mut null_is_unset = false;
        match op {
            '}' => {
                return Ok(match self.get(&name) {
                    Some(value) => value,
                    None if self.opts.skip_unset => format!("${{{name}}}"),
                    None => String::new(),
                })
            }
            '/' => return self.replace(&name),
            ':' => {
                null_is_unset = true;
                let Some(next) = self.next() else {
                    return Err("syntax error: missing '}'".into());
                };
                op = next;
                ops.push(op);
            }
            '+' | '-' | '?' | '#' | '%' => {}
            _ => return Err(format!("unsupported modifier ({ops}) in substitution")),
        }
        let is_pattern = op == '#' || op == '%';
        if null_is_unset && is_pattern {
            return Err(format!("unsupported modifier ({ops}) in substitution"));
        }
        let (mut word, _) = self
            .until(Some('}'), is_pattern)
            .map_err(|e| self.missing(e, '}'))?;
        let value = self.get(&name);
        if self.opts.skip_unset && value.is_none() {
            return Ok(format!("${{{name}{ops}{word}}}"));
        }
        // `:` makes an empty value count as unset.
        let set = value
            .as_deref()
            .is_some_and(|v| !(null_is_unset && v.is_empty()));
        match op {
            '-' => Ok(if set { value.unwrap_or_default() } else { word }),
            '+' => Ok(if set { word } else { String::new() }),
            '?' if set => Ok(value.unwrap_or_default()),
            '?' => {
                let why = match (&value, word.is_empty()) {
                    (_, false) => word,
                    (None, true) => "is not allowed to be unset".into(),
                    (Some(_), true) => "is not allowed to be empty".into(),
                };
                Err(format!("{name}: {why}"))
            }
            '#' | '%' => {
                let longest = word.starts_with(op);
                if longest {
                    word.remove(0);
                }
                let value = value.unwrap_or_default();
                let trimmed = if op == '#' {
                    pattern::trim_prefix(&value, &word, longest)
                } else {
                    pattern::trim_suffix(&value, &word, longest)
                };
                trimmed.map_err(|e| format!("invalid pattern ({word}) in substitution: {e}"))
            }
            _ => Err(format!("unsupported modifier ({ops}) in substitution")),
        }
    }

    /// `${NAME/pattern/replacement}` and `${NAME//pattern/replacement}`,
    /// after the first `/`.
    fn replace(&mut self, name: &str) -> Step<String> {
        let all = self.peek() == Some('/');
        if all {
            self.pos += 1;
        }
        let (pat, _) = self
            .until(Some('/'), true)
            .map_err(|e| self.missing(e, '/'))?;
        let (with, _) = self
            .until(Some('}'), true)
            .map_err(|e| self.missing(e, '}'))?;
        let value = self.get(name);
        if self.opts.skip_unset && value.is_none() {
            let slashes = if all { "//" } else { "/" };
            return Ok(format!("${{{name}{slashes}{pat}/{with}}}"));
        }
        pattern::replace(&value.unwrap_or_default(), &pat, &with, all)
            .map_err(|e| format!("invalid pattern ({pat}) in substitution: {e}"))
    }

    /// Docker's wording when a `${...}` runs off the end of the word.
    fn missing(&self, err: String, what: char) -> String {
        if self.peek().is_some() {
            return err;
        }
        match what {
            '/' => "syntax error: missing '/' in ${}".into(),
            _ => "syntax error: missing '}'".into(),
        }
    }

    /// A variable name: letters, digits and `_`; or a run of digits
    /// (`$1`); or one special parameter (`$@`, `$#`, `$?`, ...).
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(digit) = self.peek().filter(char::is_ascii_digit) {
                    name.push(digit);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!') {
                self.pos += 1;
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            name.push(ch);
            self.pos += 1;
        }
        name
    }
}
