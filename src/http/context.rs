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
        position::tell(state, &mut response);
        let status = response.status().as_u16();
        let method_label = method_label(&method);
        let elapsed = started.elapsed();
        (state.metrics).answered(route, method_label, status, elapsed.as_secs_f64());
        telemetry::answered(&span, method_label, route, status, &request_id);
        tracing::info!(
            %request_id,
            %method,
            %path,
            status,
            elapsed_us = elapsed.as_micros() as u64,
            "request"
        );
        response
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
