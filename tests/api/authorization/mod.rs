//! The authorization matrix: every project endpoint, called with an owner's, an admin's and a
//! member's key, a key with one narrow scope, a demoted creator's key, a key of another project,
//! an expired key, a deleted key and a removed member's key. A refusal has the right status and
//! changes nothing; an allowed command succeeds (each in a world of its own, as it changes it).

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use steward_events::{Permission, Permissions, Role, Scope};

mod endpoints;

use endpoints::{endpoints, Endpoint};
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
