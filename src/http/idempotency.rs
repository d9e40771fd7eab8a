//! `Idempotency-Key` on every command (POST, PUT, PATCH, DELETE): the same key with the same
//! request answers the first answer again, byte for byte; the same key with another request is
//! a 409. Answers are kept in the tree `idempotency` beside the log, so they survive restarts.
//!
//! Keys are scoped to the caller (the hash of the `Authorization` header), so one caller's key
//! never replays another's answer. Only authenticated callers' answers are kept (an anonymous
//! or wrongly authenticated caller could otherwise fill the disk), and never a 401, a 429 or a
//! server error (5xx): retrying those runs again. An answer is kept for the idempotency TTL
//! (`--idempotency-ttl-hours`, 24 by default), then swept. An answer over
//! `KEPT_ANSWER_BYTES_MAX` is sent but not kept: a retry is told, with a 409, that it was
//! answered, and is not run again.
//!
//! The answer is kept once it is sent, after the command's events are durable; a node killed
//! in between would lose it, and a retry would run the command again. So the key is also
//! *claimed* with the events themselves: while a request with a key is answered, every command
//! it records carries the claim in its group commit ([`claimed_writes`], which
//! `Steward::execute_with` adds). A retry that finds the claim but no answer knows the command
//! was recorded, and is answered 409 rather than run twice.

use super::error::Category;
use super::{
    auth::authenticate, context::Answer, error::ApiError, position, standalone_error, AppState,
    REQUEST_ID_HEADER,
};
use crate::limits::{BODY_BYTES_MAX, IDEMPOTENCY_KEY_CHARS_MAX, KEPT_ANSWER_BYTES_MAX};
use crate::{
    expiring::{ExpiringTree, Expiry},
    processor::{CommandError, DurableWriter},
};
use axum::{
    body::{to_bytes, Body, HttpBody},
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};
use steward_events::{BesideWrites, LogError, LogStore, Timestamp};

tokio::task_local! {
    /// The claim of the `Idempotency-Key` of the request this task answers.
    static CLAIM: Claim;
}

/// The writes that claim a key, made with the events of each command the request records.
#[derive(Clone)]
struct Claim(Arc<dyn Fn() -> BesideWrites + Send + Sync>);

/// The writes that claim the `Idempotency-Key` of the request being answered, if it has one.
pub fn claimed_writes() -> BesideWrites {
    CLAIM.try_with(|claim| (claim.0)()).unwrap_or_default()
}

/// What a claimed key holds until its answer is kept: no answer (status 0).
const CLAIMED_STATUS: u16 = 0;

/// The request header naming the key.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// The response header marking a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

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
    /// When it stops being replayed (unix microseconds); answers kept by earlier versions,
    /// without one, count as expired.
    #[serde(default)]
    expires_at_micros: i64,
    /// The answer was sent but is over `KEPT_ANSWER_BYTES_MAX`, so only this mark is kept (and
    /// `body` is empty): a retry is told so, and not run again.
    #[serde(default)]
    too_large: bool,
}

fn expiry_of(value: &[u8]) -> Expiry {
    let expires_at = serde_json::from_slice::<Kept>(value).map_or(0, |kept| kept.expires_at_micros);
    Expiry(Timestamp::from_unix_micros(expires_at))
}

/// The kept answers, in the tree `idempotency` with their expiry in `idempotency_expiry`.
pub struct IdempotencyStore {
    answers: ExpiringTree,
    ttl_seconds: i64,
    in_flight: Mutex<HashSet<[u8; 32]>>,
}

/// A key being answered; dropping it (answered, failed, panicked or cancelled because the
/// client went away) frees the key.
struct InFlight<'a> {
    store: &'a IdempotencyStore,
    key: [u8; 32],
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.store.in_flight().remove(&self.key);
    }
}

impl IdempotencyStore {
    pub fn open(
        store: &Arc<dyn LogStore>,
        writer: DurableWriter,
        ttl_seconds: i64,
    ) -> Result<Self, LogError> {
        let trees = ("idempotency", "idempotency_expiry");
        Ok(Self {
            answers: ExpiringTree::open(store, trees, writer, expiry_of)?,
            ttl_seconds,
            in_flight: Mutex::new(HashSet::new()),
        })
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        // A set of keys: a panic elsewhere cannot leave it half-made.
        self.in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn begin(&self, key: [u8; 32]) -> Option<InFlight<'_>> {
        self.in_flight()
            .insert(key)
            .then_some(InFlight { store: self, key })
    }

