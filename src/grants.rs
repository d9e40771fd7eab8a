//! Grant tokens: short-lived JWTs a key with at least member scopes asks for
//! (`POST /v1/auth/grant`), for clients that must not hold the key itself. A grant is bound to
//! the key's project and its usage scopes; the management API refuses it.
//!
//! Grants are signed with ES256 (ECDSA P-256) by a key Steward generates and keeps in its data
//! directory (`grant-signing-keys.json`, readable by its owner only). The public parts are
//! published as a JWK set (`GET /.well-known/jwks.json`) so that a gateway can check a grant
//! without calling Steward. Rotating makes a new current key; the previous ones stay published,
//! and keep verifying the grants they signed, until those can no longer be valid.
//!
//! What an offline verifier cannot know: that the key was deleted or its creator left the
//! project after the grant was issued. Steward checks both on use (`GrantKeys::verify` with the
//! keys read model); a gateway checking signatures alone accepts such a grant until it expires,
//! at most `GRANT_TTL_SECONDS_MAX` later.

use crate::{
    access::Principal,
    limits::{GRANT_KEYS_KEPT_MAX, GRANT_TTL_SECONDS_MAX},
    Steward,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::{
    rand::SystemRandom,
    signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING},
};
use serde::{Deserialize, Serialize};
use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::{Mutex, PoisonError, RwLock},
};
use steward_events::{AccountId, KeyId, Permission, Permissions, ProjectId, Role, Timestamp};
use steward_projections::keys::ValidKey;
use utoipa::ToSchema;
use uuid::Uuid;

/// The issuer every grant names.
pub const ISSUER: &str = "steward";

const FILE_NAME: &str = "grant-signing-keys.json";

/// What a grant says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantClaims {
    pub iss: String,
    /// The key the grant was made with.
    pub sub: KeyId,
    pub project_id: ProjectId,
    /// The key's creator, whom the grant acts as.
    pub account_id: AccountId,
    /// The usage permissions the grant carries (`usage:read`, `usage:write`).
    pub scopes: Vec<String>,
    /// Seconds since the Unix epoch.
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
}

impl GrantClaims {
    /// The usage permissions of `permissions`: what a grant made with them carries.
    pub fn usage_scopes(permissions: Permissions) -> Vec<String> {
        [Permission::UsageRead, Permission::UsageWrite]
            .into_iter()
            .filter(|permission| permissions.contains(*permission))
            .map(|permission| permission.name().to_owned())
            .collect()
    }

    /// The permissions the grant carries.
    pub fn permissions(&self) -> Permissions {
        let permissions: Vec<Permission> = (self.scopes.iter())
            .filter_map(|scope| Permission::parse(scope))
            .filter(|permission| {
                matches!(permission, Permission::UsageRead | Permission::UsageWrite)
            })
            .collect();
        Permissions::from_list(&permissions)
    }
}

/// Why a grant was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GrantError {
    #[error("not a grant token Steward signed")]
    Invalid,
    #[error("the grant has expired")]
    Expired,
    /// Its key was deleted or expired, or the key's creator left the project.
    #[error("the key the grant was made with no longer works")]
    KeyEnded,
}

/// A signing key as the file keeps it.
#[derive(Clone, Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    created_at: Timestamp,
    /// When a newer key replaced it; it still verifies what it signed until then + the longest
    /// grant.
    retired_at: Option<Timestamp>,
    /// PKCS#8 DER, base64url.
    pkcs8: String,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<StoredKey>,
}

/// A signing key, decoded.
struct SigningKey {
    stored: StoredKey,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The public point's coordinates, base64url.
    x: String,
    y: String,
}

