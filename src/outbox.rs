//! The outbox: invitation emails and how their delivery goes. Kept in the tree `outbox` beside
//! the log, never in the log, because a message holds the invitation token and secrets never
//! enter the log; swept once its invitation has expired.
//!
//! A message is written in the same group commit as the command that invites (or invites
//! again), before its events (`Steward::execute_with`), so an answered invitation always has
//! its email: the mail worker (`delivery`) sends it at least once. A message whose invitation
//! is no longer pending with its token (revoked, accepted, sent again) is not sent.

use crate::limits::{DELIVERIES_PER_ROUND_MAX, OUTBOX_LISTED_MAX, OUTBOX_WALKED_MAX};
use crate::{
    expiring::{ExpiringTree, Expiry},
    processor::{CommandError, DurableWriter},
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use steward_events::{
    BesideWrites, Email, KeyRange, LogError, LogStore, ProjectId, Timestamp, TreeName,
    SCAN_ENTRIES_MAX,
};
use utoipa::ToSchema;
use uuid::Uuid;

/// Where a message's delivery stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not sent yet (waiting for its next attempt, or for an SMTP server to be configured).
    #[default]
    Pending,
    /// The SMTP server accepted it.
    Sent,
    /// Given up: refused permanently, or out of attempts.
    Failed,
    /// Not sent, because its invitation was revoked, accepted or sent again first.
    Cancelled,
}

/// How a message's delivery went.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the worker tries next (pending messages only).
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
    /// The last error (a failed attempt's), or why it was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The SMTP server's answer to the accepted message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_answer: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OutboxMessage {
    #[schema(value_type = String, format = Uuid)]
    pub message_id: Uuid,
    pub to: String,
    pub subject: String,
    /// The plain-text part.
    pub body: String,
    /// The HTML part.
    #[serde(default)]
    pub html: String,
    /// The invitation token the email carries; accept it at `POST /v1/invitations/accept`.
    pub token: String,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
    /// The invitation's project (absent in messages written before delivery existed).
    #[schema(value_type = Option<String>, format = Uuid)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<ProjectId>,
    /// When the invitation (and the message with it) expires.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub delivery: Delivery,
}

impl OutboxMessage {
    /// The invitee's address, if the message names a valid one.
    pub fn recipient(&self) -> Option<Email> {
        Email::parse(&self.to).ok()
    }
}

pub struct Outbox {
    tree: ExpiringTree,
    /// The ids of the pending messages (tree `outbox_pending`), so that the worker reads only
    /// those, however many sent ones the outbox still shows.
    pending: TreeName,
    /// Project id + invited address → the id of the newest message to it (tree
    /// `outbox_latest`), for showing an invitation's delivery.
    latest: TreeName,
    store: Arc<dyn LogStore>,
    writer: DurableWriter,
    invitation_ttl_seconds: i64,
    /// Wakes the mail worker when a message was written.
    written: tokio::sync::Notify,
    /// Messages marked failed for good since start, for `/metrics`.
    failures: prometheus_client::metrics::counter::Counter,
}

impl Outbox {
    /// Messages expire with their invitation (`invitation_ttl_seconds` after they were written,
    /// for messages that do not say).
    pub fn open(
        store: &Arc<dyn LogStore>,
        writer: DurableWriter,
        invitation_ttl_seconds: i64,
    ) -> Result<Self, LogError> {
        let expiry_of = move |value: &[u8]| match serde_json::from_slice::<OutboxMessage>(value) {
            Ok(message) => Expiry(expiry(&message, invitation_ttl_seconds)),
            Err(_) => Expiry(Timestamp::from_unix_micros(i64::MIN / 2)),
        };
        Ok(Self {
            tree: ExpiringTree::open(
                store,
                ("outbox", "outbox_expiry"),
                writer.clone(),
                expiry_of,
            )?,
            pending: "outbox_pending",
            latest: "outbox_latest",
            store: Arc::clone(store),
            writer,
            invitation_ttl_seconds,
            written: tokio::sync::Notify::new(),
            failures: Default::default(),
        })
    }

    /// Tells the mail worker a message was written.
    pub fn wake(&self) {
        self.written.notify_one();
    }

    /// Resolves once a message was written (since the last time).
    pub async fn woken(&self) {
        self.written.notified().await
    }

    /// The writes that keep a new `message` until its invitation expires, pending, and as the
    /// newest to its invitee: to be made durable with the invitation's command.
    pub fn insertion(&self, message: &OutboxMessage) -> BesideWrites {
        let mut writes = self.writes(message);
        if let (Some(project_id), Some(email)) = (message.project_id, message.recipient()) {
            writes.insert(
                self.latest,
                latest_key(project_id, &email),
                &message.message_id.as_bytes()[..],
            );
        }
        writes
    }

