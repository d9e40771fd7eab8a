//! The audit log of a project (owners and admins): its events, newest first, filterable by
//! type, actor and time, paginated.

use super::{
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiPath, ApiQuery},
    query::{check_skip, instant_param, invalid},
    AppState,
};
use crate::limits::AUDIT_PAGE_MAX;
use crate::reads::Page;
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use steward_events::{Envelope, Event, ProjectId, Timestamp};
use steward_projections::audit::{ActorFilter, AuditFilter};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

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
    /// From 0; page × limit at most 10000.
    pub page: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
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
    /// Pass as `cursor` for the next (older) page; absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The filter and page an audit query asks for.
pub(crate) fn parse_query(query: AuditQuery) -> Result<(AuditFilter, Page), ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_AUDIT_PAGE);
    if !(1..=AUDIT_PAGE_MAX).contains(&limit) {
        return Err(ApiError::invalid_query(format!(
            "limit must be 1 to {AUDIT_PAGE_MAX}"
        )));
    }
    let kind = match &query.kind {
        Some(kind) => Some(
            Event::KINDS
                .iter()
                .copied()
                .find(|known| known == kind)
                .ok_or_else(|| ApiError::invalid_query(format!("unknown event type {kind:?}")))?,
        ),
        None => None,
    };
    let filter = AuditFilter {
        kind,
        actor: query.actor.as_deref().map(ActorFilter::parse),
        start: instant_param(query.start.as_deref(), false)?,
        end: instant_param(query.end.as_deref(), true)?,
    };
    let page = query.page.unwrap_or(0);
    check_skip(page, limit)?;
    let before = match &query.cursor {
        Some(cursor) => Some(cursor.parse().map_err(|_| invalid("cursor", cursor))?),
        None => None,
    };
    Ok((
        filter,
        Page {
            limit,
            page,
            before,
        },
    ))
}

/// An audit entry as the API shows it.
fn audit_event(envelope: Envelope) -> AuditEvent {
    let fields = match serde_json::to_value(&envelope.event) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().next().map(|(_, v)| v),
        _ => None,
    };
    AuditEvent {
        position: envelope.position,
        recorded_at: envelope.recorded_at,
        actor: envelope.actor.to_string(),
        kind: envelope.event.kind(),
        stream: envelope.stream.to_string(),
        event: fields.unwrap_or(serde_json::Value::Null),
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
    let (filter, page) = parse_query(query)?;
    let envelopes = (state.steward)
        .audit(&principal, project_id, filter, page)
        .await?;
    Ok(Json(AuditResponse {
        page: page.page,
        limit: page.limit,
        events: envelopes.items.into_iter().map(audit_event).collect(),
        next_cursor: envelopes.next.map(|position| position.to_string()),
    }))
}
