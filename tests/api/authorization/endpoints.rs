//! The matrix's endpoints: each path, body and the rule that says who may call it.

use super::{Who, World};
use crate::helpers::uuid;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use steward_events::{Permission, Permissions};

/// Whether `who` may call an endpoint: `Ok` or the refusal's status.
pub(super) type Rule = fn(Who, Permissions) -> Result<(), StatusCode>;

pub(super) struct Endpoint {
    pub(super) method: Method,
    pub(super) path: fn(&World) -> String,
    pub(super) body: fn(&World) -> Option<Value>,
    pub(super) changes_state: bool,
    pub(super) rule: Rule,
}

fn needs(permissions: Permissions, required: &[Permission]) -> Result<(), StatusCode> {
    if required
        .iter()
        .all(|&permission| permissions.contains(permission))
    {
        Ok(())
    } else {
        Err(StatusCode::FORBIDDEN)
    }
}

/// Reading a key someone else (the owner) made: keys:read, and the right to read every
/// member's, or being its creator; otherwise it is not there.
fn sees_anothers_key(who: Who, permissions: Permissions) -> Result<(), StatusCode> {
    needs(permissions, &[Permission::KeysRead])?;
    let sees_all = needs(
        permissions,
        &[
            Permission::MembersRead,
            Permission::AdminsRead,
            Permission::OwnersRead,
        ],
    )
    .is_ok();
    if sees_all || who.is_owners() {
        Ok(())
    } else {
        Err(StatusCode::NOT_FOUND)
    }
}

macro_rules! requires {
    ($($permission:ident),*) => {
        |_, permissions| needs(permissions, &[$(Permission::$permission),*])
    };
}

