//! Account sessions: random bearer tokens, stored only as their SHA-256 with the account and
//! an expiry, in the sled tree `sessions` beside the log. Not events: a session is a login,
//! not a fact about projects, and it would only grow the log.

use crate::secrets::{hash_secret, Secret};
use steward_events::{AccountId, Timestamp};
use uuid::Uuid;

/// Prefix of every session token.
pub const SESSION_PREFIX: &str = "stw_ses_";

pub struct Sessions {
    tree: sled::Tree,
    ttl_seconds: i64,
}

impl Sessions {
    pub fn open(db: &sled::Db, ttl_seconds: i64) -> sled::Result<Self> {
        Ok(Self {
            tree: db.open_tree("sessions")?,
            ttl_seconds,
        })
    }

    /// Starts a session for `account_id`; returns the token, shown once.
    pub async fn start(&self, account_id: AccountId, now: Timestamp) -> sled::Result<String> {
        let token = Secret::generate_with_prefix(SESSION_PREFIX);
        let expires_at = now.plus_seconds(self.ttl_seconds);
        let mut value = Vec::with_capacity(24);
        value.extend_from_slice(account_id.as_bytes());
        value.extend_from_slice(&expires_at.unix_micros().to_be_bytes());
        self.tree.insert(token.hash.as_bytes(), value)?;
        self.tree.flush_async().await?;
        Ok(token.secret)
    }

    /// The account a live session token belongs to.
    pub fn account(&self, token: &str, now: Timestamp) -> sled::Result<Option<AccountId>> {
        let Some(value) = self.tree.get(hash_secret(token).as_bytes())? else {
            return Ok(None);
        };
        let (Ok(account), Ok(expires_at)) = (
            <[u8; 16]>::try_from(&value[..16.min(value.len())]),
            <[u8; 8]>::try_from(&value[16.min(value.len())..]),
        ) else {
            return Ok(None);
        };
        if Timestamp::from_unix_micros(i64::from_be_bytes(expires_at)) <= now {
            return Ok(None);
        }
        Ok(Some(AccountId::from_uuid(Uuid::from_bytes(account))))
    }

    /// Ends a session; ending an unknown one is not an error.
    pub async fn end(&self, token: &str) -> sled::Result<()> {
        self.tree.remove(hash_secret(token).as_bytes())?;
        self.tree.flush_async().await?;
        Ok(())
    }
}
