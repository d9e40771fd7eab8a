//! The audit log: who did what, when, to which project. An index over the event log itself.

use crate::Projection;
use serde::Serialize;
use std::collections::HashMap;
use steward_events::{Actor, Envelope, ProjectId, StreamId, Timestamp};

#[derive(Clone, Debug, Serialize)]
pub struct AuditEntry {
    pub position: u64,
    pub recorded_at: Timestamp,
    pub actor: Actor,
    pub kind: &'static str,
    pub stream: StreamId,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Audit {
    /// Every event, oldest first.
    pub entries: Vec<AuditEntry>,
    /// Indexes into `entries` of the events concerning each project (a transfer concerns both
    /// sides), oldest first. Derived, not serialized.
    #[serde(skip)]
    by_project: HashMap<ProjectId, Vec<usize>>,
}

impl Audit {
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
        for project_id in envelope.event.project_ids() {
            self.by_project
                .entry(project_id)
                .or_default()
                .push(self.entries.len());
        }
        self.entries.push(AuditEntry {
            position: envelope.position,
            recorded_at: envelope.recorded_at,
            actor: envelope.actor,
            kind: envelope.event.kind(),
            stream: envelope.stream,
        });
    }
}
