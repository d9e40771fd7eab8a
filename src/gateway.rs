//! The gateway's question, asked before every inference request (`GET /v1/auth/verify`): may
//! this key (or grant token) make this request, in which project, with which tags, and can the
//! project pay? Answered from the read models in memory only: no disk, and the read lock held
//! for a few lookups.

use crate::{
    domain::{may_use_model, DomainError},
    grants::GrantKeys,
    limits::{TAGS_PER_PROJECT_MONTH_MAX, TAGS_PER_REQUEST_MAX},
    models::ModelCatalog,
    secrets::hash_secret,
    Steward,
};
use steward_events::{Permission, Tag};
use steward_projections::keys::ValidKey;

/// What the caller presented.
#[derive(Clone, Copy, Debug)]
pub enum Credential<'a> {
    /// An API key's secret (`Authorization: Token …`).
    Key(&'a str),
    /// A grant token from `POST /v1/auth/grant` (`Authorization: Bearer …`).
    Grant(&'a str),
}

/// The request the gateway asks about.
#[derive(Clone, Debug, Default)]
pub struct Inference<'a> {
    /// The model it names (a canonical name or a catalog uuid), if any.
    pub model: Option<&'a str>,
    /// The request's own tags (`tag=` of its URI).
    pub tags: Vec<&'a str>,
}

/// An allowed request: who makes it, and the tags its usage will carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub key: ValidKey,
    /// The key's tags followed by the request's own, without repeats.
    pub tags: Vec<Tag>,
}

/// Why a request is refused, each with the answer a gateway shows its caller.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Unknown, deleted or expired key; its creator gone; a grant expired, forged or whose key
    /// died.
    #[error("invalid credentials")]
    InvalidAuth,
    /// The key (or grant) lacks usage:write, which making a request takes.
    #[error("the key may not make requests (it lacks usage:write)")]
    MissingScope,
    /// The model is not in the catalog, or not one the project may use.
    #[error("project does not have access to the requested model")]
    ModelNotAllowed,
    /// The project has no unexpired credit left.
    #[error("the project has no credit left to pay for the request")]
    PaymentRequired,
    /// A tag of the key or the request has a hard budget its spend this month has reached.
    #[error("the tag \"{0}\" has reached its monthly budget")]
    TagBudgetReached(Tag),
    /// The project's requests have carried `TAGS_PER_PROJECT_MONTH_MAX` distinct tags this
    /// month, and this one carries a tag new to it (its metering would be refused).
    #[error("{}", DomainError::TooManyTagsThisMonth)]
    TagLimitReached,
    /// A tag of the request is not a valid tag, or there are too many.
    #[error("{0}")]
    BadTag(String),
}

impl Refusal {
    /// The outcome's name, for metrics and logs.
    pub fn outcome(&self) -> &'static str {
        match self {
            Refusal::InvalidAuth => "invalid_auth",
            Refusal::MissingScope => "missing_scope",
            Refusal::ModelNotAllowed => "model_not_allowed",
            Refusal::PaymentRequired => "payment_required",
            Refusal::TagBudgetReached(_) => "tag_budget_reached",
            Refusal::TagLimitReached => "tag_limit_reached",
            Refusal::BadTag(_) => "bad_request",
        }
    }
}

impl Steward {
    /// Whether `credential` may make `inference` now.
    pub fn verify(
        &self,
        grants: &GrantKeys,
        models: &ModelCatalog,
        credential: Credential<'_>,
        inference: &Inference<'_>,
    ) -> Result<Verified, Refusal> {
        let now = self.now();
        let request_tags = request_tags(&inference.tags)?;
        // The grant's signature is checked before the lock, and the key behind it under it.
        let (key, grant_permissions) = match credential {
            Credential::Key(secret) => (KeyBy::Hash(hash_secret(secret)), None),
            Credential::Grant(token) => {
                let claims = grants
                    .verify(token, now)
                    .map_err(|_| Refusal::InvalidAuth)?;
                let permissions = claims.permissions();
                (KeyBy::Grant(claims), Some(permissions))
            }
        };
        let model = match inference.model {
            Some(name) => Some(models.resolve(name).ok_or(Refusal::ModelNotAllowed)?),
            None => None,
        };
        self.read(|projections| {
            let mut valid = match &key {
                KeyBy::Hash(hash) => projections.keys.check(hash, now),
                KeyBy::Grant(claims) => {
                    projections
                        .keys
                        .check_id(claims.sub, now)
                        .and_then(|valid| {
                            let same = valid.project_id == claims.project_id
                                && valid.account_id == claims.account_id;
                            same.then_some(valid)
                                .ok_or(steward_projections::keys::KeyRejection::Unknown)
                        })
                }
            }
            .map_err(|_| Refusal::InvalidAuth)?;
            if let Some(permissions) = grant_permissions {
                valid.permissions = valid.permissions.intersection(permissions);
            }
            if !valid.permissions.contains(Permission::UsageWrite) {
                return Err(Refusal::MissingScope);
            }
            if let Some(entry) = model {
                let model_id = entry.model.uuid();
                let overridden =
                    (projections.model_access).override_of(valid.project_id, model_id, now);
                if !may_use_model(overridden, entry.model.public()) {
                    return Err(Refusal::ModelNotAllowed);
                }
            }
            let credits = projections.credits.project(valid.project_id);
            if !credits.is_some_and(|credits| credits.has_credit(now)) {
                return Err(Refusal::PaymentRequired);
            }
            let mut tags: Vec<Tag> = (projections.keys.keys.get(&valid.key_id))
                .map(|key| key.tags.clone())
                .unwrap_or_default();
            for tag in request_tags {
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            let budgets = projections.tag_budgets.project(valid.project_id);
            if let Some(budgets) = budgets {
                if !budgets.spend.admits(&tags, now, TAGS_PER_PROJECT_MONTH_MAX) {
                    return Err(Refusal::TagLimitReached);
                }
                if let Some(tag) = budgets.hard_budget_reached(&tags, now) {
                    return Err(Refusal::TagBudgetReached(tag.clone()));
                }
            }
            Ok(Verified { key: valid, tags })
        })
    }
}

/// How the key is found: by its secret's hash, or by the id a grant names.
enum KeyBy {
    Hash(steward_events::Sha256Digest),
    Grant(crate::grants::GrantClaims),
}

fn request_tags(texts: &[&str]) -> Result<Vec<Tag>, Refusal> {
    if texts.len() > TAGS_PER_REQUEST_MAX {
        return Err(Refusal::BadTag(format!(
            "A request carries at most {TAGS_PER_REQUEST_MAX} tags."
        )));
    }
    texts
        .iter()
        .map(|text| {
            Tag::parse(text).map_err(|_| {
                Refusal::BadTag(format!(
                    "The tag {text:?} is not valid: 1 to {} characters, no control characters.",
                    Tag::MAX_CHARS
                ))
            })
        })
        .collect()
}