impl SigningKey {
    fn of(stored: StoredKey) -> Result<Self, String> {
        let der = URL_SAFE_NO_PAD
            .decode(&stored.pkcs8)
            .map_err(|error| format!("key {}: {error}", stored.kid))?;
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
                .map_err(|error| format!("key {}: {error}", stored.kid))?;
        // An uncompressed point: 0x04, then x and y, 32 bytes each.
        let point = pair.public_key().as_ref();
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..65]),
        );
        let decoding = DecodingKey::from_ec_components(&x, &y)
            .map_err(|error| format!("key {}: {error}", stored.kid))?;
        Ok(Self {
            encoding: EncodingKey::from_ec_der(&der),
            decoding,
            x,
            y,
            stored,
        })
    }

    fn generate(now: Timestamp) -> Result<Self, String> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|error| format!("generating a signing key: {error}"))?;
        Self::of(StoredKey {
            kid: Uuid::now_v7().to_string(),
            created_at: now,
            retired_at: None,
            pkcs8: URL_SAFE_NO_PAD.encode(pkcs8.as_ref()),
        })
    }

    /// Whether a grant it signed may still be valid at `now`.
    fn verifies_at(&self, now: Timestamp) -> bool {
        (self.stored.retired_at)
            .is_none_or(|retired_at| now < retired_at.plus_seconds(GRANT_TTL_SECONDS_MAX))
    }

    fn jwk(&self) -> PublicJwk {
        PublicJwk {
            kty: "EC",
            crv: "P-256",
            alg: "ES256",
            r#use: "sig",
            kid: self.stored.kid.clone(),
            x: self.x.clone(),
            y: self.y.clone(),
        }
    }
}

/// A public signing key as RFC 7517 writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct PublicJwk {
    /// `EC`.
    pub kty: &'static str,
    /// `P-256`.
    pub crv: &'static str,
    /// `ES256`.
    pub alg: &'static str,
    /// `sig`.
    pub r#use: &'static str,
    /// The `kid` of the grants' headers.
    pub kid: String,
    /// The public point's coordinates, base64url.
    pub x: String,
    pub y: String,
}

/// The keys that verify grants (`GET /.well-known/jwks.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct JwkSet {
    pub keys: Vec<PublicJwk>,
}

/// The signing keys: the current one (last) and the retired ones still verifying.
pub struct GrantKeys {
    path: PathBuf,
    keys: RwLock<Vec<SigningKey>>,
    /// Held while the file is rewritten, so that two rotations do not interleave.
    writing: Mutex<()>,
}

impl GrantKeys {
    /// Loads the keys kept in `data_directory`, generating the first one if there is none.
    pub fn open(data_directory: &Path, now: Timestamp) -> Result<Self, String> {
        let path = data_directory.join(FILE_NAME);
        let keys = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let file: KeyFile = serde_json::from_str(&text)
                    .map_err(|error| format!("{}: {error}", path.display()))?;
                file.keys
                    .into_iter()
                    .map(SigningKey::of)
                    .collect::<Result<Vec<_>, _>>()?
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(format!("reading {}: {error}", path.display())),
        };
        let grants = Self {
            path,
            keys: RwLock::new(keys),
            writing: Mutex::new(()),
        };
        if grants.read().is_empty() {
            grants.rotate(now)?;
        }
        Ok(grants)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<SigningKey>> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes a new current key and retires the previous one; drops the keys that can no
    /// longer verify a valid grant, and the oldest beyond `GRANT_KEYS_KEPT_MAX`. Answers the new
    /// key's id.
    pub fn rotate(&self, now: Timestamp) -> Result<String, String> {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let new = SigningKey::generate(now)?;
        let kid = new.stored.kid.clone();
        let mut stored: Vec<StoredKey> = (self.read().iter())
            .filter(|key| key.verifies_at(now))
            .map(|key| StoredKey {
                retired_at: key.stored.retired_at.or(Some(now)),
                ..key.stored.clone()
            })
            .collect();
        stored.push(new.stored.clone());
        let excess = stored.len().saturating_sub(GRANT_KEYS_KEPT_MAX);
        stored.drain(..excess);
        write_private(
            &self.path,
            &serde_json::to_vec_pretty(&KeyFile {
                keys: stored.clone(),
            })
            .expect("keys serialize"),
        )
        .map_err(|error| format!("writing {}: {error}", self.path.display()))?;
        let keys = stored
            .into_iter()
            .map(SigningKey::of)
            .collect::<Result<Vec<_>, _>>()?;
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
        Ok(kid)
    }

