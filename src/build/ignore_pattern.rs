//! The two pattern languages a build uses, both after Go:
//!
//! - `Glob`: Go's `filepath.Match`, which `COPY`/`ADD` sources use: `*`
//!   is any run of characters but `/`, `?` one character but `/`,
//!   `[...]` a class (`^` negates; a class may match `/`, as Go's does),
//!   `\` escapes the next character.
//! - `Pattern`: moby/patternmatcher's, which `.dockerignore` and
//!   `COPY --exclude` use: the same, plus `**` for any number of
//!   directories. Docker turns a pattern into a regular expression but
//!   first sorts out three cheap cases (exact name, `prefix**`,
//!   `**suffix`) that match by plain string comparison; those cases
//!   behave a little differently from the expression (`**foo` matches
//!   `xfoo`), so they are kept here as Docker has them.
//!
//! `util::glob::path_match` is close to the first, but takes `!` as a
//! negation Go does not know and does not report malformed patterns,
//! which Docker refuses with "syntax error in pattern".

use anyhow::{bail, Result};

/// One piece of a compiled pattern.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    /// `*`: any run without `/`.
    Star,
    /// `?`: one character but `/`.
    One,
    /// `[...]`: one character in (or, negated, not in) the ranges.
    Class {
        neg: bool,
        ranges: Vec<(char, char)>,
    },
    /// `**` followed by more: `(.*/)?`, nothing or anything ending in `/`.
    AnyDirs,
    /// `**` at the end of a pattern that is not a plain prefix: `.*`.
    AnyAll,
}

/// A compiled `filepath.Match` pattern.
#[derive(Debug, Clone)]
pub struct Glob {
    toks: Vec<Tok>,
}

impl Glob {
    /// Compile `pattern`; a malformed one (an unclosed class, a trailing
    /// `\`) is refused as Go refuses it.
    pub fn new(pattern: &str) -> Result<Glob> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => toks.push(Tok::Star),
                '?' => toks.push(Tok::One),
                '\\' => {
                    i += 1;
                    match chars.get(i) {
                        Some(&c) => toks.push(Tok::Lit(c)),
                        None => bail!("syntax error in pattern {pattern:?}"),
                    }
                }
                '[' => {
                    let (tok, len) = class(&chars[i..], pattern)?;
                    toks.push(tok);
                    i += len;
                    continue;
                }
                c => toks.push(Tok::Lit(c)),
            }
            i += 1;
        }
        Ok(Glob { toks })
    }

    /// Does all of `name` match?
    pub fn matches(&self, name: &str) -> bool {
        match_toks(&self.toks, name)
    }
}

/// Does a path component hold a wildcard (an unescaped `*`, `?`, `[`)?
/// This is how Docker splits a source into its literal directory and the
/// part to expand.
pub fn has_wildcard(component: &str) -> bool {
    let mut chars = component.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// A `.dockerignore` pattern (without its leading `!`), compiled.
#[derive(Debug, Clone)]
pub struct Pattern(Kind);

#[derive(Debug, Clone)]
enum Kind {
    /// No special character: the whole path, exactly.
    Exact(String),
    /// `dir/**` style: anything starting with the text before `**`.
    Prefix(String),
    /// `**/name` style: anything ending with the text after `**`.
    Suffix(String),
    /// Everything else.
    Toks(Vec<Tok>),
}

impl Pattern {
    /// Compile a cleaned pattern. It must also be a valid `filepath.Match`
    /// pattern: Docker checks that first and reports its error.
    pub fn new(pattern: &str) -> Result<Pattern> {
        Glob::new(pattern)?;
        #[derive(PartialEq)]
        enum Ty {
            Exact,
            Prefix,
            Suffix,
            Toks,
        }
        let chars: Vec<char> = pattern.chars().collect();
        let mut ty = Ty::Exact;
        let mut toks = Vec::new();
        let mut i = 0;
        let mut first = true;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' if chars.get(i) == Some(&'*') => {
                    i += 1;
                    // `**/` is taken as `**`.
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    if i >= chars.len() {
                        if ty == Ty::Exact {
                            ty = Ty::Prefix;
                        } else {
                            toks.push(Tok::AnyAll);
                            ty = Ty::Toks;
                        }
                    } else {
                        toks.push(Tok::AnyDirs);
                        ty = Ty::Toks;
                    }
                    if first {
                        ty = Ty::Suffix;
                    }
                }
                '*' => {
                    toks.push(Tok::Star);
                    ty = Ty::Toks;
                }
                '?' => {
                    toks.push(Tok::One);
                    ty = Ty::Toks;
                }
                '\\' => match chars.get(i) {
                    Some(&n) => {
                        toks.push(Tok::Lit(n));
                        i += 1;
                        ty = Ty::Toks;
                    }
                    None => toks.push(Tok::Lit('\\')),
                },
                '[' => {
                    let (tok, len) = class(&chars[i - 1..], pattern)?;
                    toks.push(tok);
                    i += len - 1;
                    ty = Ty::Toks;
                }
                ']' => {
                    toks.push(Tok::Lit(']'));
                    ty = Ty::Toks;
                }
                c => toks.push(Tok::Lit(c)),
            }
            first = false;
        }
        Ok(Pattern(match ty {
            Ty::Exact => Kind::Exact(pattern.to_string()),
            Ty::Prefix => Kind::Prefix(pattern[..pattern.len() - 2].to_string()),
            Ty::Suffix => Kind::Suffix(pattern[2..].to_string()),
            Ty::Toks => Kind::Toks(toks),
        }))
    }

    /// Does the whole slash-separated `path` match?
    pub fn matches(&self, path: &str) -> bool {
        match &self.0 {
            Kind::Exact(p) => path == p,
            Kind::Prefix(p) => path.starts_with(p.as_str()),
            Kind::Suffix(s) => {
                path.ends_with(s.as_str())
                    // `**/foo` matches `foo` itself.
                    || s.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            Kind::Toks(t) => match_toks(t, path),
        }
    }
}