    /// The answer kept for `key`, unless it expired.
    fn get(&self, key: &[u8; 32], now: Timestamp) -> Result<Option<Kept>, ApiError> {
        let Some(bytes) = self.answers.get(key, now).map_err(ApiError::internal)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(ApiError::internal)
    }

    /// The writes that claim `key` for the request `request_hash`, before its answer is kept.
    fn claim(&self, key: [u8; 32], request_hash: &str, now: Timestamp) -> BesideWrites {
        let expiry = Expiry(now.plus_seconds(self.ttl_seconds));
        let claimed = Kept {
            request_hash: request_hash.to_owned(),
            status: CLAIMED_STATUS,
            content_type: None,
            request_id: None,
            body: String::new(),
            expires_at_micros: expiry.0.unix_micros(),
            too_large: false,
        };
        let bytes = serde_json::to_vec(&claimed).expect("kept answers serialize");
        self.answers.insertion(&key, bytes, expiry)
    }

    async fn put(&self, key: [u8; 32], mut kept: Kept, now: Timestamp) -> Result<(), CommandError> {
        let expiry = Expiry(now.plus_seconds(self.ttl_seconds));
        kept.expires_at_micros = expiry.0.unix_micros();
        let bytes = serde_json::to_vec(&kept).expect("kept answers serialize");
        self.answers.insert(&key, bytes, expiry).await
    }

    /// Removes the answers expired at `now`; returns how many.
    pub async fn sweep(&self, now: Timestamp) -> Result<usize, CommandError> {
        self.answers.sweep(now).await
    }

    /// How many answers are kept (for tests and operations).
    pub fn count(&self) -> Result<u64, LogError> {
        self.answers.count()
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
///
/// A replay, and a refusal of this layer, never reach the request context, which says on every
/// other answer the position the read models reflect, counts it and logs it: this layer does
/// so for them (counted under the route `idempotency`). A node that forwarded a retry then
/// waits for its own read models to reach that position, as for a first answer
/// (read-your-writes on whichever node the retry went to).
pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let mut response = match answer(state.clone(), request, next).await {
        Ok(response) => response,
        Err(error) => standalone_error(error, &method, &path),
    };
    if !response.headers().contains_key(position::POSITION_HEADER) {
        // A replay's request id is the first answer's.
        let request_id = (response.headers().get(REQUEST_ID_HEADER))
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let answer = Answer {
            method: &method,
            path: &path,
            route: ROUTE,
            request_id: &request_id,
            started,
        };
        answer.record(&state, &mut response);
    }
    response
}

/// The route the metrics count this layer's own answers under.
pub const ROUTE: &str = "idempotency";

/// The `Idempotency-Key` of a command, if it carries one.
fn idempotency_key(request: &Request) -> Result<Option<String>, ApiError> {
    let command = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(key) = request
        .headers()
        .get(IDEMPOTENCY_HEADER)
        .filter(|_| command)
    else {
        return Ok(None);
    };
    match key.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= IDEMPOTENCY_KEY_CHARS_MAX => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(ApiError::invalid_request(format!(
            "Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_CHARS_MAX} visible ASCII characters."
        ))),
    }
}

/// Where the answer to `key` of this caller is kept, and the hash of the request it answers.
fn keys_of(parts: &axum::http::request::Parts, body: &[u8], key: &str) -> ([u8; 32], String) {
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
            .chain_update(body)
            .finalize(),
    );
    (store_key, request_hash)
}