    /// The public keys, as a JWK set.
    pub fn jwks(&self, now: Timestamp) -> JwkSet {
        JwkSet {
            keys: (self.read().iter())
                .filter(|key| key.verifies_at(now))
                .map(SigningKey::jwk)
                .collect(),
        }
    }

    /// Signs `claims` with the current key.
    pub fn sign(&self, claims: &GrantClaims) -> Result<String, String> {
        let keys = self.read();
        let key = keys.last().expect("there is always a current key");
        let header = Header {
            kid: Some(key.stored.kid.clone()),
            ..Header::new(Algorithm::ES256)
        };
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|error| error.to_string())
    }

    /// The claims of `token` if one of the keys signed it and it is valid at `now`. Whether its
    /// key still works is the caller's to check (`Steward::check_grant`).
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<GrantClaims, GrantError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| GrantError::Invalid)?;
        let kid = header.kid.ok_or(GrantError::Invalid)?;
        let keys = self.read();
        let key = (keys.iter())
            .find(|key| key.stored.kid == kid && key.verifies_at(now))
            .ok_or(GrantError::Invalid)?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Expiry is checked against Steward's clock, below.
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<GrantClaims>(token, &key.decoding, &validation)
            .map_err(|_| GrantError::Invalid)?
            .claims;
        if now.unix_micros() >= claims.exp.saturating_mul(1_000_000) {
            return Err(GrantError::Expired);
        }
        Ok(claims)
    }
}

/// Why a grant was not issued.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IssueError {
    /// Only a key with at least a member's scopes makes grants.
    #[error("a grant is made with an API key holding at least member scopes")]
    NotAMembersKey,
    #[error("signing: {0}")]
    Signing(String),
}

/// An issued grant.
#[derive(Clone, Debug)]
pub struct Grant {
    pub access_token: String,
    pub claims: GrantClaims,
}

impl Steward {
    /// A grant of `ttl_seconds` (at most `GRANT_TTL_SECONDS_MAX`) made with the caller's key.
    pub fn issue_grant(
        &self,
        caller: &Principal,
        keys: &GrantKeys,
        ttl_seconds: i64,
    ) -> Result<Grant, IssueError> {
        let Principal::Key(key) = caller else {
            return Err(IssueError::NotAMembersKey);
        };
        if !Role::Member.permissions().is_subset_of(key.permissions) {
            return Err(IssueError::NotAMembersKey);
        }
        let iat = self.now().unix_micros().div_euclid(1_000_000);
        let claims = GrantClaims {
            iss: ISSUER.to_owned(),
            sub: key.key_id,
            project_id: key.project_id,
            account_id: key.account_id,
            scopes: GrantClaims::usage_scopes(key.permissions),
            iat,
            exp: iat + ttl_seconds.clamp(1, GRANT_TTL_SECONDS_MAX),
            jti: Uuid::now_v7(),
        };
        let access_token = keys.sign(&claims).map_err(IssueError::Signing)?;
        Ok(Grant {
            access_token,
            claims,
        })
    }

    /// What a grant token may do now: its usage scopes within what its key still may. A grant
    /// whose key was deleted, expired, or whose creator left is refused.
    pub fn check_grant(&self, keys: &GrantKeys, token: &str) -> Result<ValidKey, GrantError> {
        let now = self.now();
        let claims = keys.verify(token, now)?;
        let key = self
            .read(|projections| projections.keys.check_id(claims.sub, now))
            .map_err(|_| GrantError::KeyEnded)?;
        if key.project_id != claims.project_id || key.account_id != claims.account_id {
            return Err(GrantError::Invalid);
        }
        Ok(ValidKey {
            permissions: key.permissions.intersection(claims.permissions()),
            ..key
        })
    }
}

