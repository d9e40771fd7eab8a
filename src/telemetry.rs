//! Logs to stderr (filtered by `RUST_LOG`, `info` by default) and, when an OTLP endpoint is
//! set, traces exported over OTLP (HTTP, protobuf) by OpenTelemetry's own SDK.
//!
//! Traces are on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//! is set and `OTEL_SDK_DISABLED` is not `true`. The SDK reads the rest of the standard
//! variables itself: `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`,
//! `OTEL_TRACES_SAMPLER` (parent-based, always on, by default), `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_SERVICE_NAME` (`steward` by default) and the batch processor's `OTEL_BSP_*`, whose
//! `OTEL_BSP_MAX_QUEUE_SIZE` (2048 spans) bounds what waits for export: spans beyond it are
//! dropped, never queued without end.
//!
//! Each HTTP request is a server span named by its method and route template, a child of the
//! caller's trace when it sends a W3C `traceparent` (a gateway's check joins the gateway's
//! trace); each command it decides is a child span named by the command. When traces are off
//! no span is made at all: the hot paths pay one atomic load.

use crate::processor::CommandError;
use axum::extract::Request;
use opentelemetry::{
    propagation::TextMapPropagator,
    trace::{Status, TraceContextExt, TracerProvider as _},
};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider, Resource};
use std::sync::{
    atomic::{AtomicBool, Ordering},
    OnceLock,
};
use steward_events::Envelope;
use tracing::{field::Empty, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{filter::Targets, layer::SubscriberExt, util::SubscriberInitExt, Layer};

/// Whether spans are made and exported.
static EXPORTING: AtomicBool = AtomicBool::new(false);
/// How a caller's trace is read from its headers (W3C Trace Context).
static PROPAGATOR: OnceLock<TraceContextPropagator> = OnceLock::new();

/// The variables that name an OTLP endpoint for traces.
const ENDPOINT_VARIABLES: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

/// What must outlive the program's work: the trace exporter, flushed by `shutdown`.
#[must_use = "shutdown() sends the spans still waiting"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still waiting, and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(error) = provider.shutdown() {
                eprintln!("steward: the last traces could not be sent: {error}");
            }
        }
    }
}

/// Why traces could not be set up: the endpoint's variables name no usable endpoint.
#[derive(Debug, thiserror::Error)]
#[error("traces cannot be exported as the OTEL_EXPORTER_OTLP_* variables say: {0}")]
pub struct TelemetryError(String);

