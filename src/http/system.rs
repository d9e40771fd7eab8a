//! Operations: the health check and the Prometheus metrics.

use super::AppState;
use crate::metrics::ProjectionLabel;
use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(metrics))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    /// The position of the last event the read models reflect.
    pub position: u64,
}

/// Whether the service is up, and how far its read models are.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, body = Health)))]
async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        position: state.steward.read(|projections| projections.position()),
    })
}

/// The metrics in Prometheus's text format (`steward_*`; the README lists them).
#[utoipa::path(get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "Prometheus text format, version 0.0.4",
        content_type = "text/plain; version=0.0.4; charset=utf-8", body = String)))]
async fn metrics(State(state): State<AppState>) -> Response {
    let position = state.steward.read(|projections| projections.position());
    // A figure that cannot be read keeps its last value; the failure is in the log.
    match state.steward.log().head() {
        Ok(head) => {
            state.metrics.log_head.set(head as i64);
        }
        Err(error) => tracing::warn!(%error, "reading the log's head for /metrics failed"),
    }
    for projection in steward_projections::Projections::NAMES {
        (state.metrics.projection_position)
            .get_or_create(&ProjectionLabel { projection })
            .set(position as i64);
    }
    match state.outbox.pending_count() {
        Ok(pending) => {
            state.metrics.outbox_pending.set(pending as i64);
        }
        Err(error) => tracing::warn!(%error, "counting the outbox for /metrics failed"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
