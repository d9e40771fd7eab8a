//! The gateway's check on a lean path of its own. A gateway asks `/v1/auth/verify` before every
//! inference request, so the check skips what only the rest of the API needs: CORS (browsers
//! never ask it), the idempotency layer (it is a question, not a command, and must not write
//! an answer to disk even when the gateway passes on a client's `Idempotency-Key`), the body
//! limit (its body is never read), the router and its extractors. It keeps the request
//! context (request id, error JSON, security headers, metrics, the log line) and a panic
//! catcher.

use axum::extract::Request;
use futures_util::future::Either;
use std::{
    sync::Arc,
    task::{Context, Poll},
};
use tower::{util::Oneshot, Service, ServiceExt};

/// Whether `path` is the gateway's check: `/v1/auth/verify`, or with Envoy's original path
/// appended.
pub fn is_check(path: &str) -> bool {
    path.strip_prefix("/v1/auth/verify")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Sends the gateway's check to `check` and every other request to `rest`.
///
/// The server clones its service for every request; this one is a single `Arc`, and only the
/// stack that answers is cloned from it (each clone readied by `oneshot`), so that a check
/// does not pay for copying the rest of the API's middleware.
pub struct Split<C, R>(Arc<(C, R)>);

impl<C, R> Split<C, R> {
    pub fn new(check: C, rest: R) -> Self {
        Self(Arc::new((check, rest)))
    }
}

impl<C, R> Clone for Split<C, R> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<C, R, Answer, Error> Service<Request> for Split<C, R>
where
    C: Service<Request, Response = Answer, Error = Error> + Clone,
    R: Service<Request, Response = Answer, Error = Error> + Clone,
{
    type Response = Answer;
    type Error = Error;
    type Future = Either<Oneshot<C, Request>, Oneshot<R, Request>>;

    /// Always ready: the clone that answers is readied by its `oneshot`.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let (check, rest) = &*self.0;
        if is_check(request.uri().path()) {
            Either::Left(check.clone().oneshot(request))
        } else {
            Either::Right(rest.clone().oneshot(request))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_check;

    #[test]
    fn only_the_check_and_paths_below_it_take_the_lean_path() {
        for path in ["/v1/auth/verify", "/v1/auth/verify/v1/listen"] {
            assert!(is_check(path), "{path}");
        }
        for path in ["/v1/auth/verifyx", "/v1/auth/grant", "/v1/auth", "/"] {
            assert!(!is_check(path), "{path}");
        }
    }
}
