//! The audit log: a project's events, newest first.

use super::{blocking, page_newest_first, Page, PageOf, Positions, ReadError};
use crate::{access::Principal, Steward};
use std::{collections::HashMap, sync::Arc};
use steward_events::{AccountId, Actor, Envelope, Event, KeyId, Permission, ProjectId};
use steward_projections::{audit::AuditFilter, membership::Person};

impl Steward {
    /// A page of the project's audit log (owners and admins), newest first, of the events
    /// `filter` keeps; a transfer shows on both sides.
    pub async fn audit(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        filter: AuditFilter,
        page: Page,
    ) -> Result<PageOf<Envelope>, ReadError> {
        self.require(viewer, project_id, Permission::AdminsRead)?;
        let (log, projections) = (
            Arc::clone(self.log_arc()),
            Arc::clone(self.projections_arc()),
        );
        blocking(move || {
            let positions = Positions::Audit(project_id);
            page_newest_first(&projections, positions, page, |position| {
                let envelope = log
                    .read_at(position)?
                    .ok_or_else(|| ReadError::Storage(format!("position {position} vanished")))?;
                Ok(filter.wants(&envelope).then_some(envelope))
            })
        })
        .await
    }
}

/// The names an audit page's sentences use: the people, keys and projects its events mention.
#[derive(Clone, Debug, Default)]
pub struct AuditNames {
    pub people: HashMap<AccountId, Person>,
    /// Each key's comment (empty for a key without one), ended keys included.
    pub keys: HashMap<KeyId, String>,
    /// The projects the viewer may see; another project's name is not theirs to read.
    pub projects: HashMap<ProjectId, String>,
}

impl Steward {
    /// The names the `envelopes` of `project_id`'s audit log mention, for owners and admins.
    pub fn audit_names(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        envelopes: &[Envelope],
    ) -> Result<AuditNames, ReadError> {
        self.read(|projections| {
            viewer
                .access(projections, project_id)?
                .require(Permission::AdminsRead)?;
            let mut names = AuditNames::default();
            for envelope in envelopes {
                let mentioned = Mentions::of(envelope);
                for account_id in mentioned.people {
                    (names.people)
                        .entry(account_id)
                        .or_insert_with(|| projections.membership.person(account_id));
                }
                for key_id in mentioned.keys {
                    if let Some(key) = projections.keys.keys.get(&key_id) {
                        names.keys.insert(key_id, key.comment.clone());
                    }
                }
                for other in mentioned.projects {
                    let visible = viewer.access(projections, other).is_ok();
                    let project = projections.membership.project(other);
                    if let (true, Some(project)) = (visible, project) {
                        names.projects.insert(other, project.name.clone());
                    }
                }
            }
            Ok(names)
        })
    }
}

/// The ids an audit entry mentions.
#[derive(Default)]
struct Mentions {
    people: Vec<AccountId>,
    keys: Vec<KeyId>,
    projects: Vec<ProjectId>,
}

impl Mentions {
    fn of(envelope: &Envelope) -> Self {
        let mut mentions = Self::default();
        match envelope.actor {
            Actor::Account(account_id) => mentions.people.push(account_id),
            Actor::Key { key_id, account_id } => {
                mentions.people.push(account_id);
                mentions.keys.push(key_id);
            }
            Actor::Operator | Actor::System => {}
        }
        match &envelope.event {
            Event::AccountRegistered { account_id, .. }
            | Event::AccountDeleted { account_id }
            | Event::InvitationAccepted { account_id, .. }
            | Event::MemberJoined { account_id, .. }
            | Event::RoleChanged { account_id, .. }
            | Event::MemberRemoved { account_id, .. }
            | Event::MemberLeft { account_id, .. } => mentions.people.push(*account_id),
            Event::ProjectCreated { created_by, .. } => mentions.people.push(*created_by),
            Event::MemberInvited { invited_by, .. } => mentions.people.push(*invited_by),
            Event::ApiKeyCreated {
                key_id, created_by, ..
            } => {
                mentions.people.push(*created_by);
                mentions.keys.push(*key_id);
            }
            Event::ApiKeyDeleted { key_id, .. }
            | Event::UsageRecorded { key_id, .. }
            | Event::ApiKeyRotated { key_id, .. } => mentions.keys.push(*key_id),
            Event::ApiKeyOwnerChanged {
                key_id, from, to, ..
            } => {
                mentions.people.extend([*from, *to]);
                mentions.keys.push(*key_id);
            }
            Event::CreditsTransferredOut {
                from_project_id,
                to_project_id,
                ..
            }
            | Event::CreditsTransferredIn {
                from_project_id,
                to_project_id,
                ..
            } => mentions.projects.extend([*from_project_id, *to_project_id]),
            Event::ProjectRenamed { .. }
            | Event::ProjectCompanyChanged { .. }
            | Event::ProjectDeleted { .. }
            | Event::InvitationResent { .. }
            | Event::InvitationRevoked { .. }
            | Event::CreditsGranted { .. }
            | Event::CreditsConsumed { .. }
            | Event::CreditsExpired { .. }
            | Event::ModelAccessGranted { .. }
            | Event::ModelAccessRevoked { .. }
            | Event::TagBudgetSet { .. }
            | Event::TagBudgetRemoved { .. }
            | Event::TagBudgetPassed { .. } => {}
        }
        mentions
    }
}
