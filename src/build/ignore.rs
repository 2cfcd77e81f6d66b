//! `.dockerignore` / `.containerignore` files and `COPY --exclude`, with
//! Docker's rules (moby/patternmatcher and its `ignorefile` reader, as
//! BuildKit's context transfer applies them):
//!
//! - one pattern a line; a line starting with `#` is a comment, blank
//!   lines are skipped, surrounding white space is trimmed;
//! - patterns are cleaned like Go's `filepath.Clean`, and a leading `/`
//!   (or `./`) is dropped: every pattern is relative to the context root;
//! - `*`, `?`, `[...]` and `\` as in Go's `filepath.Match`, and `**` for
//!   any number of directories;
//! - `!pattern` re-includes what earlier patterns excluded: the last
//!   pattern that matches a path decides;
//! - a pattern that matches a directory excludes everything below it,
//!   unless a later `!` pattern takes some of it back, in which case the
//!   directory is still walked (and kept, for the sake of what is inside).
//!
//! There is no "directories only" form: Docker strips a trailing `/`.

#[path = "ignore_pattern.rs"]
mod pattern;

/// Go's `filepath.Match`, which COPY sources use too.
pub use pattern::{has_wildcard, Glob};

use anyhow::{bail, Context, Result};
use pattern::Pattern;

/// One rule of an ignore file.
#[derive(Debug, Clone)]
struct Rule {
    /// The cleaned pattern, without its `!`.
    text: String,
    /// A `!` rule: re-includes.
    exception: bool,
    pattern: Pattern,
}

/// A compiled list of ignore patterns.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    rules: Vec<Rule>,
    /// Some rule is an exception.
    exceptions: bool,
    /// Every exception is a plain path (maybe ending in `/*` or `/**`),
    /// so whether one can re-include something under a directory can be
    /// told from the text alone.
    plain_exceptions: bool,
}

/// What the patterns said about a directory, handed down to its entries
/// while walking (a pattern that matched a directory matches everything
/// in it): moby/patternmatcher's `MatchInfo`.
#[derive(Debug, Clone, Default)]
pub struct MatchState(Vec<bool>);

impl Matcher {
    /// Compile the text of an ignore file.
    pub fn parse(text: &str) -> Result<Matcher> {
        Matcher::new(&read_lines(text)).context("parse the ignore file")
    }

