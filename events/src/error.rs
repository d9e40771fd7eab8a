//! `LogError`: everything that can go wrong reading or writing the event log.

use crate::envelope::StreamId;

/// An error of the event log. None of these are shown to API clients; the HTTP layer maps them
/// all to 500 (or 409 for `Conflict`) and logs the cause.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The storage engine failed (I/O, or sled's own corruption report).
    #[error("storage: {0}")]
    Storage(#[from] sled::Error),
    /// An event could not be encoded (a bug: every event is encodable).
    #[error("encode: {0}")]
    Encode(String),
    /// A stream was not at the version the writer expected.
    #[error("conflict on {stream}: expected version {expected}, found {actual}")]
    Conflict {
        stream: StreamId,
        expected: u64,
        actual: u64,
    },
    /// A stored record failed its checksum, was cut short, or did not decode.
    #[error("corrupt record at position {position}: {reason}")]
    Corrupt { position: u64, reason: String },
    /// The stream index could not be written (the events themselves are safe; reopening the
    /// log re-indexes them).
    #[error("stream index: {0}")]
    Index(String),
    /// A commit broke a named limit.
    #[error("limit exceeded: {0}")]
    Limit(&'static str),
    /// The PostgreSQL log's database failed or refused (connection, statement, schema).
    #[error("database: {0}")]
    Database(String),
    /// This node does not hold the PostgreSQL log's writer lock (another was elected): it
    /// may read, not append. Nothing of the refused append was written.
    #[error("this node is not the log's writer")]
    NotWriter,
}