/// Parse the class at the start of `p` (which begins with `[`), with Go's
/// rules: `^` negates, at least one range, `-` and `]` must be escaped
/// where they would start a range. Returns the token and its length.
fn class(p: &[char], whole: &str) -> Result<(Tok, usize)> {
    let bad = || anyhow::anyhow!("syntax error in pattern {whole:?}");
    let mut i = 1;
    let neg = p.get(i) == Some(&'^');
    if neg {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if p.get(i) == Some(&']') && !ranges.is_empty() {
            return Ok((Tok::Class { neg, ranges }, i + 1));
        }
        let (lo, n) = class_char(&p[i..]).ok_or_else(bad)?;
        i += n;
        let mut hi = lo;
        if p.get(i) == Some(&'-') {
            let (h, n) = class_char(&p[i + 1..]).ok_or_else(bad)?;
            hi = h;
            i += 1 + n;
        }
        ranges.push((lo, hi));
        // Go wants something after every range (at least the `]`).
        if i >= p.len() {
            return Err(bad());
        }
    }
}

/// One (maybe escaped) character of a class: Go's `getEsc`.
fn class_char(p: &[char]) -> Option<(char, usize)> {
    match p.first()? {
        '-' | ']' => None,
        '\\' => p.get(1).map(|&c| (c, 2)),
        &c => Some((c, 1)),
    }
}