    /// How the newest email of the invitation of `email` to `project_id` went, if it is kept.
    pub fn delivery_of(
        &self,
        project_id: ProjectId,
        email: &Email,
        now: Timestamp,
    ) -> Result<Option<Delivery>, LogError> {
        let Some(message_id) = self
            .store
            .get(self.latest, &latest_key(project_id, email))?
        else {
            return Ok(None);
        };
        Ok((self.tree.get(&message_id, now)?)
            .and_then(|value| serde_json::from_slice::<OutboxMessage>(&value).ok())
            .map(|message| message.delivery))
    }

    /// The writes that keep `message` (as it stands now) and mark it pending or not.
    fn writes(&self, message: &OutboxMessage) -> BesideWrites {
        let key = message.message_id.as_bytes();
        let value = serde_json::to_vec(message).expect("messages serialize");
        let expires = Expiry(expiry(message, self.invitation_ttl_seconds));
        let mut writes = self.tree.insertion(key, value, expires);
        match message.delivery.state {
            DeliveryState::Pending => writes.insert(self.pending, key, Vec::new()),
            _ => writes.remove(self.pending, key),
        }
        writes
    }

    /// Writes `message` again (its delivery changed); returns once durable.
    pub async fn update(&self, message: &OutboxMessage) -> Result<(), CommandError> {
        self.writer.write(self.writes(message)).await?;
        if message.delivery.state == DeliveryState::Failed {
            self.failures.inc();
        }
        Ok(())
    }

    /// The messages marked failed for good since start (a counter `/metrics` shows).
    pub fn failures(&self) -> &prometheus_client::metrics::counter::Counter {
        &self.failures
    }

    /// How many messages wait to be sent: at most `OUTBOX_WALKED_MAX`, as many as the mail
    /// worker looks at.
    pub fn pending_count(&self) -> Result<usize, LogError> {
        Ok(self.pending_ids()?.len())
    }

    /// The ids of the first `OUTBOX_WALKED_MAX` pending messages, oldest first.
    fn pending_ids(&self) -> Result<Vec<Vec<u8>>, LogError> {
        let mut ids = Vec::new();
        let mut from = Vec::new();
        while ids.len() < OUTBOX_WALKED_MAX {
            let range = KeyRange {
                from: &from,
                to: None,
                descending: false,
            };
            let page = self.store.scan(self.pending, range, SCAN_ENTRIES_MAX)?;
            let Some((last, _)) = page.last() else {
                break;
            };
            from = [&last[..], &[0]].concat();
            let room = OUTBOX_WALKED_MAX - ids.len();
            ids.extend(page.into_iter().take(room).map(|(key, _)| key));
        }
        Ok(ids)
    }

    /// Forgets a pending id whose message is gone (swept with its expired invitation).
    async fn forget(&self, message_id: &[u8]) -> Result<(), CommandError> {
        let mut writes = BesideWrites::default();
        writes.remove(self.pending, message_id);
        self.writer.write(writes).await
    }

    /// The newest `OUTBOX_LISTED_MAX` messages whose invitations can still be accepted at
    /// `now`, oldest first (message ids are UUID v7).
    pub fn list(&self, now: Timestamp) -> Result<Vec<OutboxMessage>, LogError> {
        let newest = self.tree.newest_live(now, OUTBOX_LISTED_MAX)?;
        Ok(newest
            .iter()
            .rev()
            .filter_map(|value| serde_json::from_slice(value).ok())
            .collect())
    }

    /// The pending messages due at `now` (their next attempt has come), oldest first: at most
    /// `DELIVERIES_PER_ROUND_MAX` of them, of the first `OUTBOX_WALKED_MAX` pending ones.
    pub async fn due(&self, now: Timestamp) -> Result<Vec<OutboxMessage>, CommandError> {
        let mut due = Vec::new();
        for key in self.pending_ids()? {
            let message = (self.tree.get(&key, now)?)
                .and_then(|value| serde_json::from_slice::<OutboxMessage>(&value).ok());
            let Some(message) = message else {
                self.forget(&key).await?;
                continue;
            };
            let ready = (message.delivery.next_attempt_at).is_none_or(|next| next <= now);
            if message.delivery.state == DeliveryState::Pending && ready {
                due.push(message);
                if due.len() == DELIVERIES_PER_ROUND_MAX {
                    break;
                }
            }
        }
        Ok(due)
    }

    /// Removes the messages whose invitations expired by `now`; returns how many.
    pub async fn sweep(&self, now: Timestamp) -> Result<usize, CommandError> {
        self.tree.sweep(now).await
    }
}

/// The key of an invitation in `outbox_latest`: the project's id, then the address.
fn latest_key(project_id: ProjectId, email: &Email) -> Vec<u8> {
    let mut key = project_id.as_bytes().to_vec();
    key.extend_from_slice(email.as_str().as_bytes());
    key
}

/// When `message` expires: with its invitation.
fn expiry(message: &OutboxMessage, invitation_ttl_seconds: i64) -> Timestamp {
    (message.expires_at).unwrap_or_else(|| message.created.plus_seconds(invitation_ttl_seconds))
}
