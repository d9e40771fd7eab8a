//! The authorization matrix: every project endpoint, called with an owner's, an admin's and a
//! member's key, a key with one narrow scope, a demoted creator's key, a key of another project,
//! an expired key, a deleted key and a removed member's key. A refusal has the right status and
//! changes nothing; an allowed command succeeds (each in a world of its own, as it changes it).

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use steward_events::{Permission, Permissions, Role, Scope};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Owner,
    Admin,
    Member,
    Narrow,
    Demoted,
    Foreign,
    Expired,
    Deleted,
    Removed,
}

const EVERYONE: [Who; 9] = [
    Who::Owner,
    Who::Admin,
    Who::Member,
    Who::Narrow,
    Who::Demoted,
    Who::Foreign,
    Who::Expired,
    Who::Deleted,
    Who::Removed,
];

impl Who {
    /// What the key may do in the project: its scopes ∩ its creator's current role; `None`
    /// for keys that may not act there at all.
    fn permissions(self) -> Option<Permissions> {
        match self {
            Who::Owner => Some(Role::Owner.permissions()),
            Who::Admin => Some(Role::Admin.permissions()),
            Who::Member => Some(Role::Member.permissions()),
            Who::Narrow => Some(Scope::Permission(Permission::ProjectRead).permissions()),
            Who::Demoted => Some(
                Role::Admin
                    .permissions()
                    .intersection(Role::Member.permissions()),
            ),
            Who::Foreign | Who::Expired | Who::Deleted | Who::Removed => None,
        }
    }

    /// Whether the key was created by the project's (sole) owner.
    fn is_owners(self) -> bool {
        matches!(self, Who::Owner | Who::Narrow)
    }
}

struct World {
    app: TestApp,
    project: String,
    keys: BTreeMap<Who, Key>,
    spare_key: String,
    sam: String,
    request: String,
    balance: String,
}

