//! Credit balances: every grant with its source, original and remaining amount and expiry, and
//! each project's ledger (granted, received, consumed, expired, sent).
//!
//! Events carry the remaining amounts, so nothing here redoes the spending arithmetic.

use crate::Projection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use steward_events::{
    is_expired, spend_order, CreditSource, Envelope, Event, Expiring, GrantId, LedgerTotal,
    Nanodollars, ProjectId, Timestamp, TransferId,
};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GrantView {
    pub source: CreditSource,
    /// The amount the grant started with (for a transferred portion, the amount that arrived).
    pub original: Nanodollars,
    pub remaining: Nanodollars,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub reference: Option<String>,
    /// The transfer it arrived by, if any.
    pub transfer_id: Option<TransferId>,
    /// What expired unspent, once the sweeper recorded it.
    pub expired: Nanodollars,
}

impl GrantView {
    pub fn is_expired_at(&self, at: Timestamp) -> bool {
        is_expired(self.expires_at, at)
    }
}

impl Expiring for GrantView {
    fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }
}

/// Every movement of a project's credit. Always: granted + received = remaining + consumed +
/// expired + sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub granted: LedgerTotal,
    pub received: LedgerTotal,
    pub consumed: LedgerTotal,
    pub expired: LedgerTotal,
    pub sent: LedgerTotal,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProjectCredits {
    pub grants: BTreeMap<GrantId, GrantView>,
    pub ledger: Ledger,
}

impl ProjectCredits {
    /// Credit that can still be spent at `at`: the remaining amount of every grant not yet
    /// expired at that instant.
    pub fn balance_as_of(&self, at: Timestamp) -> Nanodollars {
        self.grants
            .values()
            .filter(|grant| !grant.is_expired_at(at))
            .map(|grant| grant.remaining)
            .sum()
    }

    /// The balances not expired at `at` (spent or not), in the order they will be spent.
    pub fn balances(&self, at: Timestamp) -> Vec<(GrantId, &GrantView)> {
        spend_order(&self.grants, at)
    }

    /// Whether anything is left to spend at `at`: a grant with credit, not expired. No
    /// allocation, for the gateway's check of every request.
    pub fn has_credit(&self, at: Timestamp) -> bool {
        (self.grants.values()).any(|grant| grant.remaining.get() > 0 && !grant.is_expired_at(at))
    }

    /// A balance not expired at `at`.
    pub fn balance(&self, grant_id: GrantId, at: Timestamp) -> Option<&GrantView> {
        self.grants
            .get(&grant_id)
            .filter(|grant| !grant.is_expired_at(at))
    }

    /// Every grant the project received, oldest first: its purchases.
    pub fn orders(&self) -> Vec<(GrantId, &GrantView)> {
        let mut orders: Vec<(GrantId, &GrantView)> = self
            .grants
            .iter()
            .map(|(&grant_id, grant)| (grant_id, grant))
            .collect();
        orders.sort_by_key(|(grant_id, grant)| (grant.created_at, *grant_id));
        orders
    }

