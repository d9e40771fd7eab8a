//! The request context's record of one request: its id, what it asked, when it began, and its
//! span when traces are exported (`telemetry`); `finish` writes what leaves with the answer.

use super::{position, render_error, AppState};
use crate::telemetry;
use axum::{extract::Request, http::Method, response::Response};
use uuid::Uuid;

/// What the request context knows of a request before it is answered.
pub(super) struct RequestContext {
    request_id: String,
    method: Method,
    path: String,
    started: std::time::Instant,
    /// The request's span: a child of the caller's trace, or none when no traces are exported.
    span: tracing::Span,
}

impl RequestContext {
    pub(super) fn of(request: &Request) -> Self {
        Self {
            request_id: Uuid::now_v7().to_string(),
            method: request.method().clone(),
            path: request.uri().path().to_owned(),
            started: std::time::Instant::now(),
            span: telemetry::request_span(request),
        }
    }

    /// The span to run the request's answer in.
    pub(super) fn span(&self) -> tracing::Span {
        self.span.clone()
    }

    /// The answer as it leaves: its error body written, its headers set, counted under the
    /// route template `route`, logged, and its span ended.
    pub(super) fn finish(self, state: &AppState, response: Response, route: &str) -> Response {
        let Self {
            request_id,
            method,
            path,
            started,
            span,
        } = self;
        let _in_span = span.enter();
        let mut response = render_error(response, &request_id, &method, &path);
        let answer = Answer {
            method: &method,
            path: &path,
            route,
            request_id: &request_id,
            started,
        };
        answer.record(state, &mut response);
        let status = response.status().as_u16();
        telemetry::answered(&span, method_label(&method), route, status, &request_id);
        response
    }
}

/// An answer about to leave, as the service records it.
pub(super) struct Answer<'a> {
    pub(super) method: &'a Method,
    pub(super) path: &'a str,
    /// The route template it is counted under.
    pub(super) route: &'a str,
    pub(super) request_id: &'a str,
    pub(super) started: std::time::Instant,
}

impl Answer<'_> {
    /// What every answer records on its way out, whichever layer made it: the position the
    /// read models reflect (`Steward-Position`), its count in the metrics, and its log line.
    pub(super) fn record(&self, state: &AppState, response: &mut Response) {
        position::tell(state, response);
        let status = response.status().as_u16();
        let elapsed = self.started.elapsed();
        let seconds = elapsed.as_secs_f64();
        (state.metrics).answered(self.route, method_label(self.method), status, seconds);
        tracing::info!(
            request_id = %self.request_id,
            method = %self.method,
            path = %self.path,
            route = %self.route,
            status,
            elapsed_us = elapsed.as_micros() as u64,
            "request"
        );
    }
}

/// `method` as the metrics label it: any method but the common ones is one label, `other`, so
/// that a client cannot make the metrics grow.
pub(super) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
