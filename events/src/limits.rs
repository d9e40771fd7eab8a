//! Every named bound of the event log, in one place.

/// The most events one commit (one command's events) may hold.
pub const EVENTS_PER_COMMIT_MAX: usize = 4096;
/// The most commits one append (one group commit) may hold.
pub const COMMITS_PER_APPEND_MAX: usize = 4096;
/// The most bytes one encoded record may take; bigger events are refused on append.
pub const RECORD_BYTES_MAX: usize = 64 * 1024;
/// The most positions one stream-index entry holds (32 KiB), so that re-indexing a whole log
/// does not make one entry of a busy stream's every event.
pub const RUN_POSITIONS_MAX: usize = 4096;