/// Olive owns the project; Adam is an admin, Mia, Sam and Rex members, Dora an admin until
/// demoted; Otto has a project of his own. Rex is removed after making a key.
async fn world() -> World {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let project = olive.project_id.clone();
    let mut people = BTreeMap::new();
    for (name, role) in [
        ("adam", "admin"),
        ("mia", "member"),
        ("sam", "member"),
        ("rex", "member"),
        ("dora", "admin"),
    ] {
        let person = app.signup(&format!("{name}@fruit.example")).await;
        app.invite_and_accept(&olive, &person, role).await;
        people.insert(name, person);
    }
    let otto = app.signup("otto@elsewhere.example").await;
    let key = |auth: Auth, scopes: &'static [&'static str]| {
        let (app, project) = (&app, project.clone());
        async move { app.create_key(&auth, &project, scopes, &[]).await }
    };
    let mut keys = BTreeMap::new();
    keys.insert(Who::Owner, key(olive.session.clone(), &["owner"]).await);
    keys.insert(
        Who::Admin,
        key(people["adam"].session.clone(), &["admin"]).await,
    );
    keys.insert(
        Who::Member,
        key(people["mia"].session.clone(), &["member"]).await,
    );
    keys.insert(
        Who::Narrow,
        key(olive.session.clone(), &["project:read"]).await,
    );
    keys.insert(
        Who::Demoted,
        key(people["dora"].session.clone(), &["admin"]).await,
    );
    keys.insert(
        Who::Foreign,
        app.create_key(&otto.session, &otto.project_id, &["owner"], &[])
            .await,
    );
    keys.insert(Who::Deleted, key(olive.session.clone(), &["owner"]).await);
    keys.insert(
        Who::Removed,
        key(people["rex"].session.clone(), &["member"]).await,
    );
    let (status, expiring) = app
        .post(
            &format!("/v1/projects/{project}/keys"),
            &olive.session,
            json!({"comment": "brief", "scopes": ["owner"], "time_to_live_in_seconds": 60}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    keys.insert(
        Who::Expired,
        Key {
            id: expiring["api_key_id"].as_str().unwrap().into(),
            auth: Auth::Key(expiring["key"].as_str().unwrap().into()),
        },
    );
    let spare_key = key(olive.session.clone(), &["member"]).await.id;
    let base = format!("/v1/projects/{project}");
    app.delete(
        &format!("{base}/keys/{}", keys[&Who::Deleted].id),
        &olive.session,
    )
    .await;
    app.delete(
        &format!("{base}/members/{}", people["rex"].account_id),
        &olive.session,
    )
    .await;
    app.call(
        Method::PUT,
        &format!("{base}/members/{}/scopes", people["dora"].account_id),
        &olive.session,
        Some(json!({"scope": "member"})),
    )
    .await;
    app.post(
        &format!("{base}/invites"),
        &olive.session,
        json!({"email": "pending@fruit.example", "scope": "member"}),
    )
    .await;
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("{base}/tags/budgeted/budget"),
            &olive.session,
            Some(json!({"monthly_usd": 50, "hard": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let request = uuid();
    let (status, body) = app
        .meter(&keys[&Who::Member], &project, &request, 10, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, balances) = app.get(&format!("{base}/balances"), &olive.session).await;
    let balance = balances["balances"][0]["balance_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance_seconds(61);
    World {
        app,
        project,
        keys,
        spare_key,
        sam: people["sam"].account_id.clone(),
        request,
        balance,
    }
}

/// Whether `who` may call an endpoint: `Ok` or the refusal's status.
type Rule = fn(Who, Permissions) -> Result<(), StatusCode>;

struct Endpoint {
    method: Method,
    path: fn(&World) -> String,
    body: fn(&World) -> Option<Value>,
    changes_state: bool,
    rule: Rule,
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

fn endpoints() -> Vec<(&'static str, Endpoint)> {
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

fn expected(endpoint: &Endpoint, who: Who) -> Result<(), (StatusCode, &'static str)> {
    match who.permissions() {
        None if who == Who::Foreign => Err((StatusCode::NOT_FOUND, "PROJECT_NOT_FOUND")),
        None => Err((StatusCode::UNAUTHORIZED, "INVALID_AUTH")),
        Some(permissions) => (endpoint.rule)(who, permissions).map_err(|status| {
            let category = match status {
                StatusCode::FORBIDDEN => "INSUFFICIENT_PERMISSIONS",
                StatusCode::CONFLICT => "CONFLICT",
                _ => "NOT_FOUND",
            };
            (status, category)
        }),
    }
}

async fn call(world: &World, endpoint: &Endpoint, who: Who) -> (StatusCode, Value) {
    world
        .app
        .call(
            endpoint.method.clone(),
            &(endpoint.path)(world),
            &world.keys[&who].auth,
            (endpoint.body)(world),
        )
        .await
}

#[tokio::test]
async fn every_endpoint_refuses_whom_it_must_and_serves_whom_it_may() {
    let shared = world().await;
    let mut checked = 0;
    for (name, endpoint) in endpoints() {
        for who in EVERYONE {
            let expectation = expected(&endpoint, who);
            if expectation.is_ok() && endpoint.changes_state {
                // An allowed command changes the world: give it one of its own.
                let own = world().await;
                let head = own.app.log_head();
                let (status, body) = call(&own, &endpoint, who).await;
                assert!(status.is_success(), "{name} as {who:?}: {status} {body}");
                assert!(
                    own.app.log_head() > head,
                    "{name} as {who:?} recorded nothing"
                );
                checked += 1;
                continue;
            }
            let head = shared.app.log_head();
            let (status, body) = call(&shared, &endpoint, who).await;
            match expectation {
                Ok(()) => assert!(status.is_success(), "{name} as {who:?}: {status} {body}"),
                Err((expected_status, category)) => {
                    assert_eq!(status, expected_status, "{name} as {who:?}: {body}");
                    assert_eq!(body["category"], category, "{name} as {who:?}: {body}");
                }
            }
            assert_eq!(
                shared.app.log_head(),
                head,
                "{name} as {who:?} changed the log"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, endpoints().len() * EVERYONE.len());
}
