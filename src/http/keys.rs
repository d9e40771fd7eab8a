//! API keys: list, create (the only time the secret is shown), get, delete; hand a key to
//! another member; rotate its secret with an overlap.

use super::{
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, ApiPath, ApiQuery},
    idempotency::ShownOnce,
    query::instant_param,
    AppState, MessageResponse,
};
use crate::limits::KEY_TTL_SECONDS_MAX;
use crate::{
    domain::{Command, KeyComment, NewKey},
    reads::{KeyListing, KeyStatus},
    secrets::Secret,
};
use axum::{extract::State, Extension, Json};
use serde::{Deserialize, Serialize};
use steward_events::{Envelope, Event, KeyId, ProjectId, Scope, Tag, Timestamp};
use steward_projections::keys::KeyView;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(get_key, delete_key))
        .routes(routes!(hand_over_key))
        .routes(routes!(rotate_key))
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct KeyMember {
    #[schema(value_type = String, format = Uuid)]
    pub member_id: steward_events::AccountId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    #[schema(value_type = String, format = Uuid)]
    pub api_key_id: KeyId,
    pub comment: String,
    pub scopes: Vec<String>,
    pub tags: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListedKey {
    pub member: KeyMember,
    pub api_key: ApiKeyView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListKeysResponse {
    pub api_keys: Vec<ListedKey>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListKeysQuery {
    /// `active` or `expired`; all live keys when absent.
    pub status: Option<String>,
    /// Instead, the keys that worked at this instant (a date or an RFC 3339 instant), from
    /// the log, each with the member it acted as then; not with `status`.
    pub as_of: Option<String>,
}

impl From<&KeyListing> for KeyMember {
    fn from(listing: &KeyListing) -> Self {
        Self {
            member_id: listing.key.owner,
            email: listing.owner.email.clone(),
            first_name: listing.owner.first_name.clone(),
            last_name: listing.owner.last_name.clone(),
        }
    }
}

fn key_view(key_id: KeyId, key: &KeyView) -> ApiKeyView {
    ApiKeyView {
        api_key_id: key_id,
        comment: key.comment.clone(),
        scopes: key
            .scopes
            .iter()
            .map(|scope| scope.name().to_owned())
            .collect(),
        tags: key.tags.iter().map(|tag| tag.as_str().to_owned()).collect(),
        created: key.created_at,
        expiration_date: key.expires_at,
    }
}

fn parse_status(status: Option<&str>) -> ApiResult<Option<KeyStatus>> {
    match status {
        None => Ok(None),
        Some("active") => Ok(Some(KeyStatus::Active)),
        Some("expired") => Ok(Some(KeyStatus::Expired)),
        Some(other) => Err(ApiError::invalid_query(format!(
            "status must be active or expired, not {other:?}"
        ))),
    }
}

/// The project's live keys: all of them for callers who may read members, admins and owners;
/// otherwise the caller's own. With `as_of`, the keys that worked at that instant.
#[utoipa::path(get, path = "/v1/projects/{project_id}/keys", tag = "keys",
    params(("project_id" = String, Path, format = Uuid), ListKeysQuery),
    responses((status = 200, body = ListKeysResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_keys(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiQuery(query): ApiQuery<ListKeysQuery>,
) -> ApiResult<Json<ListKeysResponse>> {
    let status = parse_status(query.status.as_deref())?;
    let keys = match instant_param(query.as_of.as_deref(), false)? {
        Some(_) if status.is_some() => {
            return Err(ApiError::invalid_query(
                "status and as_of do not combine: as_of lists the keys that worked then",
            ))
        }
        Some(at) => (state.steward).keys_as_of(&principal, project_id, at)?,
        None => (state.steward).keys(&principal, project_id, status, state.steward.now())?,
    };
    let api_keys = keys
        .iter()
        .map(|listing| ListedKey {
            member: listing.into(),
            api_key: key_view(listing.key_id, &listing.key),
        })
        .collect();
    Ok(Json(ListKeysResponse { api_keys }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub comment: String,
    /// Role names (`member`) or permissions (`usage:write`); never beyond the caller's own.
    pub scopes: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// RFC 3339; give this or `time_to_live_in_seconds`, not both.
    pub expiration_date: Option<String>,
    pub time_to_live_in_seconds: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreateKeyResponse {
    #[schema(value_type = String, format = Uuid)]
    pub api_key_id: KeyId,
    /// The secret. Shown this once; only its hash is kept.
    pub key: String,
    pub comment: String,
    pub scopes: Vec<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
}

/// Parses each scope name, naming the first unknown one.
pub(super) fn parse_scopes(names: &[String]) -> Result<Vec<Scope>, ApiError> {
    names
        .iter()
        .map(|name| {
            Scope::parse(name)
                .ok_or_else(|| ApiError::invalid_request(format!("Unknown scope {name:?}.")))
        })
        .collect()
}

/// Parses each tag, naming the first bad one.
pub(super) fn parse_tags(texts: &[String]) -> Result<Vec<Tag>, ApiError> {
    texts
        .iter()
        .map(|text| {
            Tag::parse(text).map_err(|error| {
                ApiError::invalid_request(format!("{error}.")).with_details(format!("tag {text:?}"))
            })
        })
        .collect()
}

impl CreateKeyRequest {
    /// The command creating key `key_id` with `secret`'s hash.
    fn command(
        self,
        project_id: ProjectId,
        key_id: KeyId,
        secret: &Secret,
        now: Timestamp,
    ) -> ApiResult<Command> {
        Ok(Command::CreateKey(NewKey {
            project_id,
            key_id,
            secret_hash: secret.hash,
            scopes: parse_scopes(&self.scopes)?,
            tags: parse_tags(&self.tags)?,
            expires_at: expiry(&self, now)?,
            comment: KeyComment::parse(self.comment)?,
        }))
    }
}

impl CreateKeyResponse {
    /// The answer to a creation recorded as `created`, with the secret shown this once.
    fn of(created: &Envelope, secret: String) -> ApiResult<Self> {
        let Event::ApiKeyCreated {
            key_id,
            comment,
            scopes,
            tags,
            expires_at,
            ..
        } = &created.event
        else {
            return Err(ApiError::internal(
                "a created key records ApiKeyCreated first",
            ));
        };
        Ok(Self {
            api_key_id: *key_id,
            key: secret,
            comment: comment.clone(),
            scopes: scopes.iter().map(|scope| scope.name().to_owned()).collect(),
            tags: tags.iter().map(|tag| tag.as_str().to_owned()).collect(),
            expiration_date: *expires_at,
            created: created.recorded_at,
        })
    }
}

fn expiry(body: &CreateKeyRequest, now: Timestamp) -> Result<Option<Timestamp>, ApiError> {
    match (&body.expiration_date, body.time_to_live_in_seconds) {
        (Some(_), Some(_)) => Err(ApiError::invalid_request(
            "Give expiration_date or time_to_live_in_seconds, not both.",
        )),
        (Some(date), None) => super::query::parse_instant(date, false)
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid_request("expiration_date must be an RFC 3339 date or instant.")
            }),
        (None, Some(seconds)) if (1..=KEY_TTL_SECONDS_MAX).contains(&seconds) => {
            Ok(Some(now.plus_seconds(seconds)))
        }
        (None, Some(_)) => Err(ApiError::invalid_request(format!(
            "time_to_live_in_seconds must be 1 to {KEY_TTL_SECONDS_MAX}."
        ))),
        (None, None) => Ok(None),
    }
}

/// Creates a key. Its scopes never exceed the caller's own; the secret is shown once.
#[utoipa::path(post, path = "/v1/projects/{project_id}/keys", tag = "keys",
    params(("project_id" = String, Path, format = Uuid)), request_body = CreateKeyRequest,
    responses((status = 200, body = CreateKeyResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_key(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiJson(body): ApiJson<CreateKeyRequest>,
) -> ApiResult<(Extension<ShownOnce>, Json<CreateKeyResponse>)> {
    let (key_id, secret) = (KeyId::from_uuid(Uuid::now_v7()), Secret::api_key());
    let command = body.command(project_id, key_id, &secret, state.steward.now())?;
    let envelopes = state.steward.execute(principal.actor(), command).await?;
    let created = envelopes
        .first()
        .ok_or_else(|| ApiError::internal("a created key records an event"))?;
    let response = CreateKeyResponse::of(created, secret.secret.clone())?;
    Ok((Extension(ShownOnce(vec![secret.secret])), Json(response)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyItemMember {
    #[schema(value_type = String, format = Uuid)]
    pub member_id: steward_events::AccountId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub api_key: ApiKeyView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyItem {
    pub member: KeyItemMember,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GetKeyResponse {
    pub item: KeyItem,
    /// The same member and key at the top, as older Deepgram clients read them.
    #[serde(flatten)]
    pub listed: ListedKey,
}

/// One live key: any of the project's for callers who see all keys, else only one's own.
#[utoipa::path(get, path = "/v1/projects/{project_id}/keys/{key_id}", tag = "keys",
    params(("project_id" = String, Path, format = Uuid), ("key_id" = String, Path, format = Uuid)),
    responses((status = 200, body = GetKeyResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_key(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, key_id)): ApiPath<(ProjectId, KeyId)>,
) -> ApiResult<Json<GetKeyResponse>> {
    let listing = state.steward.key(&principal, project_id, key_id)?;
    let member = KeyMember::from(&listing);
    let api_key = key_view(key_id, &listing.key);
    Ok(Json(GetKeyResponse {
        item: KeyItem {
            member: KeyItemMember {
                member_id: member.member_id,
                email: member.email.clone(),
                first_name: member.first_name.clone(),
                last_name: member.last_name.clone(),
                api_key: api_key.clone(),
            },
        },
        listed: ListedKey { member, api_key },
    }))
}

/// Deletes a key: one's own with keys:write, another member's also with members:write.
#[utoipa::path(delete, path = "/v1/projects/{project_id}/keys/{key_id}", tag = "keys",
    params(("project_id" = String, Path, format = Uuid), ("key_id" = String, Path, format = Uuid)),
    responses((status = 200, body = MessageResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_key(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, key_id)): ApiPath<(ProjectId, KeyId)>,
) -> ApiResult<Json<MessageResponse>> {
    state
        .steward
        .execute(principal.actor(), Command::DeleteKey { project_id, key_id })
        .await?;
    Ok(MessageResponse::new("API key deleted."))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOverKeyRequest {
    /// The member the key will act as.
    #[schema(value_type = String, format = Uuid)]
    pub member_id: steward_events::AccountId,
}

/// Hands a key to another member of the project: it keeps its id and secret, acts as that
/// member from now on (its scopes capped by their role), and no longer ends with its old owner.
/// Owners hand over anyone's keys; admins those of members and admins.
#[utoipa::path(post, path = "/v1/projects/{project_id}/keys/{key_id}/owner", tag = "keys",
    params(("project_id" = String, Path, format = Uuid), ("key_id" = String, Path, format = Uuid)),
    request_body = HandOverKeyRequest,
    responses((status = 200, body = GetKeyResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn hand_over_key(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, key_id)): ApiPath<(ProjectId, KeyId)>,
    ApiJson(body): ApiJson<HandOverKeyRequest>,
) -> ApiResult<Json<GetKeyResponse>> {
    let command = Command::HandOverKey {
        project_id,
        key_id,
        to: body.member_id,
    };
    state.steward.execute(principal.actor(), command).await?;
    get_key(State(state), principal, ApiPath((project_id, key_id))).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKeyRequest {
    /// How long the previous secret keeps working: 0 (it stops now) to 604800 (7 days).
    pub overlap_seconds: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotateKeyResponse {
    #[schema(value_type = String, format = Uuid)]
    pub api_key_id: KeyId,
    /// The new secret, shown this once.
    pub key: String,
    /// When the previous secret stops working.
    #[schema(value_type = String, format = DateTime)]
    pub previous_key_expires_at: Timestamp,
}

/// Gives a key a new secret under the same id (its usage stays with it); the previous secret
/// works until `overlap_seconds` have passed, then never again. A secret replaced by an earlier
/// rotation stops at once.
#[utoipa::path(post, path = "/v1/projects/{project_id}/keys/{key_id}/rotate", tag = "keys",
    params(("project_id" = String, Path, format = Uuid), ("key_id" = String, Path, format = Uuid)),
    request_body = RotateKeyRequest,
    responses((status = 200, body = RotateKeyResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn rotate_key(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((project_id, key_id)): ApiPath<(ProjectId, KeyId)>,
    ApiJson(body): ApiJson<RotateKeyRequest>,
) -> ApiResult<(Extension<ShownOnce>, Json<RotateKeyResponse>)> {
    let secret = Secret::api_key();
    let command = Command::RotateKey {
        project_id,
        key_id,
        secret_hash: secret.hash,
        overlap_seconds: body.overlap_seconds,
    };
    let envelopes = state.steward.execute(principal.actor(), command).await?;
    let Some(Event::ApiKeyRotated {
        previous_secret_expires_at,
        ..
    }) = envelopes.first().map(|envelope| &envelope.event)
    else {
        return Err(ApiError::internal("a rotation records ApiKeyRotated"));
    };
    let response = RotateKeyResponse {
        api_key_id: key_id,
        key: secret.secret.clone(),
        previous_key_expires_at: *previous_secret_expires_at,
    };
    Ok((Extension(ShownOnce(vec![secret.secret])), Json(response)))
}
