//! The crash harness's load: tenants set up once, then clients sending a mix of commands,
//! sign-ups and logins, recording what was acknowledged, refused or cut off.

use crate::harness::{Answer, Api, OPERATOR_TOKEN};
use rand::{rngs::StdRng, Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

pub const TENANTS: usize = 4;

/// A tenant: an owner, their two projects, a key, and a helper member whose role changes.
#[derive(Clone, Debug)]
pub struct Tenant {
    email: String,
    session: String,
    project: String,
    second_project: String,
    key: String,
    helper: String,
}

/// What the clients saw: commands acknowledged (2xx), refused by a rule (4xx), or unknown
/// (the connection died with the server).
#[derive(Default)]
pub struct Outcomes {
    pub metered: Vec<String>,
    /// (project, request id) of every acknowledged metering, to look up through the API.
    pub metered_in: Vec<(String, String)>,
    pub refused_meterings: Vec<String>,
    pub keys_created: Vec<String>,
    pub keys_deleted: Vec<String>,
    pub invited: Vec<String>,
    pub revoked: Vec<String>,
    pub grants: Vec<String>,
    pub transfers: Vec<String>,
    /// (account, role) of role changes known to change the role.
    pub role_changes: Vec<(String, String)>,
    /// Emails of acknowledged sign-ups.
    pub signups: Vec<String>,
    /// Session tokens of acknowledged logins, each of which must still work after restarts.
    pub sessions: Vec<String>,
    pub unknown: usize,
}

/// Signs up the tenants, each with a key and a helper who accepted an invitation.
pub async fn setup(api: &Api) -> Vec<Tenant> {
    let mut tenants = Vec::new();
    for index in 0..TENANTS {
        let signup = |email: String| json!({"email": email, "first_name": "T", "last_name": "N", "password": "crash harness pw"});
        let Answer::Ok(owner) = api
            .call(
                reqwest::Method::POST,
                "/v1/signup",
                "",
                Some(signup(format!("owner{index}@crash.example"))),
            )
            .await
        else {
            panic!("signup")
        };
        let Answer::Ok(helper) = api
            .call(
                reqwest::Method::POST,
                "/v1/signup",
                "",
                Some(signup(format!("helper{index}@crash.example"))),
            )
            .await
        else {
            panic!("signup")
        };
        let session = format!("Bearer {}", owner["session_token"].as_str().unwrap());
        let project = owner["project_id"].as_str().unwrap().to_owned();
        let Answer::Ok(second) = api
            .call(
                reqwest::Method::POST,
                "/v1/projects",
                &session,
                Some(json!({"name": "second"})),
            )
            .await
        else {
            panic!("project")
        };
        let Answer::Ok(key) = api
            .call(
                reqwest::Method::POST,
                &format!("/v1/projects/{project}/keys"),
                &session,
                Some(json!({"comment": "meter", "scopes": ["owner"]})),
            )
            .await
        else {
            panic!("key")
        };
        let helper_email = format!("helper{index}@crash.example");
        let Answer::Ok(_) = api
            .call(
                reqwest::Method::POST,
                &format!("/v1/projects/{project}/invites"),
                &session,
                Some(json!({"email": helper_email, "scope": "member"})),
            )
            .await
        else {
            panic!("invite")
        };
        let operator = format!("Bearer {OPERATOR_TOKEN}");
        let Answer::Ok(outbox) = api
            .call(reqwest::Method::GET, "/v1/operator/outbox", &operator, None)
            .await
        else {
            panic!("outbox")
        };
        let token = outbox["messages"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|m| m["to"] == helper_email.as_str())
            .unwrap()["token"]
            .clone();
        let helper_session = format!("Bearer {}", helper["session_token"].as_str().unwrap());
        let Answer::Ok(_) = api
            .call(
                reqwest::Method::POST,
                "/v1/invitations/accept",
                &helper_session,
                Some(json!({"token": token})),
            )
            .await
        else {
            panic!("accept")
        };
        tenants.push(Tenant {
            email: format!("owner{index}@crash.example"),
            session,
            project,
            second_project: second["project_id"].as_str().unwrap().to_owned(),
            key: format!("Token {}", key["key"].as_str().unwrap()),
            helper: helper["account_id"].as_str().unwrap().to_owned(),
        });
    }
    tenants
}

/// One client: mixed commands until the server dies under it.
pub async fn client(
    api: Arc<Api>,
    tenant: Tenant,
    seed: u64,
    outcomes: Arc<Mutex<Outcomes>>,
    owns_helper: bool,
) {
    use reqwest::Method;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut my_keys: Vec<String> = Vec::new();
    let mut my_invites: Vec<String> = Vec::new();
    let mut helper_role: Option<&str> = None;
    let project = tenant.project.clone();
    loop {
        let choice = rng.random_range(0..110);
        let unknown = |outcomes: &Arc<Mutex<Outcomes>>| outcomes.lock().unwrap().unknown += 1;
        match choice {
            0..=54 => {
                let request_id = Uuid::now_v7().to_string();
                let seconds = rng.random_range(1..600);
                let body = json!({"request_id": request_id, "endpoint": "listen", "method": "sync", "model": "nova-3", "units": {"audio_seconds": seconds}, "code": 200, "tags": ["crash"]});
                match api
                    .call(
                        Method::POST,
                        &format!("/v1/projects/{project}/requests"),
                        &tenant.key,
                        Some(body),
                    )
                    .await
                {
                    Answer::Ok(_) => {
                        let mut outcomes = outcomes.lock().unwrap();
                        outcomes
                            .metered_in
                            .push((project.clone(), request_id.clone()));
                        outcomes.metered.push(request_id);
                    }
                    Answer::Refused(status, body) => {
                        assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
                        outcomes.lock().unwrap().refused_meterings.push(request_id);
                    }
                    Answer::Unknown => return unknown(&outcomes),
                }
            }
            55..=64 => match api
                .call(
                    Method::POST,
                    &format!("/v1/projects/{project}/keys"),
                    &tenant.session,
                    Some(json!({"comment": "load", "scopes": ["member"], "tags": ["load"]})),
                )
                .await
            {
                Answer::Ok(body) => {
                    let id = body["api_key_id"].as_str().unwrap().to_owned();
                    my_keys.push(id.clone());
                    outcomes.lock().unwrap().keys_created.push(id);
                }
                Answer::Refused(status, body) => panic!("key creation refused: {status} {body}"),
                Answer::Unknown => return unknown(&outcomes),
            },
            65..=69 => {
                let Some(id) = my_keys.pop() else { continue };
                match api
                    .call(
                        Method::DELETE,
                        &format!("/v1/projects/{project}/keys/{id}"),
                        &tenant.session,
                        None,
                    )
                    .await
                {
                    Answer::Ok(_) => outcomes.lock().unwrap().keys_deleted.push(id),
                    Answer::Refused(status, body) => {
                        panic!("key deletion refused: {status} {body}")
                    }
                    Answer::Unknown => return unknown(&outcomes),
                }
            }
            70..=77 => {
                let email = format!("{}@invitees.example", Uuid::now_v7().simple());
                match api
                    .call(
                        Method::POST,
                        &format!("/v1/projects/{project}/invites"),
                        &tenant.session,
                        Some(json!({"email": email, "scope": "member"})),
                    )
                    .await
                {
                    Answer::Ok(_) => {
                        my_invites.push(email.clone());
                        outcomes.lock().unwrap().invited.push(email);
                    }
                    Answer::Refused(status, body) => panic!("invite refused: {status} {body}"),
                    Answer::Unknown => return unknown(&outcomes),
                }
            }
            78..=81 => {
                let Some(email) = my_invites.pop() else {
                    continue;
                };
                match api
                    .call(
                        Method::DELETE,
                        &format!("/v1/projects/{project}/invites/{email}"),
                        &tenant.session,
                        None,
                    )
                    .await
                {
                    Answer::Ok(_) => outcomes.lock().unwrap().revoked.push(email),
                    Answer::Refused(status, body) => panic!("revoke refused: {status} {body}"),
                    Answer::Unknown => return unknown(&outcomes),
                }
            }
            82..=86 if owns_helper => {
                let role = if helper_role == Some("admin") {
                    "member"
                } else {
                    "admin"
                };
                let known_change = helper_role.is_some_and(|current| current != role);
                match api
                    .call(
                        Method::PUT,
                        &format!("/v1/projects/{project}/members/{}/scopes", tenant.helper),
                        &tenant.session,
                        Some(json!({"scope": role})),
                    )
                    .await
                {
                    Answer::Ok(_) => {
                        if known_change {
                            outcomes
                                .lock()
                                .unwrap()
                                .role_changes
                                .push((tenant.helper.clone(), role.to_owned()));
                        }
                        helper_role = Some(role);
                    }
                    Answer::Refused(status, body) => panic!("role change refused: {status} {body}"),
                    Answer::Unknown => return unknown(&outcomes),
                }
            }
            87..=92 => match api
                .call(
                    Method::POST,
                    &format!("/v1/operator/projects/{project}/credits"),
                    &format!("Bearer {OPERATOR_TOKEN}"),
                    Some(json!({"amount": "0.25", "units": "usd", "source": "card"})),
                )
                .await
            {
                Answer::Ok(body) => outcomes
                    .lock()
                    .unwrap()
                    .grants
                    .push(body["balance_id"].as_str().unwrap().to_owned()),
                Answer::Refused(status, body) => panic!("grant refused: {status} {body}"),
                Answer::Unknown => return unknown(&outcomes),
            },
            93..=99 => {
                let (from, to) = if rng.random_bool(0.5) {
                    (&tenant.project, &tenant.second_project)
                } else {
                    (&tenant.second_project, &tenant.project)
                };
                match api.call(Method::POST, "/v1/transfers", &tenant.session, Some(json!({"from_project_id": from, "to_project_id": to, "amount": "0.05", "units": "usd"}))).await {
                    Answer::Ok(body) => outcomes.lock().unwrap().transfers.push(body["transfer_id"].as_str().unwrap().to_owned()),
                    // Out of credit, or only promotional credit left, which only support moves.
                    Answer::Refused(status, body) => assert!(
                        status == StatusCode::PAYMENT_REQUIRED
                            || (status == StatusCode::FORBIDDEN
                                && body["message"].as_str().is_some_and(|m| m.contains("support"))),
                        "{status} {body}"
                    ),
                    Answer::Unknown => return unknown(&outcomes),
                }
            }
            100..=104 => {
                let email = format!("{}@signups.example", Uuid::now_v7().simple());
                let body = json!({"email": email, "first_name": "S", "last_name": "U", "password": "crash harness pw"});
                match api.call(Method::POST, "/v1/signup", "", Some(body)).await {
                    Answer::Ok(_) => outcomes.lock().unwrap().signups.push(email),
                    Answer::Refused(status, body) => panic!("signup refused: {status} {body}"),
                    Answer::Unknown => return unknown(&outcomes),
                }
            }
            105..=109 => {
                // A tenant logs in some tens of times in a run, well below the sessions an
                // account keeps (SESSIONS_PER_ACCOUNT_MAX); past it, its oldest session,
                // `tenant.session` first, would end.
                let body = json!({"email": tenant.email, "password": "crash harness pw"});
                match api.call(Method::POST, "/v1/login", "", Some(body)).await {
                    Answer::Ok(body) => {
                        let token = body["session_token"].as_str().unwrap().to_owned();
                        outcomes.lock().unwrap().sessions.push(token);
                    }
                    Answer::Refused(status, body) => panic!("login refused: {status} {body}"),
                    Answer::Unknown => return unknown(&outcomes),
                }
            }
            _ => {}
        }
    }
}
