//! The order credit is spent in, shared by consumption and transfers.

use super::state::GrantState;
use steward_events::{GrantId, Timestamp};

/// Whether credit expiring at `expires_at` is expired at `now` (expiry is exclusive).
pub fn is_expired(expires_at: Option<Timestamp>, now: Timestamp) -> bool {
    expires_at.is_some_and(|expires_at| expires_at <= now)
}

/// The grants that can pay at `now`, soonest-expiring first, never-expiring last; ties by id
/// (ids are UUID v7, so the older grant first).
pub fn spend_order<'a>(
    grants: impl IntoIterator<Item = (&'a GrantId, &'a GrantState)>,
    now: Timestamp,
) -> Vec<(GrantId, &'a GrantState)> {
    let mut usable: Vec<(GrantId, &GrantState)> = grants
        .into_iter()
        .filter(|(_, grant)| grant.remaining.is_positive() && !is_expired(grant.expires_at, now))
        .map(|(&grant_id, grant)| (grant_id, grant))
        .collect();
    usable
        .sort_by_key(|(grant_id, grant)| (grant.expires_at.is_none(), grant.expires_at, *grant_id));
    usable
}
