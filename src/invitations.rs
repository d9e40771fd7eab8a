//! Invitations for every face: sending one and sending one again with a new token. The email
//! (with the token, which only it carries; the log keeps its hash) is written to the outbox in
//! the same group commit as the invitation, so an answered invitation always has its email.

use crate::{
    domain::Command,
    outbox::{Delivery, Outbox, OutboxMessage},
    processor::CommandError,
    secrets::Secret,
    Steward,
};
use steward_events::{Actor, Email, ProjectId, Role, Timestamp};
use uuid::Uuid;

/// Sends invitations: the command processor records them with their emails.
pub struct Invitations<'a> {
    pub steward: &'a Steward,
    pub outbox: &'a Outbox,
    /// How long an invitation stays acceptable.
    pub ttl_seconds: i64,
    /// Where people reach the console, for the link in the email (no trailing slash).
    pub public_url: &'a str,
}

impl Invitations<'_> {
    /// Invites `email` into `project_id` as `role`, with its email.
    pub async fn send(
        &self,
        actor: Actor,
        project_id: ProjectId,
        email: Email,
        role: Role,
    ) -> Result<(), CommandError> {
        let (token, expires_at) = self.fresh_token();
        let message = self.email(actor, project_id, &email, role, &token.secret, expires_at);
        let command = Command::InviteMember {
            project_id,
            email,
            role,
            token_hash: token.hash,
            expires_at,
        };
        let beside = self.outbox.insertion(&message);
        self.steward.execute_with(actor, command, beside).await?;
        self.outbox.wake();
        Ok(())
    }

    /// Sends the pending invitation of `email` again with a new token and expiry; the old
    /// token stops working, and its email, if not sent yet, is not sent.
    pub async fn resend(
        &self,
        actor: Actor,
        project_id: ProjectId,
        email: Email,
    ) -> Result<(), CommandError> {
        let (token, expires_at) = self.fresh_token();
        let role = self.steward.read(|projections| {
            let project = projections.membership.project(project_id)?;
            project
                .invitations
                .get(&email)
                .map(|invitation| invitation.role)
        });
        // Without a pending invitation the command is refused (and writes nothing).
        let role = role.unwrap_or(Role::Member);
        let message = self.email(actor, project_id, &email, role, &token.secret, expires_at);
        let command = Command::ResendInvitation {
            project_id,
            email,
            token_hash: token.hash,
            expires_at,
        };
        let beside = self.outbox.insertion(&message);
        self.steward.execute_with(actor, command, beside).await?;
        self.outbox.wake();
        Ok(())
    }

    /// A new invitation token and the instant it stops working.
    fn fresh_token(&self) -> (Secret, Timestamp) {
        let expires_at = self.steward.now().plus_seconds(self.ttl_seconds);
        (Secret::invitation_token(), expires_at)
    }

    /// The invitation email: who invites, to which project and role, until when, and the link.
    fn email(
        &self,
        actor: Actor,
        project_id: ProjectId,
        to: &Email,
        role: Role,
        token: &str,
        expires_at: Timestamp,
    ) -> OutboxMessage {
        let (project, inviter) = self.steward.read(|projections| {
            let membership = &projections.membership;
            let project = (membership.project(project_id))
                .map(|project| project.name.clone())
                .unwrap_or_default();
            let person = match actor {
                Actor::Account(account_id) | Actor::Key { account_id, .. } => Some(account_id),
                Actor::Operator | Actor::System => None,
            };
            let inviter = match person {
                Some(account_id) => {
                    let person = membership.person(account_id);
                    let name = format!("{} {}", person.first_name, person.last_name);
                    match name.trim() {
                        "" => person.email,
                        name => format!("{name} ({})", person.email),
                    }
                }
                None => "Support".to_owned(),
            };
            (project, inviter)
        });
        let invitation = InvitationEmail {
            inviter: &inviter,
            project: &project,
            role,
            to: to.as_str(),
            link: &format!(
                "{}/console/invitations/accept?token={token}",
                self.public_url
            ),
            expires_at,
        };
        OutboxMessage {
            message_id: Uuid::now_v7(),
            to: to.to_string(),
            subject: invitation.subject(),
            body: invitation.text(),
            html: invitation.html(),
            token: token.to_owned(),
            created: self.steward.now(),
            project_id: Some(project_id),
            expires_at: Some(expires_at),
            delivery: Delivery::default(),
        }
    }
}

/// What an invitation email says.
struct InvitationEmail<'a> {
    inviter: &'a str,
    project: &'a str,
    role: Role,
    to: &'a str,
    link: &'a str,
    expires_at: Timestamp,
}

impl InvitationEmail<'_> {
    fn subject(&self) -> String {
        format!(
            "{} invited you to join {} on Steward",
            self.inviter, self.project
        )
    }

    fn text(&self) -> String {
        format!(
            "{inviter} invited you to join the project \"{project}\" as {role}.\n\n\
             Accept the invitation, signed in as {to}:\n{link}\n\n\
             The invitation expires at {expires} (UTC). If you did not expect it, you can \
             ignore this email.\n",
            inviter = self.inviter,
            project = self.project,
            role = self.role,
            to = self.to,
            link = self.link,
            expires = self.expires_at.to_rfc3339(),
        )
    }

    fn html(&self) -> String {
        format!(
            "<!doctype html>\n<html><body>\n\
             <p>{inviter} invited you to join the project <strong>{project}</strong> as \
             {role}.</p>\n\
             <p><a href=\"{link}\">Accept the invitation</a>, signed in as {to}.</p>\n\
             <p>The invitation expires at {expires} (UTC). If you did not expect it, you can \
             ignore this email.</p>\n</body></html>\n",
            inviter = escape(self.inviter),
            project = escape(self.project),
            role = self.role,
            to = escape(self.to),
            link = escape(self.link),
            expires = self.expires_at.to_rfc3339(),
        )
    }
}

/// `text` with HTML's special characters escaped, for text and attribute values alike.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email<'a>(inviter: &'a str, project: &'a str) -> InvitationEmail<'a> {
        InvitationEmail {
            inviter,
            project,
            role: Role::Admin,
            to: "mia@fruit.example",
            link: "https://steward.example/console/invitations/accept?token=stw_inv_1&x=1",
            expires_at: Timestamp::parse_rfc3339("2026-12-09T10:00:00Z").unwrap(),
        }
    }

    #[test]
    fn the_email_names_the_inviter_project_role_expiry_and_link() {
        let email = email("Olive Grove (olive@fruit.example)", "Fruit Company");
        assert_eq!(
            email.subject(),
            "Olive Grove (olive@fruit.example) invited you to join Fruit Company on Steward"
        );
        let text = email.text();
        for part in [
            "\"Fruit Company\" as admin",
            "signed in as mia@fruit.example",
            "https://steward.example/console/invitations/accept?token=stw_inv_1&x=1",
            "2026-12-09T10:00:00Z",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        assert!(email.html().contains(
            "href=\"https://steward.example/console/invitations/accept?token=stw_inv_1&amp;x=1\""
        ));
    }

    #[test]
    fn names_in_the_html_part_are_escaped() {
        let html = email("<script>alert(1)</script>", "Fruit & \"Veg\"").html();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("Fruit &amp; &quot;Veg&quot;"));
    }
}
