//! The envelope: where an event sits in the log, who caused it, when, and under which command.

use crate::{
    catalog::Event,
    ids::{AccountId, EventId, KeyId, ProjectId},
    time::Timestamp,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A stream: the events of one account or one project, versioned from 1 without gaps.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamId {
    Account(AccountId),
    Project(ProjectId),
}

impl StreamId {
    /// Length of `storage_prefix`: a kind byte and the sixteen bytes of the id.
    pub const PREFIX_LEN: usize = 17;

    /// The stream's part of a storage key: a kind byte, then the id's bytes.
    pub fn storage_prefix(&self) -> [u8; Self::PREFIX_LEN] {
        let (kind, id) = match self {
            StreamId::Account(account_id) => (b'a', account_id.as_bytes()),
            StreamId::Project(project_id) => (b'p', project_id.as_bytes()),
        };
        let mut prefix = [0u8; Self::PREFIX_LEN];
        prefix[0] = kind;
        prefix[1..].copy_from_slice(id);
        prefix
    }

    pub fn from_storage_prefix(bytes: &[u8]) -> Option<Self> {
        let id: [u8; 16] = bytes.get(1..Self::PREFIX_LEN)?.try_into().ok()?;
        let uuid = Uuid::from_bytes(id);
        match bytes.first()? {
            b'a' => Some(StreamId::Account(AccountId::from_uuid(uuid))),
            b'p' => Some(StreamId::Project(ProjectId::from_uuid(uuid))),
            _ => None,
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamId::Account(account_id) => write!(formatter, "account/{account_id}"),
            StreamId::Project(project_id) => write!(formatter, "project/{project_id}"),
        }
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, formatter)
    }
}

impl Event {
    /// The stream an event belongs to: its account's for account events, else its project's.
    pub fn stream(&self) -> StreamId {
        match self {
            Event::AccountRegistered { account_id, .. } | Event::AccountDeleted { account_id } => {
                StreamId::Account(*account_id)
            }
            other => StreamId::Project(
                other
                    .project_id()
                    .expect("every event but the account events names a project"),
            ),
        }
    }
}

/// Who caused an event.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// A person, through a session.
    Account(AccountId),
    /// An API key, acting as its creator.
    Key {
        key_id: KeyId,
        account_id: AccountId,
    },
    /// The support and billing side, authenticated by the operator token.
    Operator,
    /// Steward itself (the expiry sweeper, signup's own follow-ups).
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Account(account_id) => write!(formatter, "account:{account_id}"),
            Actor::Key { key_id, .. } => write!(formatter, "key:{key_id}"),
            Actor::Operator => formatter.write_str("operator"),
            Actor::System => formatter.write_str("system"),
        }
    }
}

/// One stored event and everything known about it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// Global position, from 1, without gaps.
    pub position: u64,
    pub stream: StreamId,
    /// Version within the stream, from 1, without gaps.
    pub stream_version: u64,
    pub event_id: EventId,
    pub recorded_at: Timestamp,
    pub actor: Actor,
    /// The command that produced the event; every event of one command shares it.
    pub correlation_id: Uuid,
    /// The schema version the record was written with (the event itself is always current).
    pub schema_version: u16,
    pub event: Event,
}
