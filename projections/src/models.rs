//! Model access: the operator's changes to which catalog models each project may use, with
//! when each was made, so that a read can ask what a project could use at any instant. Without
//! a change a project may use every public model of the catalog (the catalog is configuration,
//! not events: the caller applies the default).

use crate::Projection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use steward_events::{Envelope, Event, ModelId, ProjectId, Timestamp};

/// One change: from `at` on, the model is granted (`true`) or revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessChange {
    pub at: Timestamp,
    pub allowed: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ModelAccess {
    /// Project → model → its changes, oldest first.
    pub projects: BTreeMap<ProjectId, BTreeMap<ModelId, Vec<AccessChange>>>,
}

impl ModelAccess {
    /// The project's overrides in force at `as_of`: model → granted or revoked.
    pub fn overrides(&self, project_id: ProjectId, as_of: Timestamp) -> BTreeMap<ModelId, bool> {
        let Some(models) = self.projects.get(&project_id) else {
            return BTreeMap::new();
        };
        models
            .iter()
            .filter_map(|(model_id, changes)| {
                let change = changes.iter().rev().find(|change| change.at <= as_of)?;
                Some((*model_id, change.allowed))
            })
            .collect()
    }
}

impl ModelAccess {
    /// The project's override of one model in force at `as_of`, if any: granted or revoked.
    pub fn override_of(
        &self,
        project_id: ProjectId,
        model_id: ModelId,
        as_of: Timestamp,
    ) -> Option<bool> {
        let changes = self.projects.get(&project_id)?.get(&model_id)?;
        let change = changes.iter().rev().find(|change| change.at <= as_of)?;
        Some(change.allowed)
    }
}

impl Projection for ModelAccess {
    const NAME: &'static str = "model_access";

    fn apply(&mut self, envelope: &Envelope) {
        let (project_id, model_id, allowed) = match &envelope.event {
            Event::ModelAccessGranted {
                project_id,
                model_id,
            } => (project_id, model_id, true),
            Event::ModelAccessRevoked {
                project_id,
                model_id,
            } => (project_id, model_id, false),
            _ => return,
        };
        let change = AccessChange {
            at: envelope.recorded_at,
            allowed,
        };
        (self.projects.entry(*project_id).or_default())
            .entry(*model_id)
            .or_default()
            .push(change);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_events::{Actor, EventId, StreamId};
    use uuid::Uuid;

    fn envelope(position: u64, seconds: i64, event: Event) -> Envelope {
        Envelope {
            position,
            stream: StreamId::Project(event.project_id().unwrap()),
            stream_version: position,
            event_id: EventId::from_uuid(Uuid::from_u128(position.into())),
            recorded_at: Timestamp::from_unix_micros(seconds * 1_000_000),
            actor: Actor::Operator,
            correlation_id: Uuid::nil(),
            schema_version: 2,
            event,
        }
    }

    #[test]
    fn a_project_has_the_overrides_in_force_at_the_instant_asked() {
        let project_id = ProjectId::from_uuid(Uuid::from_u128(1));
        let model_id = ModelId::from_uuid(Uuid::from_u128(2));
        let mut access = ModelAccess::default();
        access.apply(&envelope(
            1,
            100,
            Event::ModelAccessRevoked {
                project_id,
                model_id,
            },
        ));
        access.apply(&envelope(
            2,
            200,
            Event::ModelAccessGranted {
                project_id,
                model_id,
            },
        ));
        let at = |seconds: i64| {
            access.overrides(project_id, Timestamp::from_unix_micros(seconds * 1_000_000))
        };
        assert_eq!(at(50), BTreeMap::new());
        assert_eq!(at(150), BTreeMap::from([(model_id, false)]));
        assert_eq!(at(250), BTreeMap::from([(model_id, true)]));
        let other = ProjectId::from_uuid(Uuid::from_u128(3));
        assert!(access
            .overrides(other, Timestamp::from_unix_micros(i64::MAX))
            .is_empty());
    }
}
