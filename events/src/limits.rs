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
/// The most bytes of records one `events` value (a segment) holds: an append's records are
/// packed into values of at most this size, and a record bigger than it is a value alone.
/// Small enough that a sled leaf (it splits above 16 entries) stays below sled's blob
/// threshold (a quarter of its 512 KiB segment), which would move the leaf to a file apart.
pub const SEGMENT_BYTES_MAX: usize = 4 * 1024;
/// The most records one segment holds.
pub const SEGMENT_RECORDS_MAX: usize = 1024;
/// The most request ids appended but not yet indexed that the log holds in memory (about 100
/// bytes each); an append past it waits for the indexer.
pub const RECENT_REQUESTS_MAX: usize = 65_536;
