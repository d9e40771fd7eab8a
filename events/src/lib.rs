//! Steward's event catalog, the envelope every event travels in, the record codec and the log.
//!
//! This crate knows nothing of commands or read models: it holds the facts and keeps them safe.
#![forbid(unsafe_code)]

pub mod access;
pub mod catalog;
pub mod codec;
pub mod envelope;
pub mod error;
pub mod features;
pub mod ids;
pub mod limits;
pub mod log;
pub mod money;
pub mod spending;
pub mod time;
pub mod values;

pub use access::{Permission, Permissions, Role, Scope};
pub use catalog::{
    ConsumedPortion, CreditSource, Deployment, Endpoint, Event, RemovalReason, RequestMethod,
    TransferPortion, UsageUnits,
};
pub use envelope::{Actor, Envelope, StreamId};
pub use error::LogError;
pub use features::{Feature, FeatureSet};
pub use ids::{AccountId, EventId, GrantId, KeyId, ModelId, ProjectId, RequestId, TransferId};
pub use log::{
    AppendOutcome, BesideStore, BesideWrites, Commit, Entry, EventLog, ExpectedVersion, KeyRange,
    LogStore, PgLog, ProposedEvent, SledLog, TreeName, VerifyReport, SCAN_ENTRIES_MAX,
};
pub use money::{parse_fixed_decimal, LedgerTotal, Nanodollars};
pub use spending::{is_expired, spend_order, Expiring};
pub use time::Timestamp;
pub use values::{Email, Sha256Digest, Tag, ValueError};
