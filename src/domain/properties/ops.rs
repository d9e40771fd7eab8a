//! The property test's world: the ids it draws from and the operations it generates.

use proptest::prelude::*;
use steward_events::*;
use uuid::Uuid;

pub(super) const ACCOUNTS: u8 = 5;
pub(super) const PROJECTS: u8 = 2;
pub(super) const TAGS: u8 = 3;

pub(super) fn tag(n: u8) -> Tag {
    Tag::parse(&format!("customer-{}", n % TAGS)).unwrap()
}

pub(super) fn account(n: u8) -> AccountId {
    AccountId::from_uuid(Uuid::from_u128(1 + u128::from(n)))
}

pub(super) fn project(n: u8) -> ProjectId {
    ProjectId::from_uuid(Uuid::from_u128(100 + u128::from(n % PROJECTS)))
}

pub(super) fn email(n: u8) -> Email {
    Email::parse(&format!("person{n}@fruit.example")).unwrap()
}

pub(super) fn token(project_n: u8, invitee: u8) -> Sha256Digest {
    Sha256Digest::from_bytes([project_n % PROJECTS * 16 + invitee; 32])
}

pub(super) fn role(n: u8) -> Role {
    Role::ALL[usize::from(n % 3)]
}

#[derive(Clone, Debug)]
pub(super) enum Op {
    Invite {
        actor: u8,
        project: u8,
        invitee: u8,
        role: u8,
    },
    Accept {
        account: u8,
        project: u8,
    },
    ChangeRole {
        actor: u8,
        project: u8,
        target: u8,
        role: u8,
    },
    Remove {
        actor: u8,
        project: u8,
        target: u8,
        reassign_to: Option<u8>,
    },
    Leave {
        account: u8,
        project: u8,
    },
    CreateKey {
        actor: u8,
        project: u8,
        role: u8,
        tag: Option<u8>,
    },
    HandOver {
        actor: u8,
        key: u8,
        to: u8,
    },
    Rotate {
        actor: u8,
        key: u8,
        overlap_hours: u8,
    },
    SetBudget {
        actor: u8,
        project: u8,
        tag: u8,
        monthly_cents: u32,
        hard: bool,
    },
    RemoveBudget {
        actor: u8,
        project: u8,
        tag: u8,
    },
    DeleteKey {
        actor: u8,
        key: u8,
    },
    UseKey {
        key: u8,
        cost_cents: u16,
        failed: bool,
        tag: Option<u8>,
    },
    Grant {
        project: u8,
        source: u8,
        amount_cents: u32,
        expiry_days: u16,
    },
    Transfer {
        actor: u8,
        from: u8,
        amount_cents: u32,
        whole: bool,
    },
    Advance {
        days: u8,
    },
    Expire,
    DeleteAccount {
        account: u8,
    },
}

pub(super) fn op() -> impl Strategy<Value = Op> {
    let a = || 0..ACCOUNTS;
    let p = || 0..PROJECTS;
    prop_oneof![
        3 => (a(), p(), a(), any::<u8>()).prop_map(|(actor, project, invitee, role)| {
            Op::Invite { actor, project, invitee, role }
        }),
        3 => (a(), p()).prop_map(|(account, project)| Op::Accept { account, project }),
        3 => (a(), p(), a(), any::<u8>()).prop_map(|(actor, project, target, role)| {
            Op::ChangeRole { actor, project, target, role }
        }),
        2 => (a(), p(), a(), prop::option::of(a())).prop_map(|(actor, project, target, reassign_to)| {
            Op::Remove { actor, project, target, reassign_to }
        }),
        1 => (a(), p()).prop_map(|(account, project)| Op::Leave { account, project }),
        4 => (a(), p(), any::<u8>(), prop::option::of(0..TAGS))
            .prop_map(|(actor, project, role, tag)| Op::CreateKey { actor, project, role, tag }),
        2 => (a(), any::<u8>(), a()).prop_map(|(actor, key, to)| Op::HandOver { actor, key, to }),
        2 => (a(), any::<u8>(), 0u8..200)
            .prop_map(|(actor, key, overlap_hours)| Op::Rotate { actor, key, overlap_hours }),
        2 => (0..2u8, p(), 0..TAGS, 0u32..20_000, any::<bool>()).prop_map(
            |(actor, project, tag, monthly_cents, hard)| Op::SetBudget {
                actor, project, tag, monthly_cents, hard,
            }
        ),
        1 => (0..2u8, p(), 0..TAGS)
            .prop_map(|(actor, project, tag)| Op::RemoveBudget { actor, project, tag }),
        1 => (a(), any::<u8>()).prop_map(|(actor, key)| Op::DeleteKey { actor, key }),
        8 => (any::<u8>(), 0u16..5_000, prop::bool::weighted(0.1), prop::option::of(0..TAGS))
            .prop_map(|(key, cost_cents, failed, tag)| Op::UseKey { key, cost_cents, failed, tag }),
        3 => (p(), any::<u8>(), 1u32..20_000, 1u16..400).prop_map(
            |(project, source, amount_cents, expiry_days)| Op::Grant {
                project,
                source,
                amount_cents,
                expiry_days,
            }
        ),
        3 => (0..2u8, p(), 1u32..20_000, any::<bool>()).prop_map(
            |(actor, from, amount_cents, whole)| Op::Transfer { actor, from, amount_cents, whole }
        ),
        2 => (1u8..60).prop_map(|days| Op::Advance { days }),
        1 => Just(Op::Expire),
        1 => a().prop_map(|account| Op::DeleteAccount { account }),
    ]
}