/// Writes `bytes` to `path` atomically (a synced temporary file renamed over it), readable and
/// writable by the owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    if let Some(directory) = path.parent() {
        std::fs::File::open(directory)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: Timestamp, ttl: i64) -> GrantClaims {
        GrantClaims {
            iss: ISSUER.into(),
            sub: KeyId::from_uuid(Uuid::from_u128(1)),
            project_id: ProjectId::from_uuid(Uuid::from_u128(2)),
            account_id: AccountId::from_uuid(Uuid::from_u128(3)),
            scopes: vec!["usage:write".into()],
            iat: now.unix_micros() / 1_000_000,
            exp: now.unix_micros() / 1_000_000 + ttl,
            jti: Uuid::now_v7(),
        }
    }

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-12-01T10:00:00Z").unwrap()
    }

    #[test]
    fn a_grant_verifies_until_it_expires_and_only_with_its_signature() {
        let directory = tempfile::tempdir().unwrap();
        let keys = GrantKeys::open(directory.path(), now()).unwrap();
        let token = keys.sign(&claims(now(), 30)).unwrap();
        assert_eq!(keys.verify(&token, now()).unwrap(), claims_of(&token));
        assert_eq!(
            keys.verify(&token, now().plus_seconds(30)),
            Err(GrantError::Expired)
        );
        // Another key's signature, a tampered payload, and nonsense are refused.
        let other = tempfile::tempdir().unwrap();
        let stranger = GrantKeys::open(other.path(), now()).unwrap();
        assert_eq!(stranger.verify(&token, now()), Err(GrantError::Invalid));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["scopes"] = serde_json::json!(["usage:write", "keys:write"]);
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        assert_eq!(
            keys.verify(&parts.join("."), now()),
            Err(GrantError::Invalid)
        );
        assert_eq!(keys.verify("not.a.jwt", now()), Err(GrantError::Invalid));
    }

    fn claims_of(token: &str) -> GrantClaims {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    #[test]
    fn keys_survive_a_restart_and_a_rotation_keeps_verifying_older_grants_for_their_lifetime() {
        let directory = tempfile::tempdir().unwrap();
        let keys = GrantKeys::open(directory.path(), now()).unwrap();
        let old = keys.sign(&claims(now(), GRANT_TTL_SECONDS_MAX)).unwrap();
        drop(keys);
        let keys = GrantKeys::open(directory.path(), now()).unwrap();
        assert!(
            keys.verify(&old, now()).is_ok(),
            "the key file was reloaded"
        );
        keys.rotate(now()).unwrap();
        let new = keys.sign(&claims(now(), 30)).unwrap();
        assert!(keys.verify(&new, now()).is_ok());
        assert!(keys.verify(&old, now().plus_seconds(60)).is_ok());
        assert_eq!(keys.jwks(now()).keys.len(), 2);
        // Once no grant of the retired key can be valid, it is no longer published.
        let later = now().plus_seconds(GRANT_TTL_SECONDS_MAX);
        assert_eq!(keys.jwks(later).keys.len(), 1);
        keys.rotate(later).unwrap();
        let file = std::fs::read_to_string(directory.path().join(FILE_NAME)).unwrap();
        assert_eq!(
            serde_json::from_str::<KeyFile>(&file).unwrap().keys.len(),
            2
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(directory.path().join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn the_jwk_set_publishes_the_public_point_only() {
        let directory = tempfile::tempdir().unwrap();
        let keys = GrantKeys::open(directory.path(), now()).unwrap();
        let jwks = serde_json::to_value(keys.jwks(now())).unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["crv"], "P-256");
        assert_eq!(key["alg"], "ES256");
        assert_eq!(key["use"], "sig");
        assert!(key.get("d").is_none(), "no private part: {key}");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(key["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
    }

    #[test]
    fn a_grant_carries_only_usage_scopes() {
        let owner = steward_events::Role::Owner.permissions();
        assert_eq!(
            GrantClaims::usage_scopes(owner),
            ["usage:read", "usage:write"]
        );
        let forged = GrantClaims {
            scopes: vec!["usage:write".into(), "keys:write".into()],
            ..claims(now(), 30)
        };
        assert_eq!(
            forged.permissions(),
            Permissions::of(Permission::UsageWrite)
        );
    }
}
