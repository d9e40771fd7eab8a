//! `Idempotency-Key` on every command (POST, PUT, PATCH, DELETE): the same key with the same
//! request answers the first answer again, byte for byte; the same key with another request is
//! a 409. Answers are kept in the sled tree `idempotency`, so they survive restarts.
//!
//! Keys are scoped to the caller (the hash of the `Authorization` header), so one caller's key
//! never replays another's answer. A server error (5xx) is not kept: retrying it runs again.

use super::error::Category;
use super::{error::ApiError, standalone_error, AppState, MAX_BODY_BYTES, REQUEST_ID_HEADER};
use crate::processor::DurableWriter;
use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::{collections::HashSet, sync::Mutex};
use steward_events::BesideWrites;

/// The request header naming the key.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// The response header marking a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// The longest key accepted.
pub const MAX_KEY_CHARS: usize = 255;
/// The largest answer kept.
const MAX_KEPT_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Secrets an answer shows once (a key's secret, a session token). A handler attaches it to its
/// response; the idempotency layer keeps the answer with each replaced by [`NOT_KEPT`], so that
/// no secret reaches the data directory. A replay shows where the secret was.
#[derive(Clone, Debug, Default)]
pub struct ShownOnce(pub Vec<String>);

/// What a kept answer holds where a secret was.
pub const NOT_KEPT: &str = "[shown once; not kept]";

#[derive(Serialize, Deserialize)]
struct Kept {
    request_hash: String,
    status: u16,
    content_type: Option<String>,
    request_id: Option<String>,
    /// The answer's body (JSON or CSV, so text).
    body: String,
}

pub struct IdempotencyStore {
    tree: sled::Tree,
    writer: DurableWriter,
    in_flight: Mutex<HashSet<[u8; 32]>>,
}

impl IdempotencyStore {
    pub fn open(db: &sled::Db, writer: DurableWriter) -> sled::Result<Self> {
        Ok(Self {
            tree: db.open_tree("idempotency")?,
            writer,
            in_flight: Mutex::new(HashSet::new()),
        })
    }

    fn begin(&self, key: [u8; 32]) -> bool {
        self.in_flight.lock().expect("in-flight lock").insert(key)
    }

    fn end(&self, key: &[u8; 32]) {
        self.in_flight.lock().expect("in-flight lock").remove(key);
    }
}

fn conflict(message: &str) -> ApiError {
    ApiError::new(Category::IdempotencyConflict, message)
}

fn replay(kept: Kept) -> Response {
    let mut response = (
        StatusCode::from_u16(kept.status).unwrap_or(StatusCode::OK),
        kept.body,
    )
        .into_response();
    let headers = response.headers_mut();
    if let Some(content_type) = kept
        .content_type
        .and_then(|v| HeaderValue::from_str(&v).ok())
    {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    if let Some(request_id) = kept.request_id.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(REQUEST_ID_HEADER, request_id);
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

/// The middleware. Outermost, so that what it keeps is the answer exactly as it was sent.
pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    match answer(state, request, next).await {
        Ok(response) => response,
        Err(error) => standalone_error(error, &method, &path),
    }
}

async fn answer(state: AppState, request: Request, next: Next) -> Result<Response, ApiError> {
    let command = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(key) = request.headers().get(IDEMPOTENCY_HEADER).cloned() else {
        return Ok(next.run(request).await);
    };
    if !command {
        return Ok(next.run(request).await);
    }
    let key = match key.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= MAX_KEY_CHARS => key.to_owned(),
        _ => {
            return Err(ApiError::invalid_request(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters."
            )))
        }
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return Err(ApiError::new(
            Category::PayloadTooLarge,
            "The request body is too large.",
        ));
    };
    let caller = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|value| value.as_bytes().to_vec())
        .unwrap_or_default();
    let store_key: [u8; 32] = Sha256::new()
        .chain_update(Sha256::digest(&caller))
        .chain_update(key.as_bytes())
        .finalize()
        .into();
    let request_hash = hex::encode(
        Sha256::new()
            .chain_update(parts.method.as_str())
            .chain_update(b" ")
            .chain_update(parts.uri.to_string())
            .chain_update(b"\n")
            .chain_update(&body)
            .finalize(),
    );
    let store = &state.idempotency;
    if let Some(kept) = store.tree.get(store_key).map_err(ApiError::internal)? {
        let kept: Kept = serde_json::from_slice(&kept).map_err(ApiError::internal)?;
        if kept.request_hash != request_hash {
            return Err(conflict(
                "This Idempotency-Key was used with another request.",
            ));
        }
        return Ok(replay(kept));
    }
    if !store.begin(store_key) {
        return Err(conflict(
            "A request with this Idempotency-Key is still being answered.",
        ));
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let answered = keep(store, store_key, request_hash, response).await;
    store.end(&store_key);
    answered
}

/// Keeps a non-5xx answer, then sends it on.
async fn keep(
    store: &IdempotencyStore,
    store_key: [u8; 32],
    request_hash: String,
    response: Response,
) -> Result<Response, ApiError> {
    let (mut parts, body) = response.into_parts();
    let Ok(body) = to_bytes(body, MAX_KEPT_RESPONSE_BYTES).await else {
        return Err(ApiError::internal("an answer too large to keep"));
    };
    let secrets = parts.extensions.remove::<ShownOnce>().unwrap_or_default();
    if !parts.status.is_server_error() {
        let mut kept_body = String::from_utf8_lossy(&body).into_owned();
        for secret in &secrets.0 {
            kept_body = kept_body.replace(secret.as_str(), NOT_KEPT);
        }
        let kept = Kept {
            request_hash,
            status: parts.status.as_u16(),
            content_type: header_text(&parts.headers, header::CONTENT_TYPE.as_str()),
            request_id: header_text(&parts.headers, REQUEST_ID_HEADER),
            body: kept_body,
        };
        let bytes = serde_json::to_vec(&kept).expect("kept answers serialize");
        let mut batch = sled::Batch::default();
        batch.insert(&store_key[..], bytes);
        let mut writes = BesideWrites::default();
        writes.push(&store.tree, batch);
        if let Err(error) = store.writer.write(writes).await {
            tracing::error!(%error, "keeping an idempotent answer failed");
        }
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

fn header_text(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}
