//! `WWW-Authenticate` challenges (RFC 7235): `Bearer realm="...",
//! service="...",scope="repository:a/b:pull,push"`, `Basic realm="..."`.
//!
//! Hand-written because the values are quoted strings that may hold
//! commas (the scope above) and escaped quotes, and one header may carry
//! several challenges (`Basic realm="a", Bearer realm="b"`).

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lowercased: `basic`, `bearer`.
    pub scheme: String,
    /// Parameters with lowercased names.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parse every challenge of one header value. Malformed pieces are skipped
/// rather than failing the whole header: a registry's odd extension must
/// not hide the Bearer challenge next to it.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        p.skip_ws_commas();
        let Some(scheme) = p.token() else { break };
        let mut ch = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: BTreeMap::new(),
        };
        // Parameters: name "=" (token | quoted-string), comma separated.
        // A token not followed by '=' starts the next challenge.
        loop {
            p.skip_ws_commas();
            let save = p.i;
            let Some(name) = p.token() else { break };
            p.skip_ws();
            if !p.eat(b'=') {
                p.i = save;
                break;
            }
            // token68 (`Negotiate abc==`): a token ending in '='s; the value
            // after it is missing, so there is nothing to keep.
            p.skip_ws();
            let value = if p.peek() == Some(b'"') {
                p.quoted()
            } else {
                p.token().unwrap_or_default()
            };
            ch.params.insert(name.to_ascii_lowercase(), value);
        }
        out.push(ch);
    }
    out
}

/// The challenge to answer among several headers: Bearer first (it can
/// work anonymously), then Basic.
pub fn pick<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    let all: Vec<Challenge> = headers.into_iter().flat_map(parse).collect();
    let find = |s: &str| all.iter().find(|c| c.scheme == s).cloned();
    find("bearer").or_else(|| find("basic"))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn skip_ws_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }
    /// RFC 7230 tchar run; `/` and `:` are let through too, as some
    /// registries send unquoted URLs as values.
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(b) = self.peek() {
            let ok = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&b);
            if !ok {
                break;
            }
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    /// A quoted string with backslash escapes; an unterminated one runs to
    /// the end.
    fn quoted(&mut self) -> String {
        let mut out = Vec::new();
        self.i += 1; // opening quote
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.i += 1;
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_with_comma_in_scope() {
        let c = parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(
            c[0].param("scope"),
            Some("repository:samalba/my-app:pull,push")
        );
    }

    #[test]
    fn basic_and_several() {
        let c = parse(r#"Basic realm="Registry Realm""#);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some("Registry Realm"));

        let c = parse(r#"Basic realm="a, b", Bearer realm="https://x/t", service=svc"#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].param("realm"), Some("a, b"));
        assert_eq!(c[1].scheme, "bearer");
        assert_eq!(c[1].param("service"), Some("svc"));
        assert_eq!(
            pick([r#"Basic realm="a""#, r#"Bearer realm="b""#])
                .unwrap()
                .scheme,
            "bearer"
        );
        assert_eq!(pick([r#"Basic realm="a""#]).unwrap().scheme, "basic");
        assert_eq!(pick(["Negotiate"]), None);
    }

    #[test]
    fn odd_inputs() {
        let c = parse(r#"BEARER Realm = "q\"uote\\d" ,  error="insufficient_scope""#);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some(r#"q"uote\d"#));
        assert_eq!(c[0].param("error"), Some("insufficient_scope"));
        assert_eq!(parse(""), vec![]);
        assert_eq!(parse("   ,, "), vec![]);
        let c = parse(r#"Bearer realm="unterminated"#);
        assert_eq!(c[0].param("realm"), Some("unterminated"));
        let c = parse("Bearer realm=https://h:5001/auth,service=x");
        assert_eq!(c[0].param("realm"), Some("https://h:5001/auth"));
        assert_eq!(c[0].param("service"), Some("x"));
        let c = parse("Bearer");
        assert_eq!(c[0].scheme, "bearer");
        assert!(c[0].params.is_empty());
    }
}