async fn answer(state: AppState, request: Request, next: Next) -> Result<Response, ApiError> {
    let Some(key) = idempotency_key(&request)? else {
        return Ok(next.run(request).await);
    };
    let (mut parts, body) = request.into_parts();
    let Ok(principal) = authenticate(&parts, &state).await else {
        // Nothing is kept for a caller who is not one: the request is answered as it is.
        return Ok(next.run(Request::from_parts(parts, body)).await);
    };
    // The handler's `Principal` extractor takes it from here rather than authenticate again.
    parts.extensions.insert(principal);
    let Ok(body) = to_bytes(body, BODY_BYTES_MAX).await else {
        return Err(ApiError::new(
            Category::PayloadTooLarge,
            "The request body is too large.",
        ));
    };
    let (store_key, request_hash) = keys_of(&parts, &body, &key);
    let store = &state.idempotency;
    if let Some(kept) = store.get(&store_key, state.steward.now())? {
        if kept.request_hash != request_hash {
            return Err(conflict(
                "This Idempotency-Key was used with another request.",
            ));
        }
        if kept.status == CLAIMED_STATUS {
            return Err(conflict(
                "This request was recorded, but its answer was lost when the node answering it \
                 stopped; it is not run again. Read what it changed instead.",
            ));
        }
        if kept.too_large {
            return Err(conflict(&format!(
                "This request was answered, but its answer was over {} MiB, too large to keep; \
                 it is not run again. Read what it changed instead.",
                KEPT_ANSWER_BYTES_MAX / (1024 * 1024)
            )));
        }
        return Ok(replay(kept));
    }
    let Some(_in_flight) = store.begin(store_key) else {
        return Err(conflict(
            "A request with this Idempotency-Key is still being answered.",
        ));
    };
    let claim = {
        let (store, hash) = (Arc::clone(&state.idempotency), request_hash.clone());
        let steward = Arc::clone(&state.steward);
        Claim(Arc::new(move || {
            store.claim(store_key, &hash, steward.now())
        }))
    };
    let request = Request::from_parts(parts, Body::from(body));
    let response = CLAIM.scope(claim, next.run(request)).await;
    keep(&state, store_key, request_hash, response).await
}

/// Whether an answer with `status` is kept: not a failed authentication, a rate limit or a
/// server error, which a retry should run again.
fn worth_keeping(status: StatusCode) -> bool {
    !(status.is_server_error()
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::TOO_MANY_REQUESTS)
}

/// Keeps the answer if it is worth keeping, then sends it on. An answer over
/// `KEPT_ANSWER_BYTES_MAX` (a batch of meterings under keys with many long tags can be) is sent
/// on as it is, and only the mark that it was too large is kept; so is one of unknown length,
/// which no handler answers today.
async fn keep(
    state: &AppState,
    store_key: [u8; 32],
    request_hash: String,
    response: Response,
) -> Result<Response, ApiError> {
    let (mut parts, body) = response.into_parts();
    let secrets = parts.extensions.remove::<ShownOnce>().unwrap_or_default();
    let fits =
        (body.size_hint().upper()).is_some_and(|bytes| bytes <= KEPT_ANSWER_BYTES_MAX as u64);
    // An answer that fits is read whole, to keep and to send; one that does not is sent on.
    let (body, read) = if fits {
        let Ok(bytes) = to_bytes(body, KEPT_ANSWER_BYTES_MAX).await else {
            return Err(ApiError::internal("reading an answer to keep failed"));
        };
        (Body::from(bytes.clone()), Some(bytes))
    } else {
        (body, None)
    };
    if worth_keeping(parts.status) {
        let kept_body = read.as_ref().map(|bytes| {
            let mut text = String::from_utf8_lossy(bytes).into_owned();
            for secret in &secrets.0 {
                text = text.replace(secret.as_str(), NOT_KEPT);
            }
            text
        });
        let kept = Kept {
            request_hash,
            status: parts.status.as_u16(),
            content_type: (kept_body.as_ref())
                .and_then(|_| header_text(&parts.headers, header::CONTENT_TYPE.as_str())),
            request_id: header_text(&parts.headers, REQUEST_ID_HEADER),
            too_large: kept_body.is_none(),
            body: kept_body.unwrap_or_default(),
            expires_at_micros: 0,
        };
        let now = state.steward.now();
        if let Err(error) = state.idempotency.put(store_key, kept, now).await {
            tracing::error!(%error, "keeping an idempotent answer failed");
        }
    }
    Ok(Response::from_parts(parts, body))
}

fn header_text(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}
