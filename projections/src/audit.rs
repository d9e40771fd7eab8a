//! The audit log: who did what, when, to which project. An index over the event log itself.

use crate::Projection;
use serde::{de, Deserialize, Deserializer, Serialize};
use std::collections::HashMap;
use steward_events::{Actor, Envelope, Event, ProjectId, StreamId, Timestamp};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditEntry {
    pub position: u64,
    pub recorded_at: Timestamp,
    pub actor: Actor,
    pub kind: EventKind,
    /// The projects the event concerns (both sides of a transfer).
    pub projects: Vec<ProjectId>,
    pub stream: StreamId,
}

/// An event's kind, one of `Event::KINDS`, serialized by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EventKind(pub &'static str);

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Event::KINDS
            .iter()
            .copied()
            .find(|kind| *kind == name)
            .map(EventKind)
            .ok_or_else(|| de::Error::custom(format!("unknown event kind {name}")))
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Audit {
    /// Every event, oldest first.
    pub entries: Vec<AuditEntry>,
    /// Indexes into `entries` of the events concerning each project (a transfer concerns both
    /// sides), oldest first. Derived, not serialized.
    #[serde(skip)]
    by_project: HashMap<ProjectId, Vec<usize>>,
}

impl Audit {
    /// Rebuilds the derived index after a checkpoint is loaded.
    pub fn restore(&mut self) {
        self.by_project.clear();
        for (index, entry) in self.entries.iter().enumerate() {
            for project_id in &entry.projects {
                self.by_project.entry(*project_id).or_default().push(index);
            }
        }
    }

    /// A project's entries, newest first.
    pub fn of_project(&self, project_id: ProjectId) -> impl Iterator<Item = &AuditEntry> {
        self.by_project
            .get(&project_id)
            .into_iter()
            .flat_map(|indexes| indexes.iter().rev())
            .map(|&index| &self.entries[index])
    }
}

impl Projection for Audit {
    const NAME: &'static str = "audit";

    fn apply(&mut self, envelope: &Envelope) {
        let projects: Vec<ProjectId> = envelope.event.project_ids().collect();
        for project_id in &projects {
            self.by_project
                .entry(*project_id)
                .or_default()
                .push(self.entries.len());
        }
        self.entries.push(AuditEntry {
            position: envelope.position,
            recorded_at: envelope.recorded_at,
            actor: envelope.actor,
            kind: EventKind(envelope.event.kind()),
            stream: envelope.stream,
            projects,
        });
    }
}
