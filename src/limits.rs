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
/// The most distinct tags one project's requests may carry in a UTC month. A request's own tags
/// come from whoever holds a key (the gateway passes on the `tag=` of its URI), and each new one
/// is held in memory by the write model, the budgets and the day's usage; past this, a request
/// may carry only tags already used that month. A business that bills a customer per tag keeps
/// up to this many customers in one project.
pub const TAGS_PER_PROJECT_MONTH_MAX: usize = 10_000;
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

/// The most events one command may decide; the log's own bound (`EVENTS_PER_COMMIT_MAX`) is
/// above it.
pub const EVENTS_PER_COMMAND_MAX: usize = 1000;
/// The most balances one transfer or one payment may take credit from (its event's parts), so
/// that its event stays far below the log's record limit (about 60 bytes a part).
pub const PORTIONS_PER_EVENT_MAX: usize = 256;
/// The most balances with credit left a project may hold (grants and arrived transfers), so
/// that a payment never needs more than `PORTIONS_PER_EVENT_MAX` of them.
pub const BALANCES_PER_PROJECT_MAX: usize = 256;
/// The most grants one expiry sweep command records expired; the sweeper repeats it.
pub const EXPIRIES_PER_SWEEP_MAX: usize = 500;
/// The most live keys a project may hold (a business may keep a key per customer).
pub const KEYS_PER_PROJECT_MAX: usize = 10_000;
/// The most invitations a project may have pending (unexpired).
pub const INVITATIONS_PER_PROJECT_MAX: usize = 500;
/// The most members a project may have.
pub const MEMBERS_PER_PROJECT_MAX: usize = 1000;
/// Tag budgets one project may hold.
pub const BUDGETS_PER_PROJECT_MAX: usize = 1000;
/// The longest a rotated key's previous secret keeps working: 7 days.
pub const ROTATION_OVERLAP_SECONDS_MAX: i64 = 7 * 86_400;
/// The most sessions an account keeps: logging in once more ends its oldest, so that one
/// person logging in again and again cannot fill the disk for the sessions' lifetime.
pub const SESSIONS_PER_ACCOUNT_MAX: usize = 100;
/// The most projects an account may belong to (deleting an account leaves each in one event).
pub const PROJECTS_PER_ACCOUNT_MAX: usize = 200;

/// The most entries a request-log or audit-log read examines; past it the page ends early with
/// a cursor to go on from, so that a filter matching nothing never reads the whole history.
pub const ENTRIES_SCANNED_PER_READ_MAX: usize = 20_000;
/// The most entries `page` may skip (page × limit); older entries are reached by cursor.
pub const PAGE_SKIP_MAX: usize = 10_000;
/// The most reads scanning the log (the request and audit logs, several-tag usage) running at
/// once, on this machine's two cores: one, so that the other serves everything else.
pub const LOG_SCANS_IN_FLIGHT_MAX: usize = 1;

/// The largest request body accepted: a batch of metered requests fits, nothing much more.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;
/// Requests per page of the request log (10 by default).
pub const REQUESTS_PAGE_MAX: usize = 1000;
/// Entries per page of the audit log (50 by default).
pub const AUDIT_PAGE_MAX: usize = 1000;
/// The longest a key may live when given a time to live: ten years.
pub const KEY_TTL_SECONDS_MAX: i64 = 10 * 366 * 86_400;
/// The most of any unit one metered request may report.
pub const UNITS_PER_REQUEST_MAX: u64 = 1_000_000_000;
/// The most requests one metering batch may carry.
pub const METERING_BATCH_MAX: usize = 1000;
/// The longest `Idempotency-Key` accepted.
pub const IDEMPOTENCY_KEY_CHARS_MAX: usize = 255;
/// The largest answer kept for an `Idempotency-Key`.
pub const KEPT_ANSWER_BYTES_MAX: usize = 4 * 1024 * 1024;
/// The most outbox messages listed at once (the newest).
pub const OUTBOX_LISTED_MAX: usize = 1000;
/// The most commands waiting for the processor; senders wait beyond it (backpressure).
pub const QUEUED_COMMANDS_MAX: usize = 4096;
/// The most commands decided and appended together (one group commit).
pub const BATCH_COMMANDS_MAX: usize = 1024;
/// The shortest password accepted.
pub const PASSWORD_CHARS_MIN: usize = 8;
/// The longest password accepted.
pub const PASSWORD_CHARS_MAX: usize = 256;
/// The shortest operator token accepted.
pub const OPERATOR_TOKEN_CHARS_MIN: usize = 32;
/// Models in the operator's catalog.
pub const MODELS_IN_CATALOG_MAX: usize = 1000;
/// Languages one model of the catalog lists.
pub const LANGUAGES_PER_MODEL_MAX: usize = 200;
/// The longest a grant token lives, in seconds.
pub const GRANT_TTL_SECONDS_MAX: i64 = 3600;
/// How long a grant token lives when the request names no TTL, in seconds.
pub const GRANT_TTL_SECONDS_DEFAULT: i64 = 30;
/// Grant signing keys kept (the current one and the retired ones still verifying).
pub const GRANT_KEYS_KEPT_MAX: usize = 10;
/// Pending outbox messages the mail worker looks at in one round.
pub const OUTBOX_WALKED_MAX: usize = 10_000;
/// Messages the mail worker sends in one round.
pub const DELIVERIES_PER_ROUND_MAX: usize = 100;
/// Addresses one "Invite New Member" form of the console sends invitations to.
pub const INVITES_PER_FORM_MAX: usize = 50;
/// The longest a request carrying `Steward-Min-Position` waits for the read models to reach
/// it before it is answered 503 with `Retry-After`.
pub const MIN_POSITION_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// How long a node following a shared log waits for an append's notification before it reads
/// the log again anyway, and how often it stands for election while no node writes.
pub const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(200);
/// How long the command thread waits before it tries again to rebuild its write model from a
/// log whose database it cannot reach (commands wait in the queue meanwhile).
pub const RELOAD_RETRY: std::time::Duration = std::time::Duration::from_secs(1);
/// Events a follower reads from the shared log and hands to its processor at once.
pub const FOLLOWED_EVENTS_MAX: usize = 1000;
/// The longest a command forwarded to the writer may take, answer included.
pub const FORWARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The largest answer a node passes back from the writer for a forwarded command.
pub const FORWARDED_ANSWER_BYTES_MAX: usize = 4 * 1024 * 1024;
/// How long a node that forwarded a command waits for its own read models to reach the
/// command's events before it answers (read-your-writes on the node asked).
pub const FORWARD_CATCH_UP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
