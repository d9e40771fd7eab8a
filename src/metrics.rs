//! What Steward counts for Prometheus (`GET /metrics`, the text format): one registry, held by
//! the application state, so that tests read exact counts. Every label has a bounded set of
//! values (route templates, status codes, outcomes, projection names): nothing per project,
//! key or person.
//!
//! The command processor records its batches through [`CommitMetrics`]; the HTTP layer records
//! requests and authentications; the gauges (log head, projection positions, outbox) are read
//! when scraped.

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
    },
    registry::Registry,
};
use std::sync::atomic::AtomicU64;

/// What the command processor records of each batch it commits.
#[derive(Clone, Debug)]
pub struct CommitMetrics {
    /// Commands decided per batch (group commit).
    pub batch_commands: Histogram,
    /// Seconds each batch's append and flush took.
    pub flush_seconds: Histogram,
    /// USD of credit spent by metered requests, in total (never per project).
    pub credit_consumed_usd: Counter<f64, AtomicU64>,
    /// Soft tag budgets passed (once per tag and month), all projects together.
    pub tag_budgets_passed: Counter,
}

impl Default for CommitMetrics {
    fn default() -> Self {
        Self {
            batch_commands: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            flush_seconds: latency_histogram(),
            credit_consumed_usd: Counter::default(),
            tag_budgets_passed: Counter::default(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route's template (`/v1/projects/{project_id}/keys`), or `unmatched`.
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProjectionLabel {
    pub projection: &'static str,
}

/// Seconds, from 0.1 ms doubling to about 3.3 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

type LatencyFamily = Family<RouteLabel, Histogram, fn() -> Histogram>;

/// The registry and the metrics the HTTP side records.
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<RouteLabels, Counter>,
    pub http_seconds: LatencyFamily,
    pub auth_failures: Counter,
    pub verify_answers: Family<OutcomeLabel, Counter>,
    pub log_head: Gauge,
    pub projection_position: Family<ProjectionLabel, Gauge>,
    pub outbox_pending: Gauge,
}

impl Metrics {
    /// The registry with every metric, the processor's among them.
    pub fn new(commits: &CommitMetrics, outbox_failures: &Counter) -> Self {
        let mut registry = Registry::with_prefix("steward");
        let http_requests = Family::<RouteLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            http_requests.clone(),
        );
        let http_seconds: LatencyFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Seconds from a request's arrival to its answer, by route template",
            http_seconds.clone(),
        );
        let auth_failures = Counter::default();
        registry.register(
            "auth_failures",
            "Authentications that failed (unknown, dead or missing credentials)",
            auth_failures.clone(),
        );
        let verify_answers = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "verify_answers",
            "Answers of /v1/auth/verify, by outcome",
            verify_answers.clone(),
        );
        registry.register(
            "commit_batch_commands",
            "Commands per group-commit batch",
            commits.batch_commands.clone(),
        );
        registry.register(
            "commit_flush_seconds",
            "Seconds each batch's append and flush took",
            commits.flush_seconds.clone(),
        );
        registry.register(
            "credit_consumed_usd",
            "USD of credit spent by metered requests since start, all projects together",
            commits.credit_consumed_usd.clone(),
        );
        registry.register(
            "tag_budgets_passed",
            "Soft tag budgets passed since start (once per tag and month), all projects together",
            commits.tag_budgets_passed.clone(),
        );
        let log_head = Gauge::default();
        registry.register(
            "log_head",
            "The position of the log's last event",
            log_head.clone(),
        );
        let projection_position = Family::<ProjectionLabel, Gauge>::default();
        registry.register(
            "projection_position",
            "The last log position each read model applied",
            projection_position.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register(
            "outbox_pending",
            "Invitation emails waiting to be sent (counted up to 10000)",
            outbox_pending.clone(),
        );
        registry.register(
            "outbox_failed",
            "Invitation emails marked failed for good since start",
            outbox_failures.clone(),
        );
        Self {
            registry,
            http_requests,
            http_seconds,
            auth_failures,
            verify_answers,
            log_head,
            projection_position,
            outbox_pending,
        }
    }

    /// One answer of the gateway's check.
    pub fn verified(&self, outcome: &'static str) {
        self.verify_answers
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// One answered HTTP request.
    pub fn answered(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let labels = RouteLabels {
            route: route.to_owned(),
            method: method.to_owned(),
            status,
        };
        self.http_requests.get_or_create(&labels).inc();
        let route = RouteLabel {
            route: labels.route,
        };
        self.http_seconds.get_or_create(&route).observe(seconds);
    }

    /// The text format of every metric as it stands.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}
