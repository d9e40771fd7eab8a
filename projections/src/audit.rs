//! The audit log: which events concern each project. An index over the event log itself: the
//! events are read back from the log, so memory holds eight bytes per event and project.

use crate::Projection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use steward_events::{Actor, Envelope, ProjectId, Timestamp};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Audit {
    /// The log positions of the events concerning each project (a transfer concerns both
    /// sides), oldest first.
    pub by_project: BTreeMap<ProjectId, Vec<u64>>,
}

impl Audit {
    /// The positions of a project's events, oldest first.
    pub fn of_project(&self, project_id: ProjectId) -> &[u64] {
        self.by_project
            .get(&project_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

impl Projection for Audit {
    const NAME: &'static str = "audit";

    fn apply(&mut self, envelope: &Envelope) {
        for project_id in envelope.event.project_ids() {
            self.by_project
                .entry(project_id)
                .or_default()
                .push(envelope.position);
        }
    }
}

/// Whose events an audit query keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActorFilter {
    /// An account's own events and those of the keys it created, or one key's.
    Id(uuid::Uuid),
    /// `operator` or `system`.
    Named(String),
}

impl ActorFilter {
    /// `operator`, `system`, or the id of an account or key.
    pub fn parse(text: &str) -> Self {
        match text.parse() {
            Ok(id) => Self::Id(id),
            Err(_) => Self::Named(text.to_owned()),
        }
    }

    fn matches(&self, actor: &Actor) -> bool {
        match (self, actor) {
            (Self::Id(id), Actor::Account(account_id)) => account_id.as_uuid() == id,
            (Self::Id(id), Actor::Key { key_id, account_id }) => {
                key_id.as_uuid() == id || account_id.as_uuid() == id
            }
            (Self::Id(id), _) => actor.to_string() == id.to_string(),
            (Self::Named(name), _) => actor.to_string() == *name,
        }
    }
}

/// What an audit query keeps of a project's events. Each `None` keeps everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// An event type (`Event::KINDS`), such as `member_removed`.
    pub kind: Option<&'static str>,
    pub actor: Option<ActorFilter>,
    /// Inclusive.
    pub start: Option<Timestamp>,
    /// Exclusive.
    pub end: Option<Timestamp>,
}

impl AuditFilter {
    pub fn wants(&self, envelope: &Envelope) -> bool {
        self.kind.is_none_or(|kind| envelope.event.kind() == kind)
            && self
                .actor
                .as_ref()
                .is_none_or(|actor| actor.matches(&envelope.actor))
            && self.start.is_none_or(|start| envelope.recorded_at >= start)
            && self.end.is_none_or(|end| envelope.recorded_at < end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_events::{AccountId, Event, KeyId};
    use uuid::Uuid;

    fn envelope(position: u64, actor: Actor, time: &str) -> Envelope {
        let project_id = ProjectId::from_uuid(Uuid::from_u128(1));
        let event = Event::ProjectRenamed {
            project_id,
            name: "Fruit".into(),
        };
        Envelope {
            position,
            stream: event.stream(),
            stream_version: position,
            event_id: steward_events::EventId::from_uuid(Uuid::from_u128(position.into())),
            recorded_at: Timestamp::parse_rfc3339(time).unwrap(),
            actor,
            correlation_id: Uuid::nil(),
            schema_version: 1,
            event,
        }
    }

    #[test]
    fn the_audit_filter_keeps_by_kind_actor_and_time() {
        let account = AccountId::from_uuid(Uuid::from_u128(5));
        let key = Actor::Key {
            key_id: KeyId::from_uuid(Uuid::from_u128(6)),
            account_id: account,
        };
        let by_key = envelope(1, key, "2026-11-01T10:00:00Z");
        let by_operator = envelope(2, Actor::Operator, "2026-11-02T10:00:00Z");
        let of_account = AuditFilter {
            actor: Some(ActorFilter::parse(&account.to_string())),
            ..AuditFilter::default()
        };
        assert!(of_account.wants(&by_key), "a key acts for its creator");
        assert!(!of_account.wants(&by_operator));
        let operator = AuditFilter {
            actor: Some(ActorFilter::parse("operator")),
            ..AuditFilter::default()
        };
        assert!(operator.wants(&by_operator) && !operator.wants(&by_key));
        let second_day = AuditFilter {
            start: Timestamp::parse_rfc3339("2026-11-02T00:00:00Z"),
            ..AuditFilter::default()
        };
        assert!(second_day.wants(&by_operator) && !second_day.wants(&by_key));
        let other_kind = AuditFilter {
            kind: Some("member_removed"),
            ..AuditFilter::default()
        };
        assert!(!other_kind.wants(&by_key));
    }
}
