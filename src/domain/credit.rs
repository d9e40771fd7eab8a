//! The order credit is spent in (`steward_events::spending`), for the write model's grants.

use super::state::GrantState;
use steward_events::{Expiring, GrantId, Timestamp};

pub use steward_events::is_expired;

impl Expiring for GrantState {
    fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }
}

/// The grants that can pay at `now`, in spending order.
pub fn spend_order<'a>(
    grants: impl IntoIterator<Item = (&'a GrantId, &'a GrantState)>,
    now: Timestamp,
) -> Vec<(GrantId, &'a GrantState)> {
    let with_credit = grants
        .into_iter()
        .filter(|(_, grant)| grant.remaining.is_positive());
    steward_events::spend_order(with_credit, now)
}