pub(super) fn endpoints() -> Vec<(&'static str, Endpoint)> {
    let none = |_: &World| None;
    let get = |path: fn(&World) -> String, rule: Rule| Endpoint {
        method: Method::GET,
        path,
        body: none,
        changes_state: false,
        rule,
    };
    let command = |method: Method,
                   path: fn(&World) -> String,
                   body: fn(&World) -> Option<Value>,
                   rule: Rule| Endpoint {
        method,
        path,
        body,
        changes_state: true,
        rule,
    };
    vec![
        (
            "get project",
            get(
                |w| format!("/v1/projects/{}", w.project),
                requires!(ProjectRead),
            ),
        ),
        (
            "update project",
            command(
                Method::PATCH,
                |w| format!("/v1/projects/{}", w.project),
                |_| Some(json!({"name": "Renamed"})),
                requires!(ProjectWrite),
            ),
        ),
        (
            "delete project",
            command(
                Method::DELETE,
                |w| format!("/v1/projects/{}", w.project),
                none,
                requires!(ProjectWriteDestroy),
            ),
        ),
        (
            "leave project",
            command(
                Method::DELETE,
                |w| format!("/v1/projects/{}/leave", w.project),
                none,
                |who, _| {
                    if who.is_owners() {
                        Err(StatusCode::CONFLICT)
                    } else {
                        Ok(())
                    }
                },
            ),
        ),
        (
            "list keys",
            get(
                |w| format!("/v1/projects/{}/keys", w.project),
                requires!(KeysRead),
            ),
        ),
        (
            "get another's key",
            get(
                |w| format!("/v1/projects/{}/keys/{}", w.project, w.spare_key),
                sees_anothers_key,
            ),
        ),
        (
            "why not (another's key's permissions)",
            get(
                |w| {
                    format!(
                        "/v1/projects/{}/keys/{}/permissions",
                        w.project, w.spare_key
                    )
                },
                sees_anothers_key,
            ),
        ),
        (
            "create key",
            command(
                Method::POST,
                |w| format!("/v1/projects/{}/keys", w.project),
                |_| Some(json!({"comment": "c", "scopes": ["usage:read"]})),
                requires!(KeysWrite),
            ),
        ),
        (
            "delete another's key",
            command(
                Method::DELETE,
                |w| format!("/v1/projects/{}/keys/{}", w.project, w.spare_key),
                none,
                |who, permissions| {
                    needs(permissions, &[Permission::KeysWrite])?;
                    if who.is_owners() {
                        Ok(())
                    } else {
                        needs(permissions, &[Permission::MembersWrite])
                    }
                },
            ),
        ),
        (
            "hand over another's key",
            command(
                Method::POST,
                |w| format!("/v1/projects/{}/keys/{}/owner", w.project, w.spare_key),
                |w| Some(json!({"member_id": w.sam})),
                // The key is the owner's, handed to a member: managing both members' keys.
                requires!(KeysWrite, MembersWrite, OwnersWrite),
            ),
        ),
        (
            "rotate another's key",
            command(
                Method::POST,
                |w| format!("/v1/projects/{}/keys/{}/rotate", w.project, w.spare_key),
                |_| Some(json!({"overlap_seconds": 60})),
                |who, permissions| {
                    needs(permissions, &[Permission::KeysWrite])?;
                    if who.is_owners() {
                        Ok(())
                    } else {
                        needs(permissions, &[Permission::MembersWrite])
                    }
                },
            ),
        ),
        (
            "list tags",
            get(
                |w| format!("/v1/projects/{}/tags", w.project),
                requires!(BillingRead),
            ),
        ),
        (
            "get tag budget",
            get(
                |w| format!("/v1/projects/{}/tags/budgeted/budget", w.project),
                requires!(BillingRead),
            ),
        ),
        (
            "set tag budget",
            command(
                Method::PUT,
                |w| format!("/v1/projects/{}/tags/fresh/budget", w.project),
                |_| Some(json!({"monthly_usd": "12.5", "hard": false})),
                requires!(BillingWrite),
            ),
        ),
        (
            "remove tag budget",
            command(
                Method::DELETE,
                |w| format!("/v1/projects/{}/tags/budgeted/budget", w.project),
                none,
                requires!(BillingWrite),
            ),
        ),
        (
            "list members",
            get(
                |w| format!("/v1/projects/{}/members", w.project),
                requires!(MembersRead),
            ),
        ),
        (
            "remove member",
            command(
                Method::DELETE,
                |w| format!("/v1/projects/{}/members/{}", w.project, w.sam),
                none,
                requires!(MembersWriteKick),
            ),
        ),
        (
            "member offboarding",
            get(
                |w| format!("/v1/projects/{}/members/{}/offboarding", w.project, w.sam),
                requires!(MembersWriteKick),
            ),
        ),
        (
            "read member scopes",
            get(
                |w| format!("/v1/projects/{}/members/{}/scopes", w.project, w.sam),
                requires!(MembersReadScopes),
            ),
        ),
        (
            "change member scopes",
            command(
                Method::PUT,
                |w| format!("/v1/projects/{}/members/{}/scopes", w.project, w.sam),
                |_| Some(json!({"scope": "admin"})),
                requires!(MembersWriteScopes, AdminsWriteScopes),
            ),
        ),
        (
            "list invites",
            get(
                |w| format!("/v1/projects/{}/invites", w.project),
                requires!(MembersReadInvites),
            ),
        ),
        (
            "send invite",
            command(
                Method::POST,
                |w| format!("/v1/projects/{}/invites", w.project),
                |_| Some(json!({"email": "new@fruit.example", "scope": "member"})),
                requires!(MembersWriteInvites),
            ),
        ),
        (
            "revoke invite",
            command(
                Method::DELETE,
                |w| format!("/v1/projects/{}/invites/pending@fruit.example", w.project),
                none,
                requires!(MembersWriteInvites),
            ),
        ),
        (
            "resend invite",
            command(
                Method::POST,
                |w| {
                    format!(
                        "/v1/projects/{}/invites/pending@fruit.example/resend",
                        w.project
                    )
                },
                |_| Some(json!({})),
                requires!(MembersWriteInvites),
            ),
        ),
        (
            "list balances",
            get(
                |w| format!("/v1/projects/{}/balances", w.project),
                requires!(BillingRead),
            ),
        ),
        (
            "get balance",
            get(
                |w| format!("/v1/projects/{}/balances/{}", w.project, w.balance),
                requires!(BillingRead),
            ),
        ),
        (
            "list purchases",
            get(
                |w| format!("/v1/projects/{}/purchases", w.project),
                requires!(BillingRead),
            ),
        ),
        (
            "list requests",
            get(
                |w| format!("/v1/projects/{}/requests", w.project),
                requires!(UsageRead),
            ),
        ),
        (
            "get request",
            get(
                |w| format!("/v1/projects/{}/requests/{}", w.project, w.request),
                requires!(UsageRead),
            ),
        ),
        (
            "record request",
            command(
                Method::POST,
                |w| format!("/v1/projects/{}/requests", w.project),
                |_| {
                    Some(
                        json!({"request_id": uuid(), "endpoint": "listen", "method": "sync", "model": "nova-3", "units": {"audio_seconds": 1}, "code": 200}),
                    )
                },
                requires!(UsageWrite),
            ),
        ),
        (
            "usage",
            get(
                |w| format!("/v1/projects/{}/usage", w.project),
                requires!(UsageRead),
            ),
        ),
        (
            "usage breakdown",
            get(
                |w| format!("/v1/projects/{}/usage/breakdown?grouping=tags", w.project),
                requires!(UsageRead),
            ),
        ),
        (
            "usage fields",
            get(
                |w| format!("/v1/projects/{}/usage/fields", w.project),
                requires!(UsageRead),
            ),
        ),
        (
            "billing breakdown",
            get(
                |w| {
                    format!(
                        "/v1/projects/{}/billing/breakdown?grouping=accessor",
                        w.project
                    )
                },
                requires!(BillingRead),
            ),
        ),
        (
            "billing fields",
            get(
                |w| format!("/v1/projects/{}/billing/fields", w.project),
                requires!(BillingRead),
            ),
        ),
        (
            "audit log",
            get(
                |w| format!("/v1/projects/{}/audit", w.project),
                requires!(AdminsRead),
            ),
        ),
    ]
}
