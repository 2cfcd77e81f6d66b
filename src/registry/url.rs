//! The few URL operations the Distribution API needs: resolving a
//! `Location` against the request URL, adding query parameters, reading a
//! `Link: <...>; rel="next"` header, and comparing origins.

/// Percent-encode a query value (RFC 3986 unreserved characters kept).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `url` plus `k=v` pairs, with `?` or `&` as the URL needs.
pub(crate) fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = url.to_string();
    for (k, v) in pairs {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(k);
        out.push('=');
        out.push_str(&escape(v));
    }
    out
}

/// `scheme://authority` of an absolute URL.
pub(crate) fn origin(url: &str) -> &str {
    let Some(i) = url.find("://") else { return url };
    let rest = &url[i + 3..];
    let end = rest.find(['/', '?', '#']).map_or(url.len(), |j| i + 3 + j);
    &url[..end]
}

/// Resolve a `Location` (absolute, scheme-relative, absolute-path or
/// relative) against the URL of the request that returned it.
pub(crate) fn resolve(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = base.split("://").next().unwrap_or("https");
        return format!("{scheme}://{rest}");
    }
    let origin = origin(base);
    if location.starts_with('/') {
        return format!("{origin}{location}");
    }
    // Relative to the base's directory; the query does not count.
    let path = &base[origin.len()..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    format!("{origin}{dir}{location}")
}

/// The target of `rel="next"` in a `Link` header, if any.
pub(crate) fn link_next(header: &str) -> Option<String> {
    for part in header.split(',') {
        let part = part.trim();
        let (target, params) = part.split_once(';').unwrap_or((part, ""));
        let Some(target) = target
            .trim()
            .strip_prefix('<')
            .and_then(|t| t.strip_suffix('>'))
        else {
            continue;
        };
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        if is_next {
            return Some(target.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            escape("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(escape("sha256:ab"), "sha256%3Aab");
        assert_eq!(
            with_query("http://h/u?_state=x", &[("digest", "sha256:1")]),
            "http://h/u?_state=x&digest=sha256%3A1"
        );
        assert_eq!(
            with_query("http://h/u", &[("a", "1"), ("b", "2")]),
            "http://h/u?a=1&b=2"
        );
    }

    #[test]
    fn resolves() {
        let base = "https://r.io:5000/v2/a/blobs/uploads/?x=1";
        assert_eq!(resolve(base, "https://s3/x"), "https://s3/x");
        assert_eq!(resolve(base, "//cdn/x"), "https://cdn/x");
        assert_eq!(
            resolve(base, "/v2/a/blobs/uploads/u1?_state=s"),
            "https://r.io:5000/v2/a/blobs/uploads/u1?_state=s"
        );
        assert_eq!(
            resolve(base, "u2"),
            "https://r.io:5000/v2/a/blobs/uploads/u2"
        );
        assert_eq!(origin("http://h:1/p?q"), "http://h:1");
        assert_eq!(origin("http://h:1"), "http://h:1");
        assert_eq!(origin("http://h?q"), "http://h");
    }

    #[test]
    fn links() {
        assert_eq!(
            link_next(r#"</v2/a/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?last=b&n=2")
        );
        assert_eq!(
            link_next(r#"<x>; rel="prev", <y>; rel=next"#).as_deref(),
            Some("y")
        );
        assert_eq!(link_next(r#"<x>; rel="prev""#), None);
        assert_eq!(link_next("garbage"), None);
    }
}
