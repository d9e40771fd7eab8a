//! Invitations for every face: sending one (the command, then its email in the outbox) and
//! sending one again with a new token. The token goes only into the email; the log keeps its
//! hash.

use crate::{
    domain::Command,
    outbox::{Outbox, OutboxMessage},
    processor::CommandError,
    secrets::Secret,
    Steward,
};
use steward_events::{Actor, Email, ProjectId, Role, Timestamp};
use uuid::Uuid;

/// Sends invitations: the command processor records them, the outbox keeps their emails.
pub struct Invitations<'a> {
    pub steward: &'a Steward,
    pub outbox: &'a Outbox,
    /// How long an invitation stays acceptable.
    pub ttl_seconds: i64,
}

impl Invitations<'_> {
    /// Invites `email` into `project_id` as `role`, and puts the email into the outbox.
    pub async fn send(
        &self,
        actor: Actor,
        project_id: ProjectId,
        email: Email,
        role: Role,
    ) -> Result<(), CommandError> {
        let (token, expires_at) = self.fresh_token();
        let command = Command::InviteMember {
            project_id,
            email: email.clone(),
            role,
            token_hash: token.hash,
            expires_at,
        };
        self.steward.execute(actor, command).await?;
        self.email(project_id, &email, role, token, expires_at)
            .await
    }

    /// Sends the pending invitation of `email` again with a new token and expiry; the old
    /// token stops working.
    pub async fn resend(
        &self,
        actor: Actor,
        project_id: ProjectId,
        email: Email,
    ) -> Result<(), CommandError> {
        let (token, expires_at) = self.fresh_token();
        let command = Command::ResendInvitation {
            project_id,
            email: email.clone(),
            token_hash: token.hash,
            expires_at,
        };
        self.steward.execute(actor, command).await?;
        let role = self.steward.read(|projections| {
            let project = projections.membership.project(project_id)?;
            project
                .invitations
                .get(&email)
                .map(|invitation| invitation.role)
        });
        // The projections applied the resend before the processor answered; a revocation
        // decided since then leaves nothing worth an email.
        match role {
            Some(role) => {
                self.email(project_id, &email, role, token, expires_at)
                    .await
            }
            None => Ok(()),
        }
    }

    /// A new invitation token and the instant it stops working.
    fn fresh_token(&self) -> (Secret, Timestamp) {
        let expires_at = self.steward.now().plus_seconds(self.ttl_seconds);
        (Secret::invitation_token(), expires_at)
    }

    /// Puts the invitation email, with its token, into the outbox.
    async fn email(
        &self,
        project_id: ProjectId,
        email: &Email,
        role: Role,
        token: Secret,
        expires_at: Timestamp,
    ) -> Result<(), CommandError> {
        let project_name = self.steward.read(|projections| {
            let project = projections.membership.project(project_id);
            project
                .map(|project| project.name.clone())
                .unwrap_or_default()
        });
        let message = OutboxMessage {
            message_id: Uuid::now_v7(),
            to: email.to_string(),
            subject: format!("You are invited to join {project_name}"),
            body: format!(
                "You have been invited to join the project {project_name} as {role}. Sign in \
                 with {email} and accept the invitation with this token before \
                 {expires_at}:\n\n{}\n",
                token.secret
            ),
            token: token.secret,
            created: self.steward.now(),
        };
        self.outbox.push(&message, expires_at).await
    }
}
