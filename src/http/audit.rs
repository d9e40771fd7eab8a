//! The audit log of a project (owners and admins): its events, newest first, filterable by
//! type, actor and time, paginated.

use super::{
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiPath, ApiQuery},
    newest_first,
    usage::parse_instant,
    AppState,
};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;
use steward_events::{Actor, Event, Permission, ProjectId, Timestamp};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

/// The most entries one page holds.
pub const MAX_AUDIT_PAGE: usize = 1000;
const DEFAULT_AUDIT_PAGE: usize = 50;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(project_audit))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// An event type, such as `member_removed`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `operator`, `system`, or the id of an account or key.
    pub actor: Option<String>,
    /// Inclusive; a date or an RFC 3339 instant.
    pub start: Option<String>,
    /// Exclusive; a date (the whole day included) or an RFC 3339 instant.
    pub end: Option<String>,
    /// 1 to 1000; 50 by default.
    pub limit: Option<usize>,
    /// From 0.
    pub page: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    pub position: u64,
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: Timestamp,
    /// `account:<id>`, `key:<id>`, `operator` or `system`.
    pub actor: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub stream: String,
    /// The event's own fields.
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditResponse {
    pub page: usize,
    pub limit: usize,
    pub events: Vec<AuditEvent>,
}

fn actor_matches(actor: &Actor, wanted: &str) -> bool {
    match (actor, wanted.parse::<Uuid>()) {
        (Actor::Account(account_id), Ok(id)) => account_id.as_uuid() == &id,
        (Actor::Key { key_id, account_id }, Ok(id)) => {
            key_id.as_uuid() == &id || account_id.as_uuid() == &id
        }
        _ => actor.to_string() == wanted,
    }
}

/// The events concerning the project, newest first (a transfer shows on both sides).
#[utoipa::path(get, path = "/v1/projects/{project_id}/audit", tag = "audit",
    params(("project_id" = String, Path, format = Uuid), AuditQuery),
    responses((status = 200, body = AuditResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn project_audit(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditResponse>> {
    let limit = query.limit.unwrap_or(DEFAULT_AUDIT_PAGE);
    if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
        return Err(ApiError::invalid_query(format!(
            "limit must be 1 to {MAX_AUDIT_PAGE}"
        )));
    }
    let page = query.page.unwrap_or(0);
    if let Some(kind) = &query.kind {
        if !Event::KINDS.contains(&kind.as_str()) {
            return Err(ApiError::invalid_query(format!(
                "unknown event type {kind:?}"
            )));
        }
    }
    let bound = |text: &Option<String>, end: bool| {
        text.as_deref()
            .map(|text| {
                parse_instant(text, end)
                    .ok_or_else(|| ApiError::invalid_query(format!("not a date: {text:?}")))
            })
            .transpose()
    };
    let (start, end) = (bound(&query.start, false)?, bound(&query.end, true)?);
    state.steward.read(|projections| {
        principal
            .access(projections, project_id)?
            .require(Permission::AdminsRead)
    })?;
    let mut to_skip = page.saturating_mul(limit);
    let mut events = Vec::new();
    let log = state.steward.log();
    newest_first(
        &state,
        |projections| projections.audit.of_project(project_id),
        |position| {
            let envelope = log
                .read_at(position)
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::internal(format!("position {position} vanished")))?;
            let wanted = query
                .kind
                .as_deref()
                .is_none_or(|kind| envelope.event.kind() == kind)
                && query
                    .actor
                    .as_deref()
                    .is_none_or(|wanted| actor_matches(&envelope.actor, wanted))
                && start.is_none_or(|start| envelope.recorded_at >= start)
                && end.is_none_or(|end| envelope.recorded_at < end);
            if !wanted {
                return Ok(ControlFlow::Continue(()));
            }
            if to_skip > 0 {
                to_skip -= 1;
                return Ok(ControlFlow::Continue(()));
            }
            let fields = match serde_json::to_value(&envelope.event) {
                Ok(serde_json::Value::Object(map)) => map.into_iter().next().map(|(_, v)| v),
                _ => None,
            };
            events.push(AuditEvent {
                position,
                recorded_at: envelope.recorded_at,
                actor: envelope.actor.to_string(),
                kind: envelope.event.kind(),
                stream: envelope.stream.to_string(),
                event: fields.unwrap_or(serde_json::Value::Null),
            });
            Ok(if events.len() == limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        },
    )?;
    Ok(Json(AuditResponse {
        page,
        limit,
        events,
    }))
}
