//! The outbox: invitation emails waiting for delivery, readable by the operator until real mail
//! delivery exists. Kept in the sled tree `outbox`, never in the log, because a message holds the
//! invitation token and secrets never enter the log.

use crate::processor::{CommandError, DurableWriter};
use serde::{Deserialize, Serialize};
use steward_events::{BesideWrites, Timestamp};
use utoipa::ToSchema;
use uuid::Uuid;

/// The most messages the outbox lists at once (newest kept).
pub const MAX_LISTED_MESSAGES: usize = 1000;

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
    tree: sled::Tree,
    writer: DurableWriter,
}

impl Outbox {
    pub fn open(db: &sled::Db, writer: DurableWriter) -> sled::Result<Self> {
        Ok(Self {
            tree: db.open_tree("outbox")?,
            writer,
        })
    }

    /// Keeps `message`; returns once it is durable (with the next group commit).
    pub async fn push(&self, message: &OutboxMessage) -> Result<(), CommandError> {
        let value = serde_json::to_vec(message).expect("messages serialize");
        let mut batch = sled::Batch::default();
        batch.insert(message.message_id.as_bytes(), value);
        let mut writes = BesideWrites::default();
        writes.push(&self.tree, batch);
        self.writer.write(writes).await
    }

    /// The newest messages, oldest first (message ids are UUID v7).
    pub fn list(&self) -> sled::Result<Vec<OutboxMessage>> {
        let mut messages = Vec::new();
        for entry in self.tree.iter().rev().take(MAX_LISTED_MESSAGES) {
            let (_, value) = entry?;
            if let Ok(message) = serde_json::from_slice(&value) {
                messages.push(message);
            }
        }
        messages.reverse();
        Ok(messages)
    }
}
