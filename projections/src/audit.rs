//! The audit log: which events concern each project. An index over the event log itself: the
//! events are read back from the log, so memory holds eight bytes per event and project.

use crate::Projection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use steward_events::{Envelope, ProjectId};

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