    /// Compile patterns as `COPY --exclude` gives them (each trimmed and
    /// cleaned, `!` for an exception), with Docker's errors for a bare `!`
    /// or a malformed pattern.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Matcher> {
        let mut m = Matcher {
            plain_exceptions: true,
            ..Matcher::default()
        };
        for p in patterns {
            let p = p.as_ref().trim();
            if p.is_empty() {
                continue;
            }
            let p = go_clean(p);
            let (exception, text) = match p.strip_prefix('!') {
                Some("") => bail!("illegal exclusion pattern: \"!\""),
                Some(rest) => (true, rest.to_string()),
                None => (false, p),
            };
            let pattern = Pattern::new(&text)?;
            if exception {
                m.exceptions = true;
                if without_trailing_glob(&text).contains(['*', '[', ']', '?', '^', '\\']) {
                    m.plain_exceptions = false;
                }
            }
            m.rules.push(Rule {
                text,
                exception,
                pattern,
            });
        }
        Ok(m)
    }

    /// No patterns at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The patterns as cleaned, exceptions with their `!`, in order (for
    /// cache keys and messages).
    pub fn patterns(&self) -> impl Iterator<Item = String> + '_ {
        self.rules.iter().map(|r| {
            if r.exception {
                format!("!{}", r.text)
            } else {
                r.text.clone()
            }
        })
    }

    /// Is `rel` (a slash-separated path relative to the root) excluded?
    /// The root itself never is. Every directory on the way is taken into
    /// account, exactly as a walk from the root sees it.
    pub fn excluded(&self, rel: &str) -> bool {
        self.check_path(rel).0
    }

    /// [`Matcher::excluded`], plus the state a walk would hand to `rel`'s
    /// entries.
    pub fn check_path(&self, rel: &str) -> (bool, MatchState) {
        let rel = rel_clean(rel);
        let mut state = MatchState::default();
        if rel.is_empty() || self.rules.is_empty() {
            return (false, state);
        }
        let mut out = false;
        let mut end = 0;
        while end < rel.len() {
            end = rel[end..].find('/').map_or(rel.len(), |i| end + i);
            (out, state) = self.check(&rel[..end], &state);
            end += 1;
        }
        (out, state)
    }

    /// Is `rel` excluded, given what the patterns said about its parent
    /// directory (`MatchState::default()` for an entry of the root)? Also
    /// returns the state to hand to `rel`'s own entries when it is a
    /// directory. A walk calls this once per entry, top down.
    pub fn check(&self, rel: &str, parent: &MatchState) -> (bool, MatchState) {
        let mut state = vec![false; self.rules.len()];
        let mut matched = false;
        for (i, r) in self.rules.iter().enumerate() {
            let mut m = parent.0.get(i).copied().unwrap_or(false);
            if !m {
                // An exclusion cannot change an excluded path, an
                // exception only an excluded one: skip the comparison.
                if r.exception != matched {
                    continue;
                }
                m = r.pattern.matches(rel);
            }
            state[i] = m;
            if m {
                matched = !r.exception;
            }
        }
        (matched, MatchState(state))
    }

    /// For a directory found excluded: can its walk be skipped, i.e. can
    /// no exception bring back anything below it? False whenever an
    /// exception has wildcards (Docker walks the directory then).
    pub fn may_skip_dir(&self, rel: &str) -> bool {
        if !self.exceptions {
            return true;
        }
        if !self.plain_exceptions {
            return false;
        }
        let dir = format!("{}/", rel_clean(rel));
        !self
            .rules
            .iter()
            .filter(|r| r.exception)
            .any(|r| format!("{}/", without_trailing_glob(&r.text)).starts_with(&dir))
    }
}

/// An ignore file's lines turned into patterns: moby's `ignorefile.ReadAll`.
fn read_lines(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        // Only a `#` in the very first column starts a comment.
        if line.starts_with('#') {
            continue;
        }
        let mut p = line.trim();
        if p.is_empty() {
            continue;
        }
        let invert = p.starts_with('!');
        if invert {
            p = p[1..].trim();
        }
        let mut p = p.to_string();
        if !p.is_empty() {
            p = go_clean(&p);
            if p.len() > 1 && p.starts_with('/') {
                p.remove(0);
            }
        }
        out.push(if invert { format!("!{p}") } else { p });
    }
    out
}

/// A pattern without a trailing `/**` or `/*`: the directory it is about.
fn without_trailing_glob(p: &str) -> &str {
    let p = p.strip_suffix("/**").unwrap_or(p);
    p.strip_suffix("/*").unwrap_or(p)
}

/// A path as the matcher wants it: relative, no `./`, no trailing `/`.
fn rel_clean(rel: &str) -> String {
    let c = go_clean(rel);
    let c = c.trim_start_matches('/');
    if c == "." {
        String::new()
    } else {
        c.to_string()
    }
}

