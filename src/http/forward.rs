//! Commands sent on to the writer. In a cluster only the elected writer decides; a node that
//! is not it sends every command (POST, PUT, PATCH, DELETE, other than the gateway's check,
//! which only asks) on to the writer as it came, and answers with the writer's answer once
//! its own read models have reached the command's events (read-your-writes for the caller,
//! whichever node they asked). Reads are answered where they arrive.
//!
//! The writer is where the last elected node said it takes commands (`PgLog::writer_url`).
//! A writer that cannot be reached (killed, being replaced) is answered 503 with
//! `Retry-After`, saying nothing was recorded; one that was sent the command and stopped
//! answering, 503 saying that whether it was recorded is unknown. Either way a retry with the
//! same `Idempotency-Key` (or, for metering, the same request id) is safe.

use super::{position::POSITION_HEADER, render_error, split, standalone_error, ApiError, AppState};
use crate::limits::{BODY_BYTES_MAX, FORWARDED_ANSWER_BYTES_MAX, FORWARD_CATCH_UP_WAIT};
use crate::{cluster::Node, http::error::Category};
use axum::{
    body::{to_bytes, Body},
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, Method},
    middleware::Next,
    response::Response,
};
use std::net::SocketAddr;
use uuid::Uuid;

/// Headers that belong to one connection, never passed on (RFC 9110 §7.6.1), and those the
/// client that sends on sets itself.
const NOT_PASSED_ON: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::HOST,
];

/// Whether `request` is a command this node must send on to the writer.
fn is_command(request: &Request) -> bool {
    let method = request.method();
    let changes = [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method);
    changes && !split::is_check(request.uri().path())
}

pub async fn forward(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(node) = state.steward.cluster() else {
        return next.run(request).await;
    };
    if state.steward.is_writer() || !is_command(&request) {
        return next.run(request).await;
    }
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    // A person's browser sent a Console form: a refusal is a page for them, not the JSON.
    let console =
        (path == "/console" || path.starts_with("/console/")).then(|| request.headers().clone());
    match (send_on(&state, node, request).await, console) {
        (Ok(response), _) => response,
        (Err(refusal), Some(headers)) => {
            let page = crate::console::unforwarded_form(&state, &headers, &refusal);
            render_error(page, &Uuid::now_v7().to_string(), &method, &path)
        }
        (Err(refusal), None) => standalone_error(refusal, &method, &path),
    }
}

fn passed_on(headers: &HeaderMap) -> HeaderMap {
    let mut kept = headers.clone();
    for name in &NOT_PASSED_ON {
        kept.remove(name);
    }
    kept.remove(header::CONTENT_LENGTH);
    kept
}

async fn send_on(state: &AppState, node: &Node, request: Request) -> Result<Response, ApiError> {
    let writer_url = match node.log().writer_url() {
        Ok(Some(url)) if url != node.advertised_url() => url,
        // None elected yet, or this node, elected a moment ago and still catching up.
        Ok(_) => return Err(ApiError::not_writer()),
        // The database cannot be asked who writes: 503, as every read that needs it.
        Err(error) => return Err(ApiError::from(error)),
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, BODY_BYTES_MAX).await else {
        return Err(ApiError::new(
            Category::PayloadTooLarge,
            "The request body is too large.",
        ));
    };
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let mut headers = passed_on(&parts.headers);
    // The writer throttles by the client's address when this node is one of its
    // `--trusted-proxies`.
    if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        let forwarded = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(earlier) => format!("{earlier}, {}", peer.ip()),
            None => peer.ip().to_string(),
        };
        if let Ok(forwarded) = HeaderValue::from_str(&forwarded) {
            headers.insert("x-forwarded-for", forwarded);
        }
    }
    let sent = node
        .client()
        .request(
            parts.method,
            format!("{}{path}", writer_url.trim_end_matches('/')),
        )
        .headers(headers)
        .body(body)
        .send()
        .await;
    let mut answer = match sent {
        Ok(answer) => answer,
        // Not connected: the command never reached the writer.
        Err(error) if error.is_connect() => {
            tracing::warn!(%error, %writer_url, "the writer could not be reached");
            return Err(ApiError::not_writer());
        }
        // Sent, and no answer in time or none at all: it may have been recorded.
        Err(error) => return Err(ApiError::writer_lost(format!("{error} ({writer_url})"))),
    };
    let status = answer.status();
    let headers = passed_on(answer.headers());
    let mut bytes = Vec::new();
    loop {
        match answer.chunk().await {
            Ok(Some(chunk)) if bytes.len() + chunk.len() <= FORWARDED_ANSWER_BYTES_MAX => {
                bytes.extend_from_slice(&chunk)
            }
            Ok(Some(_)) => return Err(ApiError::internal("the writer's answer is too large")),
            Ok(None) => break,
            // The command may have been recorded: the caller retries with its key.
            Err(error) => {
                let cause = format!("the writer's answer was cut off: {error} ({writer_url})");
                return Err(ApiError::writer_lost(cause));
            }
        }
    }
    let position = (headers.get(POSITION_HEADER))
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if let Some(position) = position {
        if !state.steward.reached(position, FORWARD_CATCH_UP_WAIT).await {
            tracing::warn!(
                position,
                "answering a forwarded command before this node has followed its events"
            );
        }
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}