/// Match the tokens against all of `s`, tracking every position the
/// tokens so far can end at (no backtracking blow-up).
fn match_toks(toks: &[Tok], s: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let n = s.len();
    let mut cur = vec![false; n + 1];
    cur[0] = true;
    for tok in toks {
        let mut next = vec![false; n + 1];
        let mut any = false;
        for si in 0..=n {
            if !cur[si] {
                continue;
            }
            match tok {
                Tok::Lit(c) => {
                    if s.get(si) == Some(c) {
                        next[si + 1] = true;
                    }
                }
                Tok::One => {
                    if s.get(si).is_some_and(|&c| c != '/') {
                        next[si + 1] = true;
                    }
                }
                Tok::Class { neg, ranges } => {
                    if let Some(&c) = s.get(si) {
                        let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                        if inside != *neg {
                            next[si + 1] = true;
                        }
                    }
                }
                Tok::Star => {
                    next[si] = true;
                    let mut k = si;
                    while k < n && s[k] != '/' {
                        k += 1;
                        next[k] = true;
                    }
                }
                Tok::AnyAll => next[si..].iter_mut().for_each(|x| *x = true),
                Tok::AnyDirs => {
                    next[si] = true;
                    for k in si..n {
                        if s[k] == '/' {
                            next[k + 1] = true;
                        }
                    }
                }
            }
        }
        for &x in &next {
            any |= x;
        }
        if !any {
            return false;
        }
        cur = next;
    }
    cur[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str, s: &str) -> bool {
        Glob::new(p).unwrap().matches(s)
    }

    fn pat(p: &str, s: &str) -> bool {
        Pattern::new(p).unwrap().matches(s)
    }

    #[test]
    fn go_filepath_match() {
        assert!(glob("abc", "abc"));
        assert!(glob("*", "abc"));
        assert!(glob("*c", "abc"));
        assert!(glob("a*", "a"));
        assert!(!glob("a*", "ab/c"));
        assert!(glob("a*/b", "abc/b"));
        assert!(!glob("a*/b", "a/c/b"));
        assert!(glob("a*b*c*d*e*/f", "axbxcxdxe/f"));
        assert!(!glob("a*b?c*x", "abxbbxdbxebxczzy"));
        assert!(glob("ab[c]", "abc"));
        assert!(glob("ab[b-d]", "abc"));
        assert!(!glob("ab[^c]", "abc"));
        assert!(glob("ab[^e-g]", "abc"));
        assert!(glob("a\\*b", "a*b"));
        assert!(!glob("a\\*b", "ab"));
        assert!(glob("a?b", "a☺b"));
        assert!(!glob("a?b", "a/b"));
        assert!(glob("[\\-]", "-"));
        assert!(glob("[x\\-]", "x"));
        assert!(!glob("[x\\-]", "z"));
        // `!` is no negation in Go: a class holding `!` and `a`.
        assert!(glob("[!a]", "!"));
        assert!(!glob("[!a]", "b"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for p in ["[", "[^", "[]a]", "[-]", "[x-]", "[a-b-c]x[", "a\\", "[\\"] {
            assert!(Glob::new(p).is_err(), "{p}");
            assert!(Pattern::new(p).is_err(), "{p}");
        }
        // Go takes a `-` after a range as the start of a bad one.
        assert!(Glob::new("[a-b-c]").is_err());
        assert!(Glob::new("[a-c]").is_ok());
    }

    #[test]
    fn wildcards_are_found_unless_escaped() {
        assert!(has_wildcard("*.txt"));
        assert!(has_wildcard("a[bc]"));
        assert!(has_wildcard("a?"));
        assert!(!has_wildcard("plain.txt"));
        assert!(!has_wildcard("a\\*b"));
    }

    #[test]
    fn docker_patterns() {
        // From moby/patternmatcher's own table, rewritten.
        assert!(pat("**", "file"));
        assert!(pat("**", "file/"));
        assert!(pat("**", "/"));
        assert!(pat("**", "dir/file"));
        assert!(pat("**/**", "dir/file"));
        assert!(pat("**/**", "dir/file/"));
        assert!(pat("**/file", "dir/file"));
        assert!(pat("**/file*", "dir/dir/file"));
        assert!(pat("**/file*", "dir/dir/file.txt"));
        assert!(pat("**/file*txt", "dir/dir/file.txt"));
        assert!(pat("**/file*.txt", "dir/dir/file.txt"));
        assert!(pat("**/**/*.txt", "dir/dir/file.txt"));
        assert!(!pat("**/**/*.txt2", "dir/dir/file.txt"));
        assert!(pat("**/*.txt", "file.txt"));
        assert!(pat("**/**/*.txt", "file.txt"));
        assert!(pat("a**/*.txt", "a/file.txt"));
        assert!(pat("a**/*.txt", "a/dir/file.txt"));
        assert!(pat("a**/*.txt", "a/dir/dir/file.txt"));
        assert!(!pat("a/*.txt", "a/dir/file.txt"));
        assert!(pat("a/*.txt", "a/file.txt"));
        assert!(pat("a/*.txt**", "a/file.txt"));
        assert!(pat("a[b-d]e", "ace"));
        assert!(!pat("a[b-d]e", "aae"));
        assert!(pat("a?c", "abc"));
        assert!(!pat("a?c", "a/c"));
        assert!(pat("abc.def", "abc.def"));
        assert!(!pat("abc.def", "abcZdef"));
        assert!(pat("abc?def", "abcZdef"));
        assert!(pat("**/foo/bar", "foo/bar"));
        assert!(pat("**/foo/bar", "dir/foo/bar"));
        assert!(pat("**/foo/bar", "dir/dir2/foo/bar"));
        assert!(pat("abc/**", "abc/def"));
        assert!(pat("abc/**", "abc/def/ghi"));
        assert!(!pat("abc/**", "abc"));
        assert!(pat("**/.foo", ".foo"));
        assert!(!pat("**/.foo", "bar.foo"));
        assert!(pat("a(b)c/def", "a(b)c/def"));
        assert!(pat("a.|)$(}+{bc", "a.|)$(}+{bc"));
        assert!(pat(
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"
        ));
        // The string-compare shortcut: `**foo` ends with `foo`.
        assert!(pat("**foo", "xfoo"));
        assert!(pat("pkg/**/a", "pkg/a"));
        assert!(pat("pkg/**/a", "pkg/x/y/a"));
        assert!(!pat("pkg/**/a", "pkg/xa"));
    }
}