/// Go's `path.Clean`: one `/` between elements, no `.`, `..` folded where
/// it can be, `.` for an empty result.
pub fn go_clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for e in p.split('/') {
        match e {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            e => parts.push(e),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Matcher {
        Matcher::parse(text).unwrap()
    }

    #[test]
    fn cleans_like_go() {
        assert_eq!(go_clean("./a//b/../c/"), "a/c");
        assert_eq!(go_clean("/../a"), "/a");
        assert_eq!(go_clean("../a"), "../a");
        assert_eq!(go_clean(""), ".");
        assert_eq!(go_clean("/"), "/");
        assert_eq!(go_clean("a/.."), ".");
    }

    #[test]
    fn reads_lines_as_docker_does() {
        let lines = read_lines(
            "\u{feff}# comment\n\n  /abs/path  \n./rel\n!  /keep/me\n #not a comment\nx/\n/\n",
        );
        assert_eq!(
            lines,
            vec!["abs/path", "rel", "!keep/me", "#not a comment", "x", "/"]
        );
        assert!(Matcher::parse("!\n").is_err());
        assert!(Matcher::parse("[\n").is_err());
        assert!(Matcher::new(&["a["]).is_err());
    }

    #[test]
    fn plain_patterns_and_parents() {
        let i = m("node_modules\n*.log\nbuild/**\n");
        assert!(i.excluded("node_modules"));
        assert!(i.excluded("node_modules/x/y.js"));
        assert!(!i.excluded("src/node_modules"));
        assert!(i.excluded("debug.log"));
        assert!(!i.excluded("logs/debug.log"));
        assert!(i.excluded("build/out/a.o"));
        assert!(!i.excluded("build"));
        assert!(!i.excluded(""));
        assert!(!i.excluded("."));
        assert!(i.excluded("./debug.log"));
        assert!(i.may_skip_dir("node_modules"));
    }

    #[test]
    fn double_star_any_depth() {
        let i = m("**/*.tmp\n**/cache\n");
        assert!(i.excluded("a.tmp"));
        assert!(i.excluded("x/y/z.tmp"));
        assert!(i.excluded("cache"));
        assert!(i.excluded("deep/er/cache/file"));
        assert!(!i.excluded("x/y/z.tmpl"));
    }

    #[test]
    fn exceptions_last_match_wins() {
        let i = m("*.md\n!README.md\nREADME*.md\n");
        assert!(i.excluded("CHANGES.md"));
        // The later `README*.md` excludes it again.
        assert!(i.excluded("README.md"));
        let i = m("*.md\n!README.md\n");
        assert!(!i.excluded("README.md"));
        assert!(i.excluded("other.md"));
    }

    #[test]
    fn exception_under_excluded_directory() {
        let i = m("docs\n!docs/keep\n");
        assert!(i.excluded("docs"));
        assert!(!i.excluded("docs/keep"));
        assert!(!i.excluded("docs/keep/inner.txt"));
        assert!(i.excluded("docs/other.txt"));
        // The directory must be walked for `docs/keep`; `docs/other` not.
        assert!(!i.may_skip_dir("docs"));
        assert!(i.may_skip_dir("docs/other"));
        // A wildcard exception: nothing can be skipped.
        let i = m("docs\n!docs/**/*.md\n");
        assert!(!i.may_skip_dir("docs"));
        assert!(!i.may_skip_dir("docs/sub"));
        assert!(!i.excluded("docs/sub/a.md"));
        assert!(i.excluded("docs/sub/a.txt"));
    }

    #[test]
    fn everything_but() {
        let i = m("*\n!src\n!Makefile\n");
        assert!(i.excluded("secret.key"));
        assert!(!i.excluded("src"));
        assert!(!i.excluded("src/main.c"));
        assert!(!i.excluded("Makefile"));
        assert!(i.may_skip_dir("vendor"));
        assert!(!i.may_skip_dir("src"));
    }

    #[test]
    fn escapes_and_classes() {
        let i = m("a\\*b\nfile[0-9].txt\n");
        assert!(i.excluded("a*b"));
        assert!(!i.excluded("axb"));
        assert!(i.excluded("file3.txt"));
        assert!(!i.excluded("filex.txt"));
    }

    #[test]
    fn walk_state_matches_whole_path_check() {
        let i = m("a\n!a/b\na/b/c\n");
        let (ex_a, sa) = i.check("a", &MatchState::default());
        assert!(ex_a);
        let (ex_b, sb) = i.check("a/b", &sa);
        assert!(!ex_b);
        let (ex_c, _) = i.check("a/b/c", &sb);
        assert!(ex_c);
        assert_eq!(i.excluded("a/b/c"), ex_c);
        assert!(!i.excluded("a/b/d"));
        assert_eq!(
            i.patterns().collect::<Vec<_>>(),
            vec!["a".to_string(), "!a/b".into(), "a/b/c".into()]
        );
    }
}
