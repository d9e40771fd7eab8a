//! The outbox: invitation emails waiting for delivery, readable by the operator until real mail
//! delivery exists. Kept in the sled tree `outbox`, never in the log, because a message holds the
//! invitation token and secrets never enter the log; swept once its invitation has expired.

use crate::limits::OUTBOX_LISTED_MAX;
use crate::{
    expiring::{ExpiringTree, Expiry},
    processor::{CommandError, DurableWriter},
};
use serde::{Deserialize, Serialize};
use steward_events::Timestamp;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OutboxMessage {
    #[schema(value_type = String, format = Uuid)]
    pub message_id: Uuid,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The invitation token the email carries; accept it at `POST /v1/invitations/accept`.
    pub token: String,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
}

pub struct Outbox {
    tree: ExpiringTree,
}

impl Outbox {
    /// Messages expire with their invitation, `invitation_ttl_seconds` after they were written.
    pub fn open(
        db: &sled::Db,
        writer: DurableWriter,
        invitation_ttl_seconds: i64,
    ) -> sled::Result<Self> {
        let expiry_of = move |value: &[u8]| {
            let created = serde_json::from_slice::<OutboxMessage>(value)
                .map_or(Timestamp::from_unix_micros(i64::MIN / 2), |message| {
                    message.created
                });
            Expiry(created.plus_seconds(invitation_ttl_seconds))
        };
        Ok(Self {
            tree: ExpiringTree::open(db, "outbox", writer, expiry_of)?,
        })
    }

    /// Keeps `message` until its invitation expires; returns once it is durable.
    pub async fn push(
        &self,
        message: &OutboxMessage,
        expires_at: Timestamp,
    ) -> Result<(), CommandError> {
        let value = serde_json::to_vec(message).expect("messages serialize");
        (self.tree)
            .insert(message.message_id.as_bytes(), value, Expiry(expires_at))
            .await
    }

    /// The newest `OUTBOX_LISTED_MAX` messages whose invitations can still be accepted at
    /// `now`, oldest first (message ids are UUID v7).
    pub fn list(&self, now: Timestamp) -> sled::Result<Vec<OutboxMessage>> {
        let newest = self.tree.newest_live(now, OUTBOX_LISTED_MAX)?;
        Ok(newest
            .iter()
            .rev()
            .filter_map(|value| serde_json::from_slice(value).ok())
            .collect())
    }

    /// Removes the messages whose invitations expired by `now`; returns how many.
    pub async fn sweep(&self, now: Timestamp) -> Result<usize, CommandError> {
        self.tree.sweep(now).await
    }
}
