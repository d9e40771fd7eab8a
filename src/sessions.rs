//! Account sessions: random bearer tokens, stored only as their SHA-256 with the account and
//! an expiry, in the tree `sessions` beside the log (indexed by expiry, and swept once
//! expired). Not events: a session is a login, not a fact about projects, and it would only
//! grow the log.
//!
//! An account keeps at most `SESSIONS_PER_ACCOUNT_MAX` sessions: the tree `sessions_by_account`
//! lists each account's by expiry, and a login past the limit ends the one that expires first
//! (the oldest, as every session lives as long) in the same write that starts the new one. The
//! list is tidied by the account's next login (a session ended or expired since is dropped from
//! it), so it holds at most about the limit per account.
//! Two logins of one account at the same moment may each see room for one more; the next login
//! ends what is over. Sessions started before the list existed are not in it, and end with age.

use crate::{
    expiring::{ExpiringTree, Expiry},
    limits::SESSIONS_PER_ACCOUNT_MAX,
    processor::{CommandError, DurableWriter},
    secrets::{hash_secret, Secret},
};
use std::sync::Arc;
use steward_events::{AccountId, BesideWrites, KeyRange, LogError, LogStore, Timestamp, TreeName};
use uuid::Uuid;

/// Prefix of every session token.
pub const SESSION_PREFIX: &str = "stw_ses_";

/// The sessions by their token's hash.
const VALUES: TreeName = "sessions";
/// Each account's sessions: the account id, the session's expiry, the token's hash.
const BY_ACCOUNT: TreeName = "sessions_by_account";

pub struct Sessions {
    tree: ExpiringTree,
    store: Arc<dyn LogStore>,
    ttl_seconds: i64,
}

/// The key of a session in `sessions_by_account`: its account's sessions sort together, oldest
/// expiry first (every session lives as long, so that is oldest first).
fn by_account_key(account_id: AccountId, expires_at: Timestamp, hash: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(16 + 8 + hash.len());
    key.extend_from_slice(account_id.as_bytes());
    key.extend_from_slice(&Expiry(expires_at).sort_key());
    key.extend_from_slice(hash);
    key
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
            tree: ExpiringTree::open(store, (VALUES, "sessions_expiry"), writer, expiry_of)?,
            store: Arc::clone(store),
            ttl_seconds,
        })
    }

    /// Starts a session for `account_id`, ending its oldest if it keeps
    /// `SESSIONS_PER_ACCOUNT_MAX` already; returns the token, shown once.
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
        let mut writes = self.making_room(account_id, now)?;
        writes.insert(
            BY_ACCOUNT,
            by_account_key(account_id, expires_at, &key),
            Vec::new(),
        );
        (self.tree)
            .insert_with(&key, value, Expiry(expires_at), writes)
            .await?;
        Ok(token.secret)
    }

    /// The writes that leave room for one more session of `account_id`: its list without the
    /// sessions ended or expired since, and without its oldest live ones past the limit, which
    /// end.
    fn making_room(&self, account_id: AccountId, now: Timestamp) -> Result<BesideWrites, LogError> {
        let from = account_id.as_bytes().to_vec();
        let to = (u128::from_be_bytes(*account_id.as_bytes()))
            .checked_add(1)
            .map(|next| next.to_be_bytes().to_vec());
        let range = KeyRange {
            from: &from,
            to: to.as_deref(),
            descending: false,
        };
        // About the limit are listed; more only after concurrent logins, tidied over the
        // next ones.
        let listed = (self.store).scan(BY_ACCOUNT, range, 2 * SESSIONS_PER_ACCOUNT_MAX)?;
        let mut writes = BesideWrites::default();
        let mut live = Vec::new();
        for (entry, _) in listed {
            let live_session = match entry.get(24..) {
                Some(hash) => self.tree.get(hash, now)?.is_some(),
                None => false,
            };
            if live_session {
                live.push(entry);
            } else {
                writes.remove(BY_ACCOUNT, entry);
            }
        }
        let over = (live.len() + 1).saturating_sub(SESSIONS_PER_ACCOUNT_MAX);
        for entry in live.into_iter().take(over) {
            writes.remove(VALUES, &entry[24..]);
            writes.remove(BY_ACCOUNT, entry);
        }
        Ok(writes)
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
