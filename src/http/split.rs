//! Lean paths for the two requests made for every inference request: the gateway's check
//! (`/v1/auth/verify`) and the metering that follows it (`POST /v1/projects/{id}/requests`).
//! They skip what only the rest of the API needs: the router and its boxed services, and the
//! layers that have nothing to do for them. They keep the request context (request id,
//! `Steward-Min-Position`, error JSON, security headers, `Steward-Position`, metrics, the log
//! line), a panic catcher and the body limit, and they run the same extractors in the same
//! order as the routes do, so that every answer is the one the full stack gives.
//!
//! - The check skips CORS (browsers never ask it), the idempotency layer (it is a question,
//!   not a command, and must not write an answer to disk even when the gateway passes on a
//!   client's `Idempotency-Key`) and forwarding (any node answers it).
//! - Metering takes the lean path only when those layers would do nothing: no `Origin` (no
//!   browser: CORS adds nothing a server reads), no `Idempotency-Key` (no answer to keep),
//!   and this node decides commands (nothing to send on to the writer). Any other metering
//!   request takes the full stack.

use super::{
    idempotency::IDEMPOTENCY_HEADER, metering, panic_answer, position, unreached_position, verify,
    AppState, RequestContext,
};
use axum::{
    extract::Request,
    http::{header, Method},
    response::Response,
};
use futures_util::{future::Either, FutureExt};
use std::{
    sync::Arc,
    task::{Context, Poll},
};
use steward_events::ProjectId;
use tower::{util::Oneshot, Service, ServiceExt};
use tracing::Instrument;

/// Whether `path` is the gateway's check: `/v1/auth/verify`, or with Envoy's original path
/// appended.
pub fn is_check(path: &str) -> bool {
    path.strip_prefix("/v1/auth/verify")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The project of a metering path, `/v1/projects/{project_id}/requests`, when its id is one
/// the router's path extractor takes as written (percent-encoded ids take the full stack).
pub fn metering_project(path: &str) -> Option<ProjectId> {
    let id = path
        .strip_prefix("/v1/projects/")?
        .strip_suffix("/requests")?;
    if id.contains(['/', '%']) {
        return None;
    }
    id.parse().ok()
}

/// Whether `request` takes a lean path (see the module's documentation).
pub fn takes_lean(state: &AppState, request: &Request) -> bool {
    let path = request.uri().path();
    if is_check(path) {
        return true;
    }
    let headers = request.headers();
    request.method() == Method::POST
        && metering_project(path).is_some()
        && !headers.contains_key(header::ORIGIN)
        && !headers.contains_key(IDEMPOTENCY_HEADER)
        && (state.steward.cluster().is_none() || state.steward.is_writer())
}

/// Answers a request `takes_lean` chose, in the request context, with a panic answered as
/// any other handler's.
pub async fn answer(state: AppState, request: Request) -> Response {
    let context = RequestContext::of(&request);
    let path = request.uri().path();
    // No path is both the check's and metering's.
    let project = metering_project(path);
    let route = match project {
        Some(_) => metering::ROUTE,
        None => verify::route_of(path),
    };
    let asked = position::asked(&request);
    let unreached = unreached_position(&state, asked).instrument(context.span());
    if let Some(refusal) = unreached.await {
        return context.finish(&state, refusal, route);
    }
    let answer = match project {
        Some(project) => Either::Left(metering::record_lean(state.clone(), project, request)),
        None => Either::Right(verify::check(state.clone(), request)),
    };
    let answer = std::panic::AssertUnwindSafe(answer)
        .catch_unwind()
        .instrument(context.span())
        .await
        .unwrap_or_else(panic_answer);
    context.finish(&state, answer, route)
}

/// Sends the requests `takes` chooses to `lean` and every other request to `rest`.
///
/// The server clones its service for every request; this one is a single `Arc`, and only the
/// stack that answers is cloned from it (each clone readied by `oneshot`), so that a lean
/// request does not pay for copying the rest of the API's middleware.
pub struct Split<L, R, T>(Arc<(L, R, T)>);

impl<L, R, T> Split<L, R, T> {
    pub fn new(lean: L, rest: R, takes: T) -> Self {
        Self(Arc::new((lean, rest, takes)))
    }
}

impl<L, R, T> Clone for Split<L, R, T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<L, R, T, Answer, Error> Service<Request> for Split<L, R, T>
where
    L: Service<Request, Response = Answer, Error = Error> + Clone,
    R: Service<Request, Response = Answer, Error = Error> + Clone,
    T: Fn(&Request) -> bool,
{
    type Response = Answer;
    type Error = Error;
    type Future = Either<Oneshot<L, Request>, Oneshot<R, Request>>;

    /// Always ready: the clone that answers is readied by its `oneshot`.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let (lean, rest, takes) = &*self.0;
        if takes(&request) {
            Either::Left(lean.clone().oneshot(request))
        } else {
            Either::Right(rest.clone().oneshot(request))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{is_check, metering_project};

    #[test]
    fn only_the_check_and_paths_below_it_take_the_lean_path() {
        for path in ["/v1/auth/verify", "/v1/auth/verify/v1/listen"] {
            assert!(is_check(path), "{path}");
        }
        for path in ["/v1/auth/verifyx", "/v1/auth/grant", "/v1/auth", "/"] {
            assert!(!is_check(path), "{path}");
        }
    }

    #[test]
    fn only_a_metering_path_with_an_id_as_written_names_its_project() {
        let id = "01a23bb5-d0aa-71e6-a856-a142b146276d";
        assert_eq!(
            metering_project(&format!("/v1/projects/{id}/requests")),
            Some(id.parse().unwrap())
        );
        for path in [
            format!("/v1/projects/{id}/requests/"),
            format!("/v1/projects/{id}/requests/batch"),
            format!("/v1/projects/{id}/keys"),
            format!("/v1/projects/{id}/x/requests"),
            format!("/v1/projects/%30{}/requests", &id[1..]),
            "/v1/projects/not-an-id/requests".to_owned(),
            "/v1/projects//requests".to_owned(),
            format!("/v2/projects/{id}/requests"),
        ] {
            assert_eq!(metering_project(&path), None, "{path}");
        }
    }
}
