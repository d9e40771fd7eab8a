//! The outbox: invitation emails waiting for delivery, readable by the operator until real mail
//! delivery exists. Kept in the sled tree `outbox`, never in the log, because a message holds the
//! invitation token and secrets never enter the log.

use serde::{Deserialize, Serialize};
use steward_events::Timestamp;
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
}

impl Outbox {
    pub fn open(db: &sled::Db) -> sled::Result<Self> {
        Ok(Self {
            tree: db.open_tree("outbox")?,
        })
    }

    pub async fn push(&self, message: &OutboxMessage) -> sled::Result<()> {
        let value = serde_json::to_vec(message).expect("messages serialize");
        self.tree.insert(message.message_id.as_bytes(), value)?;
        self.tree.flush_async().await?;
        Ok(())
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