    /// The sum of every grant's remaining amount, spendable or not.
    pub fn remaining(&self) -> Nanodollars {
        self.grants.values().map(|grant| grant.remaining).sum()
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Credits {
    pub projects: BTreeMap<ProjectId, ProjectCredits>,
}

impl Credits {
    pub fn project(&self, project_id: ProjectId) -> Option<&ProjectCredits> {
        self.projects.get(&project_id)
    }

    fn project_mut(&mut self, project_id: ProjectId) -> &mut ProjectCredits {
        self.projects.entry(project_id).or_default()
    }
}

impl Projection for Credits {
    const NAME: &'static str = "credits";

    fn apply(&mut self, envelope: &Envelope) {
        let at = envelope.recorded_at;
        match &envelope.event {
            Event::CreditsGranted {
                project_id,
                grant_id,
                source,
                amount,
                expires_at,
                reference,
            } => {
                let project = self.project_mut(*project_id);
                project.ledger.granted += *amount;
                project.grants.insert(
                    *grant_id,
                    GrantView {
                        source: *source,
                        original: *amount,
                        remaining: *amount,
                        expires_at: *expires_at,
                        created_at: at,
                        reference: reference.clone(),
                        transfer_id: None,
                        expired: Nanodollars::ZERO,
                    },
                );
            }
            Event::CreditsTransferredOut {
                from_project_id,
                portions,
                ..
            } => {
                let project = self.project_mut(*from_project_id);
                for portion in portions {
                    project.ledger.sent += portion.amount;
                    if let Some(grant) = project.grants.get_mut(&portion.from_grant_id) {
                        grant.remaining = portion.from_grant_remaining;
                    }
                }
            }
            Event::CreditsTransferredIn {
                transfer_id,
                to_project_id,
                portions,
                ..
            } => {
                let project = self.project_mut(*to_project_id);
                for portion in portions {
                    project.ledger.received += portion.amount;
                    project.grants.insert(
                        portion.to_grant_id,
                        GrantView {
                            source: portion.source,
                            original: portion.amount,
                            remaining: portion.amount,
                            expires_at: portion.expires_at,
                            created_at: at,
                            reference: None,
                            transfer_id: Some(*transfer_id),
                            expired: Nanodollars::ZERO,
                        },
                    );
                }
            }
            Event::CreditsConsumed {
                project_id,
                portions,
                ..
            } => {
                let project = self.project_mut(*project_id);
                for portion in portions {
                    project.ledger.consumed += portion.amount;
                    if let Some(grant) = project.grants.get_mut(&portion.grant_id) {
                        grant.remaining = portion.remaining;
                    }
                }
            }
            Event::CreditsExpired {
                project_id,
                grant_id,
                amount,
            } => {
                let project = self.project_mut(*project_id);
                project.ledger.expired += *amount;
                if let Some(grant) = project.grants.get_mut(grant_id) {
                    grant.remaining = Nanodollars::ZERO;
                    grant.expired = *amount;
                }
            }
            Event::AccountRegistered { .. }
            | Event::AccountDeleted { .. }
            | Event::ProjectCreated { .. }
            | Event::ProjectRenamed { .. }
            | Event::ProjectCompanyChanged { .. }
            | Event::ProjectDeleted { .. }
            | Event::MemberInvited { .. }
            | Event::InvitationResent { .. }
            | Event::InvitationRevoked { .. }
            | Event::InvitationAccepted { .. }
            | Event::MemberJoined { .. }
            | Event::RoleChanged { .. }
            | Event::MemberRemoved { .. }
            | Event::MemberLeft { .. }
            | Event::ApiKeyCreated { .. }
            | Event::ApiKeyDeleted { .. }
            | Event::UsageRecorded { .. }
            | Event::ModelAccessGranted { .. }
            | Event::ModelAccessRevoked { .. }
            | Event::ApiKeyOwnerChanged { .. }
            | Event::ApiKeyRotated { .. }
            | Event::TagBudgetSet { .. }
            | Event::TagBudgetRemoved { .. }
            | Event::TagBudgetPassed { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_events::{Actor, TransferPortion};
    use uuid::Uuid;

    fn envelope(position: u64, event: Event) -> Envelope {
        Envelope {
            position,
            stream: event.stream(),
            stream_version: position,
            event_id: steward_events::EventId::from_uuid(Uuid::from_u128(position.into())),
            recorded_at: Timestamp::from_unix_micros(0),
            actor: Actor::Operator,
            correlation_id: Uuid::nil(),
            schema_version: 1,
            event,
        }
    }

    #[test]
    fn running_totals_past_i64_do_not_overflow() {
        // Given: four billion dollars moved back and forth between two projects, ten times:
        // forty billion through each ledger, beyond i64 nano-dollars (about 9.2 billion).
        let (a, b) = (
            ProjectId::from_uuid(Uuid::from_u128(1)),
            ProjectId::from_uuid(Uuid::from_u128(2)),
        );
        let amount = Nanodollars::from_usd(4_000_000_000);
        let mut credits = Credits::default();
        let mut position = 0;
        for round in 0..10u128 {
            for (from, to) in [(a, b), (b, a)] {
                let portion = TransferPortion {
                    from_grant_id: GrantId::from_uuid(Uuid::from_u128(round)),
                    to_grant_id: GrantId::from_uuid(Uuid::from_u128(round + 100)),
                    source: CreditSource::Card,
                    amount,
                    expires_at: None,
                    from_grant_remaining: Nanodollars::ZERO,
                };
                let transfer_id = TransferId::from_uuid(Uuid::from_u128(round));
                for event in [
                    Event::CreditsTransferredOut {
                        transfer_id,
                        from_project_id: from,
                        to_project_id: to,
                        portions: vec![portion.clone()],
                    },
                    Event::CreditsTransferredIn {
                        transfer_id,
                        from_project_id: from,
                        to_project_id: to,
                        portions: vec![portion],
                    },
                ] {
                    position += 1;
                    credits.apply(&envelope(position, event));
                }
            }
        }
        // Then
        let ledger = credits.project(a).unwrap().ledger;
        assert_eq!(ledger.sent.get(), 10 * i128::from(amount.get()));
        assert_eq!(ledger.received, ledger.sent);
        assert!(ledger.sent.get() > i128::from(i64::MAX));
    }
}
