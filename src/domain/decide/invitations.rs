//! Invitations: sent by email with a role, resent with a new token, revoked, and accepted only
//! by an account with the invited address, before it expires.

use super::{access, person, project, Context};
use crate::{
    domain::{error::DomainError, rules::may_invite_as},
    limits,
};
use steward_events::{
    is_expired, Email, Event, Permission, ProjectId, Role, Sha256Digest, Timestamp,
};

/// Invites `email` into `role`: never a role above the inviter's own.
pub(super) fn invite(
    cx: &Context,
    project_id: ProjectId,
    email: &Email,
    role: Role,
    token_hash: Sha256Digest,
    expires_at: Timestamp,
) -> Result<Vec<Event>, DomainError> {
    let (access, project) = access(cx, project_id)?;
    if !may_invite_as(access.permissions, role) {
        return Err(DomainError::InsufficientPermissions);
    }
    let invited_by = access.person()?;
    if let Some(account_id) = cx.state.account_by_email.get(email) {
        if project.members.contains_key(account_id) {
            return Err(DomainError::AlreadyMember);
        }
    }
    if let Some(pending) = project.invitations.get(email) {
        if !is_expired(Some(pending.expires_at), cx.now) {
            return Err(DomainError::AlreadyInvited);
        }
    }
    ensure_future(cx, expires_at)?;
    let pending = project
        .invitations
        .values()
        .filter(|invitation| !is_expired(Some(invitation.expires_at), cx.now))
        .count();
    if pending >= limits::INVITATIONS_PER_PROJECT_MAX {
        return Err(DomainError::TooManyInvitations);
    }
    Ok(vec![Event::MemberInvited {
        project_id,
        email: email.clone(),
        role,
        invited_by,
        token_hash,
        expires_at,
    }])
}

/// A new token and expiry for a pending invitation; the old token dies.
pub(super) fn resend(
    cx: &Context,
    project_id: ProjectId,
    email: &Email,
    token_hash: Sha256Digest,
    expires_at: Timestamp,
) -> Result<Vec<Event>, DomainError> {
    manage(cx, project_id, email)?;
    ensure_future(cx, expires_at)?;
    Ok(vec![Event::InvitationResent {
        project_id,
        email: email.clone(),
        token_hash,
        expires_at,
    }])
}

pub(super) fn revoke(
    cx: &Context,
    project_id: ProjectId,
    email: &Email,
) -> Result<Vec<Event>, DomainError> {
    manage(cx, project_id, email)?;
    Ok(vec![Event::InvitationRevoked {
        project_id,
        email: email.clone(),
    }])
}

/// The person acting joins the project of the invitation whose token hashes to `token_hash`,
/// if it was sent to their address and has not expired.
pub(super) fn accept(cx: &Context, token_hash: &Sha256Digest) -> Result<Vec<Event>, DomainError> {
    let account_id = person(cx)?;
    let (project_id, email) = cx
        .state
        .invitation_by_token
        .get(token_hash)
        .ok_or(DomainError::InvitationNotFound)?;
    let project = project(cx.state, *project_id)?;
    let invitation = project
        .invitations
        .get(email)
        .ok_or(DomainError::InvitationNotFound)?;
    if is_expired(Some(invitation.expires_at), cx.now) {
        return Err(DomainError::InvitationExpired);
    }
    let account = cx
        .state
        .live_account(account_id)
        .ok_or(DomainError::InvalidCredentials)?;
    if &account.email != email {
        return Err(DomainError::InvitationEmailMismatch);
    }
    if project.members.contains_key(&account_id) {
        return Err(DomainError::AlreadyMember);
    }
    if project.members.len() >= limits::MEMBERS_PER_PROJECT_MAX {
        return Err(DomainError::TooManyMembers);
    }
    if account.projects.len() >= limits::PROJECTS_PER_ACCOUNT_MAX {
        return Err(DomainError::TooManyProjects);
    }
    Ok(vec![
        Event::InvitationAccepted {
            project_id: *project_id,
            email: email.clone(),
            account_id,
        },
        Event::MemberJoined {
            project_id: *project_id,
            account_id,
            role: invitation.role,
        },
    ])
}

/// Checks that the actor may resend or revoke the pending invitation of `email`: the right to
/// invite at all, and to invite into the invitation's role.
fn manage(cx: &Context, project_id: ProjectId, email: &Email) -> Result<(), DomainError> {
    let (access, project) = access(cx, project_id)?;
    access.require(Permission::MembersWriteInvites)?;
    let invitation = project
        .invitations
        .get(email)
        .ok_or(DomainError::InvitationNotFound)?;
    if may_invite_as(access.permissions, invitation.role) {
        Ok(())
    } else {
        Err(DomainError::InsufficientPermissions)
    }
}

fn ensure_future(cx: &Context, expires_at: Timestamp) -> Result<(), DomainError> {
    if expires_at <= cx.now {
        return Err(DomainError::ExpiryInPast);
    }
    Ok(())
}
