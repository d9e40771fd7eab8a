//! Account sessions: random bearer tokens, stored only as their SHA-256 with the account and
//! an expiry, in the sled tree `sessions` beside the log. Not events: a session is a login,
//! not a fact about projects, and it would only grow the log.

use crate::{
    processor::{CommandError, DurableWriter},
    secrets::{hash_secret, Secret},
};
use steward_events::{AccountId, BesideWrites, Timestamp};
use uuid::Uuid;

/// Prefix of every session token.
pub const SESSION_PREFIX: &str = "stw_ses_";

pub struct Sessions {
    tree: sled::Tree,
    writer: DurableWriter,
    ttl_seconds: i64,
}

impl Sessions {
    pub fn open(db: &sled::Db, writer: DurableWriter, ttl_seconds: i64) -> sled::Result<Self> {
        Ok(Self {
            tree: db.open_tree("sessions")?,
            writer,
            ttl_seconds,
        })
    }

    /// Applies `batch` with the next group commit.
    async fn write(&self, batch: sled::Batch) -> Result<(), CommandError> {
        let mut writes = BesideWrites::default();
        writes.push(&self.tree, batch);
        self.writer.write(writes).await
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
        let mut batch = sled::Batch::default();
        batch.insert(token.hash.as_bytes(), value);
        self.write(batch).await?;
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
    pub async fn end(&self, token: &str) -> Result<(), CommandError> {
        let mut batch = sled::Batch::default();
        batch.remove(hash_secret(token).as_bytes());
        self.write(batch).await
    }
}
