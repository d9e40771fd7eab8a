//! Read-your-writes across requests: every answer says, in `Steward-Position`, the log
//! position this node's read models reflect (for a command, at least its last event's); a
//! request that carries it back in `Steward-Min-Position` is answered only once the read
//! models have reached it, waiting at most `MIN_POSITION_WAIT` (then 503 with `Retry-After`).
//! On one node an answered command is always visible already; the header matters when reads
//! go to a node that tails the log another node writes.

use super::{ApiError, AppState};
use crate::{http::error::Category, limits::MIN_POSITION_WAIT};
use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    response::{IntoResponse, Response},
};

pub const POSITION_HEADER: HeaderName = HeaderName::from_static("steward-position");
pub const MIN_POSITION_HEADER: HeaderName = HeaderName::from_static("steward-min-position");

/// The position a request asks for, if any; the refusal if it is not one.
pub fn asked(request: &Request) -> Result<Option<u64>, ApiError> {
    let Some(asked) = request.headers().get(MIN_POSITION_HEADER) else {
        return Ok(None);
    };
    asked
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid_request(
                "Steward-Min-Position must be a log position: a whole number from 0, as a \
                 Steward-Position header gave it.",
            )
        })
}

/// Waits until the read models reach `position`; once `MIN_POSITION_WAIT` has passed without,
/// the refusal to answer instead.
pub async fn wait_for(state: &AppState, position: u64) -> Option<Response> {
    if state.steward.reached(position, MIN_POSITION_WAIT).await {
        return None;
    }
    // A 503, so it carries `Retry-After` (`error::say_when_to_retry`).
    let refusal = ApiError::new(
        Category::ServiceUnavailable,
        format!(
            "This node's read models have not reached log position {position} within {} \
             seconds; retry shortly.",
            MIN_POSITION_WAIT.as_secs()
        ),
    );
    Some(refusal.into_response())
}

/// Says on `response` the position the read models reflect now.
pub fn tell(state: &AppState, response: &mut Response) {
    let position = state.steward.visible_position();
    response
        .headers_mut()
        .insert(POSITION_HEADER, HeaderValue::from(position));
}
