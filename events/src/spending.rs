//! The order credit is spent in, one rule for the write model (which spends) and the read
//! models (which list balances as they will be spent): soonest-expiring first, never-expiring
//! last, ties by grant id (ids are UUID v7, so the older grant first). Expired credit is never
//! spent; expiry is exclusive.

use crate::{ids::GrantId, time::Timestamp};

/// Whether credit expiring at `expires_at` is expired at `at`.
pub fn is_expired(expires_at: Option<Timestamp>, at: Timestamp) -> bool {
    expires_at.is_some_and(|expires_at| expires_at <= at)
}

/// Anything holding credit that may expire: a grant of the write model or of a read model.
pub trait Expiring {
    fn expires_at(&self) -> Option<Timestamp>;
}

/// The grants not expired at `at`, in the order credit is spent.
pub fn spend_order<'a, G: Expiring>(
    grants: impl IntoIterator<Item = (&'a GrantId, &'a G)>,
    at: Timestamp,
) -> Vec<(GrantId, &'a G)> {
    let mut unexpired: Vec<(GrantId, &G)> = grants
        .into_iter()
        .filter(|(_, grant)| !is_expired(grant.expires_at(), at))
        .map(|(&grant_id, grant)| (grant_id, grant))
        .collect();
    unexpired.sort_by_key(|(grant_id, grant)| {
        let expires_at = grant.expires_at();
        (expires_at.is_none(), expires_at, *grant_id)
    });
    unexpired
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    struct Grant(Option<Timestamp>);

    impl Expiring for Grant {
        fn expires_at(&self) -> Option<Timestamp> {
            self.0
        }
    }

    #[test]
    fn credit_is_spent_soonest_expiring_first_never_expiring_last_and_never_once_expired() {
        let at = |text| Timestamp::parse_rfc3339(text).unwrap();
        let id = |n| GrantId::from_uuid(Uuid::from_u128(n));
        let grants = [
            (id(1), Grant(None)),
            (id(2), Grant(Some(at("2027-01-01T00:00:00Z")))),
            (id(3), Grant(Some(at("2026-12-01T00:00:00Z")))),
            (id(4), Grant(Some(at("2026-11-01T00:00:00Z")))),
            (id(0), Grant(None)),
        ];
        let order: Vec<GrantId> = spend_order(
            grants.iter().map(|(grant_id, grant)| (grant_id, grant)),
            at("2026-11-01T00:00:00Z"),
        )
        .into_iter()
        .map(|(grant_id, _)| grant_id)
        .collect();
        assert_eq!(order, [id(3), id(2), id(0), id(1)]);
    }
}
