//! One HTTP exchange with ureq, and the retry policy around it.

use super::errors;
use std::time::Duration;
use ureq::http::{Request, Response};
use ureq::tls::TlsConfig;
use ureq::{Agent, Body, SendBody};

/// Retries after the first attempt, for idempotent requests.
pub(crate) const MAX_RETRIES: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// 100 ms, 200 ms, 400 ms, ...
pub(crate) fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF * 2u32.saturating_pow(attempt.min(10))
}

/// An agent that hands every status back (the client decides what a 404
/// means) and follows no redirect itself: the client follows them so that
/// it can drop the registry's `Authorization` when the target is another
/// origin (S3-style blob storage rejects, or worse, logs, foreign
/// credentials); ureq's own rule compares host names only, not ports.
pub(crate) fn agent(tls: TlsConfig, user_agent: &str) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(user_agent)
        .tls_config(tls)
        .timeout_connect(Some(Duration::from_secs(30)))
        // A stalled body is cut so the blob reader can resume it.
        .timeout_per_read(Some(Duration::from_secs(120)))
        .build()
        .new_agent()
}

/// Send one request.
pub(crate) fn send(
    agent: &Agent,
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: SendBody,
) -> Result<Response<Body>, ureq::Error> {
    let mut b = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, v.as_str());
    }
    let req = b.body(body)?;
    agent.run(req)
}

/// Is a status worth retrying? Server trouble that may pass; 501 will not.
pub(crate) fn transient_status(status: u16) -> bool {
    matches!(status, 500 | 502 | 503 | 504)
}

/// Run `f` once, and when `retry` is set, again (with backoff) on a
/// broken connection or a transient 5xx, up to [`MAX_RETRIES`] more times.
/// The last outcome is returned as it is.
pub(crate) fn retrying(
    retry: bool,
    mut f: impl FnMut() -> Result<Response<Body>, ureq::Error>,
) -> Result<Response<Body>, ureq::Error> {
    let mut attempt = 0;
    loop {
        let res = f();
        let again = retry
            && attempt < MAX_RETRIES
            && match &res {
                Ok(r) => transient_status(r.status().as_u16()),
                Err(e) => errors::is_retryable(e),
            };
        if !again {
            return res;
        }
        std::thread::sleep(backoff(attempt));
        attempt += 1;
    }
}

/// Read a small response body (error documents, token answers, tag lists).
pub(crate) fn read_small(resp: Response<Body>, limit: u64) -> Vec<u8> {
    resp.into_body()
        .into_with_config()
        .limit(limit)
        .read_to_vec()
        .unwrap_or_default()
}

/// A response header as a string.
pub(crate) fn header<'a>(resp: &'a Response<Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(3), Duration::from_millis(800));
    }
}
