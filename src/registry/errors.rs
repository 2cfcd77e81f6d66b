//! Turning what the wire says into errors people can act on: registry
//! status codes and JSON error bodies into kinds and Docker's wording,
//! transport failures into short causes (`connection refused`,
//! `certificate verify failed: ...`).

use crate::error::{kind_err, ErrorKind};
use serde::Deserialize;
use std::io;

/// What a request was about, for the wording of a 404.
pub(crate) enum Object<'a> {
    Manifest { repo: &'a str, reference: &'a str },
    Blob { repo: &'a str, digest: &'a str },
    Repo(&'a str),
    Upload { repo: &'a str },
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ApiError>,
    /// Docker Hub's token endpoint says `{"details": "..."}` instead.
    #[serde(default)]
    details: Option<String>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The registry's own account of an error, worded as Docker prints it:
/// `<code lowercased, '_' as ' '>: <message>`, several joined by "; ".
/// Returns the first code too (e.g. `NAME_UNKNOWN`).
pub(crate) fn registry_message(body: &[u8]) -> Option<(String, String)> {
    let b: ErrorBody = serde_json::from_slice(body).ok()?;
    if b.errors.is_empty() {
        return b
            .details
            .filter(|d| !d.is_empty())
            .map(|d| (String::new(), d));
    }
    let first = b.errors[0].code.clone();
    let msgs: Vec<String> = b
        .errors
        .iter()
        .map(|e| {
            let code = e.code.to_ascii_lowercase().replace('_', " ");
            match (code.is_empty(), e.message.is_empty()) {
                (true, _) => e.message.clone(),
                (false, true) => code,
                (false, false) => format!("{code}: {}", e.message),
            }
        })
        .collect();
    Some((first, msgs.join("; ")))
}

/// The error for a response that was not what the operation wanted.
///
/// - 401: `Unauthorized`, "unauthorized: authentication required"
/// - 403: `Unauthorized`, "denied: requested access to the resource is denied"
/// - 404: `NotFound`, "manifest unknown: <repo>:<ref>" / "blob unknown:
///   <repo>@<digest>" / "name unknown: <repo>" (when the registry says the
///   repository itself is unknown)
/// - anything else: "<method> <url>: <registry message | unexpected status N>"
///
/// The registry's JSON message replaces the default wording where present
/// (except for 404s, whose wording names the object).
pub(crate) fn status_error(
    method: &str,
    url: &str,
    status: u16,
    body: &[u8],
    obj: &Object,
) -> anyhow::Error {
    let api = registry_message(body);
    let api_msg = api.as_ref().map(|(_, m)| m.clone());
    let code = api.as_ref().map(|(c, _)| c.as_str()).unwrap_or("");
    match status {
        401 => kind_err(
            ErrorKind::Unauthorized,
            api_msg.unwrap_or_else(|| "unauthorized: authentication required".into()),
        ),
        403 => kind_err(
            ErrorKind::Unauthorized,
            api_msg.unwrap_or_else(|| "denied: requested access to the resource is denied".into()),
        ),
        404 => {
            let msg = match obj {
                Object::Repo(repo) | Object::Upload { repo } => format!("name unknown: {repo}"),
                Object::Manifest { repo, .. } | Object::Blob { repo, .. }
                    if code == "NAME_UNKNOWN" =>
                {
                    format!("name unknown: {repo}")
                }
                Object::Manifest { repo, reference } => {
                    let sep = if reference.starts_with("sha256:") {
                        '@'
                    } else {
                        ':'
                    };
                    format!("manifest unknown: {repo}{sep}{reference}")
                }
                Object::Blob { repo, digest } => format!("blob unknown: {repo}@{digest}"),
            };
            kind_err(ErrorKind::NotFound, msg)
        }
        _ => match api_msg {
            Some(m) => anyhow::anyhow!("{method} {url}: {m}"),
            None => anyhow::anyhow!("{method} {url}: unexpected status {status}"),
        },
    }
}

/// A transport failure as a short cause.
pub(crate) fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => describe_io(io),
        ureq::Error::HostNotFound => "no such host".into(),
        ureq::Error::Timeout(t) => format!("timeout ({t})"),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        other => tls_wording(&other.to_string()),
    }
}

pub(crate) fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset by peer".into(),
        io::ErrorKind::ConnectionAborted => "connection aborted".into(),
        io::ErrorKind::TimedOut => "i/o timeout".into(),
        io::ErrorKind::UnexpectedEof => "connection closed before the response ended".into(),
        io::ErrorKind::BrokenPipe => "connection closed by the server (broken pipe)".into(),
        _ => tls_wording(&e.to_string()),
    }
}

