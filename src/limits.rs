//! Every named bound of the `steward` crate on what a caller can make grow: in one place, so
//! that what a thousand of anything costs can be read off one page. (The log's own bounds are
//! in `steward_events::limits`.)

use steward_events::Nanodollars;

/// The longest project, first or last name, or company.
pub const NAME_CHARS_MAX: usize = 100;
/// The longest key comment.
pub const COMMENT_CHARS_MAX: usize = 256;
/// The longest purchase order or contract reference of a grant.
pub const REFERENCE_CHARS_MAX: usize = 256;
/// The longest model name a metered request may carry.
pub const MODEL_CHARS_MAX: usize = 128;
/// The most scopes one key may carry.
pub const SCOPES_PER_KEY_MAX: usize = 64;
/// The most tags one key may carry.
pub const TAGS_PER_KEY_MAX: usize = 32;
/// The most tags one metered request may carry (besides its key's).
pub const TAGS_PER_REQUEST_MAX: usize = 32;
/// The largest single grant or transfer: one billion dollars.
pub const AMOUNT_MAX: Nanodollars = Nanodollars::from_usd(1_000_000_000);
/// The largest balance a project may hold, so that no sum of balances overflows.
pub const PROJECT_BALANCE_MAX: Nanodollars = Nanodollars::from_usd(4_000_000_000);
/// The most one request may cost: one million dollars.
pub const REQUEST_COST_MAX: Nanodollars = Nanodollars::from_usd(1_000_000);

/// The most client addresses each per-address limit (failed authentications, sign-ups)
/// tracks at once; past it the oldest window is forgotten.
pub const THROTTLED_ADDRESSES_MAX: usize = 100_000;
/// The most password hashes (argon2id, about 19 MiB each) computed at once: twice this
/// machine's two cores.
pub const PASSWORD_HASHES_IN_FLIGHT_MAX: usize = 4;
/// The most password hashes waiting for one of those slots; past it sign-ups and logins are
/// answered 429 at once rather than queued.
pub const PASSWORD_HASHES_QUEUED_MAX: usize = 1024;
/// The most expired entries (sessions, idempotency answers, outbox messages) one sweep step
/// removes in one group commit.
pub const SWEEP_CHUNK_MAX: usize = 1000;
