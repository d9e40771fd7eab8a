//! Account sessions: random bearer tokens, stored only as their SHA-256 with the account and
//! an expiry, in the tree `sessions` beside the log (indexed by expiry, and swept once
//! expired). Not events: a session is a login, not a fact about projects, and it would only
//! grow the log.

use crate::{
    expiring::{ExpiringTree, Expiry},
    processor::{CommandError, DurableWriter},
    secrets::{hash_secret, Secret},
};
use std::sync::Arc;
use steward_events::{AccountId, LogError, LogStore, Timestamp};
use uuid::Uuid;

/// Prefix of every session token.
pub const SESSION_PREFIX: &str = "stw_ses_";

pub struct Sessions {
    tree: ExpiringTree,
    ttl_seconds: i64,
}

/// A session's value: the account's 16 bytes, then its expiry in big-endian unix microseconds.
fn expiry_of(value: &[u8]) -> Expiry {
    let micros = value
        .get(16..24)
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map_or(i64::MIN, i64::from_be_bytes);
    Expiry(Timestamp::from_unix_micros(micros))
}

impl Sessions {
    pub fn open(
        store: &Arc<dyn LogStore>,
        writer: DurableWriter,
        ttl_seconds: i64,
    ) -> Result<Self, LogError> {
        Ok(Self {
            tree: ExpiringTree::open(store, ("sessions", "sessions_expiry"), writer, expiry_of)?,
            ttl_seconds,
        })
    }

    /// Starts a session for `account_id`; returns the token, shown once.
    pub async fn start(
        &self,
        account_id: AccountId,
        now: Timestamp,
    ) -> Result<String, CommandError> {
        let token = Secret::generate_with_prefix(SESSION_PREFIX);
        let expires_at = now.plus_seconds(self.ttl_seconds);
        let mut value = Vec::with_capacity(24);
        value.extend_from_slice(account_id.as_bytes());
        value.extend_from_slice(&expires_at.unix_micros().to_be_bytes());
        let key = token.hash.as_bytes().to_vec();
        self.tree.insert(&key, value, Expiry(expires_at)).await?;
        Ok(token.secret)
    }

    /// The account a live session token belongs to.
    pub fn account(&self, token: &str, now: Timestamp) -> Result<Option<AccountId>, LogError> {
        let Some(value) = self.tree.get(hash_secret(token).as_bytes(), now)? else {
            return Ok(None);
        };
        Ok(<[u8; 16]>::try_from(&value[..16.min(value.len())])
            .ok()
            .map(|account| AccountId::from_uuid(Uuid::from_bytes(account))))
    }

    /// Ends a session; ending an unknown one is not an error.
    pub async fn end(&self, token: &str) -> Result<(), CommandError> {
        self.tree.remove(hash_secret(token).as_bytes()).await
    }

    /// Removes the sessions expired at `now`; returns how many.
    pub async fn sweep(&self, now: Timestamp) -> Result<usize, CommandError> {
        self.tree.sweep(now).await
    }

    /// How many sessions are kept, expired or not yet swept.
    pub fn count(&self) -> Result<u64, LogError> {
        self.tree.count()
    }
}