/// rustls words certificate problems as `invalid peer certificate: X`;
/// say it the way Docker users know (`x509: certificate signed by unknown
/// authority`) and keep rustls's detail.
fn tls_wording(msg: &str) -> String {
    let msg = msg.strip_prefix("io: ").unwrap_or(msg);
    // The C library resolver's words, as std passes them on.
    if let Some(rest) = msg.strip_prefix("failed to lookup address information: ") {
        return match rest {
            "Name or service not known" | "No address associated with hostname" => {
                "no such host".into()
            }
            other => format!("host lookup failed: {other}"),
        };
    }
    if let Some(rest) = msg.strip_prefix("invalid peer certificate: ") {
        let why = match rest {
            "UnknownIssuer" => "certificate signed by unknown authority".to_string(),
            "Expired" => "certificate has expired".to_string(),
            "NotValidYet" => "certificate is not valid yet".to_string(),
            "BadSignature" => "bad certificate signature".to_string(),
            "Revoked" => "certificate revoked".to_string(),
            other => other.to_string(),
        };
        return format!("certificate verify failed: {why}");
    }
    // What rustls says when the server answers a TLS hello in plain HTTP.
    if msg.contains("InvalidContentType") || msg.contains("received corrupt message") {
        return "server gave HTTP response to HTTPS client".into();
    }
    msg.to_string()
}

/// Is this a failure of certificate verification (as opposed to, say, a
/// server that does not speak TLS at all)?
pub(crate) fn is_cert_error(cause: &str) -> bool {
    cause.starts_with("certificate verify failed")
}

/// Did the TLS layer fail in a way that plain HTTP might not (the server
/// speaks HTTP, or its TLS is broken)? Refused connections are not: the
/// same port refuses HTTP too.
pub(crate) fn is_tls_failure(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => !matches!(
            io.kind(),
            io::ErrorKind::ConnectionRefused | io::ErrorKind::TimedOut
        ),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Protocol(_) => true,
        _ => false,
    }
}

/// Worth another try: the connection broke or timed out, not a refusal by
/// the server's logic or a bad certificate.
pub(crate) fn is_retryable(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => is_retryable_io(io) && !is_cert_error(&describe_io(io)),
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed => true,
        _ => false,
    }
}

pub(crate) fn is_retryable_io(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::TimedOut
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::kind_of;

    #[test]
    fn registry_messages() {
        let body = br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository"}]}]}"#;
        let (code, msg) = registry_message(body).unwrap();
        assert_eq!(code, "UNAUTHORIZED");
        assert_eq!(msg, "unauthorized: authentication required");
        let body = br#"{"errors":[{"code":"DENIED","message":"no"},{"code":"NAME_UNKNOWN","message":""}]}"#;
        assert_eq!(
            registry_message(body).unwrap().1,
            "denied: no; name unknown"
        );
        assert_eq!(
            registry_message(br#"{"details":"incorrect username or password"}"#)
                .unwrap()
                .1,
            "incorrect username or password"
        );
        assert!(registry_message(b"<html>").is_none());
        assert!(registry_message(b"{}").is_none());
    }

    #[test]
    fn status_errors() {
        let m = Object::Manifest {
            repo: "a/b",
            reference: "v1",
        };
        let e = status_error("GET", "u", 401, b"", &m);
        assert_eq!(kind_of(&e), Some(ErrorKind::Unauthorized));
        assert_eq!(e.to_string(), "unauthorized: authentication required");
        let e = status_error("GET", "u", 403, b"", &m);
        assert_eq!(
            e.to_string(),
            "denied: requested access to the resource is denied"
        );
        let e = status_error("GET", "u", 404, b"", &m);
        assert_eq!(kind_of(&e), Some(ErrorKind::NotFound));
        assert_eq!(e.to_string(), "manifest unknown: a/b:v1");
        let body = br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#;
        let e = status_error("GET", "u", 404, body, &m);
        assert_eq!(e.to_string(), "name unknown: a/b");
        let b = Object::Blob {
            repo: "a",
            digest: "sha256:00",
        };
        assert_eq!(
            status_error("GET", "u", 404, b"", &b).to_string(),
            "blob unknown: a@sha256:00"
        );
        let e = status_error(
            "PUT",
            "http://h/v2/a/manifests/t",
            400,
            br#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}"#,
            &m,
        );
        assert_eq!(kind_of(&e), None);
        assert_eq!(
            e.to_string(),
            "PUT http://h/v2/a/manifests/t: manifest invalid: manifest invalid"
        );
        assert_eq!(
            status_error("GET", "u", 418, b"", &m).to_string(),
            "GET u: unexpected status 418"
        );
    }

    #[test]
    fn tls_words() {
        assert_eq!(
            tls_wording("io: invalid peer certificate: UnknownIssuer"),
            "certificate verify failed: certificate signed by unknown authority"
        );
        assert!(is_cert_error(&tls_wording(
            "invalid peer certificate: NotValidForName"
        )));
        assert_eq!(
            tls_wording("received corrupt message of type InvalidContentType"),
            "server gave HTTP response to HTTPS client"
        );
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(describe_io(&refused), "connection refused");
    }
}