fn variable(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// Installs the logger, and the trace exporter if an endpoint is set. Call it outside any
/// async runtime: the exporter's HTTP client runs one of its own.
pub fn init() -> Result<Telemetry, TelemetryError> {
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        );
    let disabled = variable("OTEL_SDK_DISABLED").is_some_and(|value| value.trim() == "true");
    if disabled
        || !ENDPOINT_VARIABLES
            .iter()
            .any(|name| variable(name).is_some())
    {
        tracing_subscriber::registry().with(logs).init();
        return Ok(Telemetry { provider: None });
    }
    // The exporter takes any text and fails on every export after; refuse a bad one now.
    for name in ENDPOINT_VARIABLES {
        if let Some(value) = variable(name) {
            let url = url::Url::parse(value.trim()).ok();
            if !url.is_some_and(|url| ["http", "https"].contains(&url.scheme()) && url.has_host()) {
                return Err(TelemetryError(format!(
                    "{name} must be an http:// or https:// URL, not {value:?}"
                )));
            }
        }
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|error| TelemetryError(error.to_string()))?;
    // OTEL_SERVICE_NAME, or a service.name in OTEL_RESOURCE_ATTRIBUTES, wins over ours.
    let named = variable("OTEL_SERVICE_NAME").is_some()
        || variable("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|list| list.contains("service.name="));
    let mut resource = Resource::builder();
    if !named {
        resource = resource.with_service_name("steward");
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    // Spans carry what they are about, not tracing's bookkeeping (busy and idle time, the
    // thread, the source line).
    let traces = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("steward"))
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_filter(Targets::new().with_target("steward", tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .init();
    PROPAGATOR.get_or_init(TraceContextPropagator::new);
    EXPORTING.store(true, Ordering::Release);
    Ok(Telemetry {
        provider: Some(provider),
    })
}

fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The server span of `request`, a child of the trace its `traceparent` names; none when
/// traces are off.
pub fn request_span(request: &Request) -> Span {
    if !exporting() {
        return Span::none();
    }
    let span = tracing::info_span!(
        "request",
        otel.name = %request.method(),
        otel.kind = "server",
        http.request.method = %request.method(),
        url.path = %request.uri().path(),
    );
    if let Some(propagator) = PROPAGATOR.get() {
        let _ = span.set_parent(propagator.extract(&HeaderExtractor(request.headers())));
    }
    span
}

/// Names a request's span by its route template (`unmatched`: none) and records its answer.
pub fn answered(span: &Span, method: &str, route: &str, status: u16, request_id: &str) {
    if span.is_none() {
        return;
    }
    if route != "unmatched" {
        // Renamed on the span itself: the layer names a span from its fields only until it
        // starts, which it did when the request was first run in it.
        span.context()
            .span()
            .update_name(format!("{method} {route}"));
        span.set_attribute("http.route", route.to_owned());
    }
    span.set_attribute("http.response.status_code", i64::from(status));
    span.set_attribute("dg.request_id", request_id.to_owned());
    if status >= 500 {
        span.set_status(Status::error(""));
    }
}

/// The span of one command, named by it; none when traces are off.
pub fn command_span(command: &'static str) -> Span {
    if !exporting() {
        return Span::none();
    }
    tracing::info_span!(
        "command",
        otel.name = command,
        steward.command = command,
        steward.outcome = Empty,
        steward.events = Empty,
        otel.status_code = Empty,
    )
}

/// Records what became of a command on its span: the events recorded, or the kind of refusal
/// (never its text, which may name a person).
pub fn decided(span: &Span, decided: &Result<Vec<Envelope>, CommandError>) {
    if span.is_none() {
        return;
    }
    let outcome = match decided {
        Ok(envelopes) => {
            span.record("steward.events", envelopes.len() as u64);
            "recorded"
        }
        Err(CommandError::Domain(_)) => "refused",
        Err(CommandError::Busy(_)) => "busy",
        Err(CommandError::NotWriter) => "not the writer",
        Err(CommandError::Unavailable) => "unavailable",
        Err(CommandError::Storage(_)) => {
            span.record("otel.status_code", "ERROR");
            "storage failure"
        }
    };
    span.record("steward.outcome", outcome);
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use opentelemetry::{trace::SpanKind, KeyValue};
    use opentelemetry_sdk::trace::InMemorySpanExporter;

    const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
    const PARENT_SPAN_ID: &str = "b7ad6b7169203331";

    /// Held by each test here: one of them turns `EXPORTING` on for a moment.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
        ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[test]
    fn a_request_is_a_server_span_in_its_callers_trace_and_its_command_a_child_of_it() {
        // Given: spans exported to memory, and a request that carries its caller's trace
        let _alone = one_at_a_time();
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        PROPAGATOR.get_or_init(TraceContextPropagator::new);
        let request = axum::http::Request::builder()
            .method("POST")
            .uri("/v1/projects/p/keys")
            .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01"))
            .body(Body::empty())
            .unwrap();
        // When: it decides a command, then is answered 503
        EXPORTING.store(true, Ordering::Release);
        tracing::subscriber::with_default(subscriber, || {
            let span = request_span(&request);
            {
                let _in_request = span.enter();
                let command = command_span("CreateKey");
                decided(&command, &Ok(Vec::new()));
            }
            answered(
                &span,
                "POST",
                "/v1/projects/{project_id}/keys",
                503,
                "the-id",
            );
        });
        // (Other tests' spans stay none: they run without this subscriber.)
        EXPORTING.store(false, Ordering::Release);
        // Then: a server span, renamed by its route, in the caller's trace, marked an error
        let spans = exporter.get_finished_spans().unwrap();
        let request = (spans.iter())
            .find(|span| span.name == "POST /v1/projects/{project_id}/keys")
            .expect("the request's span, renamed by its route");
        assert_eq!(request.span_kind, SpanKind::Server);
        assert_eq!(request.span_context.trace_id().to_string(), TRACE_ID);
        assert_eq!(request.parent_span_id.to_string(), PARENT_SPAN_ID);
        assert!(matches!(request.status, Status::Error { .. }));
        for attribute in [
            KeyValue::new("http.response.status_code", 503_i64),
            KeyValue::new("http.route", "/v1/projects/{project_id}/keys"),
            KeyValue::new("dg.request_id", "the-id"),
        ] {
            assert!(request.attributes.contains(&attribute), "{attribute:?}");
        }
        // And the command, a child of it
        let command = (spans.iter())
            .find(|span| span.name == "CreateKey")
            .expect("the command's span");
        assert_eq!(command.parent_span_id, request.span_context.span_id());
        assert_eq!(command.span_kind, SpanKind::Internal);
        assert!(command
            .attributes
            .contains(&KeyValue::new("steward.outcome", "recorded")));
    }

    #[test]
    fn with_traces_off_no_span_is_made_even_under_a_subscriber_that_would_record_it() {
        let _alone = one_at_a_time();
        let subscriber = tracing_subscriber::registry().with(tracing_subscriber::fmt::layer());
        let request = axum::http::Request::builder()
            .uri("/v1/projects")
            .body(Body::empty())
            .unwrap();
        assert!(!exporting());
        tracing::subscriber::with_default(subscriber, || {
            assert!(request_span(&request).is_none());
            assert!(command_span("CreateKey").is_none());
        });
    }
}
