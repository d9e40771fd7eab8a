//! The crash harness: the real `steward serve` binary under a concurrent load of mixed
//! commands from many clients, killed with SIGKILL at random moments and restarted on the same
//! data directory, several times. Then: every command answered 2xx is in the log and visible
//! through the API; no command refused by a rule left an event; no batch is half-written;
//! credit is conserved (`steward verify`); and the read models rebuilt from the log equal what
//! the restarted server serves. It prints `crash: N acknowledged, N found, 0 lost`.

use rand::{rngs::StdRng, Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};
use steward_events::{Event, EventLog};
use steward_projections::Projections;
use uuid::Uuid;

const OPERATOR_TOKEN: &str = "operator-token-for-the-crash-harness-0123456789";
const CYCLES: usize = 6;
const CLIENTS: usize = 10;
const TENANTS: usize = 4;

struct Server {
    child: Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(data: &Path, port: u16) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("STEWARD_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .env("STEWARD_PROMOTIONAL_CREDIT_USD", "0.5")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the steward binary starts");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            return Server { child };
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("steward serve did not come up");
}

impl Server {
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    fn stop(mut self) {
        // SIGTERM: a graceful stop.
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap();
    }
}

/// A tenant: an owner, their two projects, a key, and a helper member whose role changes.
#[derive(Clone, Debug)]
struct Tenant {
    session: String,
    project: String,
    second_project: String,
    key: String,
    helper: String,
}

/// What the clients saw: commands acknowledged (2xx), refused by a rule (4xx), or unknown
/// (the connection died with the server).
#[derive(Default)]
struct Outcomes {
    metered: Vec<String>,
    /// (project, request id) of every acknowledged metering, to look up through the API.
    metered_in: Vec<(String, String)>,
    refused_meterings: Vec<String>,
    keys_created: Vec<String>,
    keys_deleted: Vec<String>,
    invited: Vec<String>,
    revoked: Vec<String>,
    grants: Vec<String>,
    transfers: Vec<String>,
    /// (account, role) of role changes known to change the role.
    role_changes: Vec<(String, String)>,
    unknown: usize,
}

struct Api {
    client: reqwest::Client,
    base: String,
}

enum Answer {
    Ok(Value),
    Refused(StatusCode, Value),
    Unknown,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", auth)
            .timeout(Duration::from_secs(10));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let Ok(response) = request.send().await else {
            return Answer::Unknown;
        };
        let status = response.status();
        let Ok(body) = response.json::<Value>().await else {
            return Answer::Unknown;
        };
        if status.is_success() {
            Answer::Ok(body)
        } else if status.is_client_error() {
            assert!(
                body["category"].is_string(),
                "a refusal carries the error JSON: {body}"
            );
            Answer::Refused(status, body)
        } else {
            panic!("the server answered {status}: {body}");
        }
    }
}

async fn setup(api: &Api) -> Vec<Tenant> {
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
async fn client(
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
        let choice = rng.random_range(0..100);
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
                    Answer::Refused(status, body) => assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}"),
                    Answer::Unknown => return unknown(&outcomes),
                }
            }
            _ => {}
        }
    }
}

fn read_log(data: &Path) -> Vec<steward_events::Envelope> {
    let log = EventLog::open(data).unwrap();
    log.read_from(1).collect::<Result<Vec<_>, _>>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_commands_survive_sigkill_and_refused_ones_leave_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let data: PathBuf = directory.path().join("data");
    let port = free_port();
    let api = Arc::new(Api {
        client: reqwest::Client::new(),
        base: format!("http://127.0.0.1:{port}"),
    });
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let mut rng = StdRng::seed_from_u64(0x5eed);

    // Given: four tenants, set up on a server stopped gracefully.
    let server = start(&data, port).await;
    let tenants = setup(&api).await;
    server.stop();

    // When: load, then SIGKILL at a random moment, several times.
    for cycle in 0..CYCLES {
        let server = start(&data, port).await;
        let mut clients = Vec::new();
        for index in 0..CLIENTS {
            let tenant = tenants[index % TENANTS].clone();
            clients.push(tokio::spawn(client(
                Arc::clone(&api),
                tenant,
                (cycle * CLIENTS + index) as u64,
                Arc::clone(&outcomes),
                index < TENANTS,
            )));
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..900))).await;
        server.kill();
        for client in clients {
            client.await.unwrap();
        }
    }

    // Then: the restarted server serves exactly what a rebuild from the log gives.
    let server = start(&data, port).await;
    let operator = format!("Bearer {OPERATOR_TOKEN}");
    let Answer::Ok(live) = api
        .call(
            reqwest::Method::GET,
            "/v1/operator/projections",
            &operator,
            None,
        )
        .await
    else {
        panic!("projections")
    };
    // Every acknowledged metering is visible through the API, with its cost.
    let metered_in = outcomes.lock().unwrap().metered_in.clone();
    let mut visible = 0;
    for chunk in metered_in.chunks(64) {
        let lookups = chunk.iter().map(|(project, request_id)| {
            let (api, operator) = (Arc::clone(&api), operator.clone());
            let path = format!("/v1/projects/{project}/requests/{request_id}");
            tokio::spawn(
                async move { api.call(reqwest::Method::GET, &path, &operator, None).await },
            )
        });
        for lookup in lookups.collect::<Vec<_>>() {
            if let Answer::Ok(body) = lookup.await.unwrap() {
                assert!(body["request"]["response"]["details"]["usd"].is_number());
                visible += 1;
            }
        }
    }
    assert_eq!(
        visible,
        metered_in.len(),
        "acknowledged meterings missing from the API"
    );
    server.stop();
    let log = EventLog::open(&data).unwrap();
    let rebuilt = Projections::rebuild(&log).unwrap();
    let rebuilt: Vec<Value> = rebuilt
        .summaries()
        .into_iter()
        .map(|s| json!({"name": s.name, "position": s.position, "digest": s.digest}))
        .collect();
    assert_eq!(live["projections"], json!(rebuilt));
    drop(log);

    // Then: the log is sound and credit is conserved.
    let verify = Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["verify", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // Then: every acknowledged command is in the log; no refused one is.
    let envelopes = read_log(&data);
    let mut usage = HashSet::new();
    let mut keys_created = HashSet::new();
    let mut keys_deleted = HashSet::new();
    let mut invited = HashSet::new();
    let mut revoked = HashSet::new();
    let mut grants = HashSet::new();
    let mut transfers_out = HashSet::new();
    let mut transfers_in = HashSet::new();
    let mut role_changes: HashMap<(String, String), usize> = HashMap::new();
    let mut by_command: BTreeMap<Uuid, Vec<&'static str>> = BTreeMap::new();
    for envelope in &envelopes {
        by_command
            .entry(envelope.correlation_id)
            .or_default()
            .push(envelope.event.kind());
        match &envelope.event {
            Event::UsageRecorded { request_id, .. } => {
                usage.insert(request_id.to_string());
            }
            Event::ApiKeyCreated { key_id, .. } => {
                keys_created.insert(key_id.to_string());
            }
            Event::ApiKeyDeleted { key_id, .. } => {
                keys_deleted.insert(key_id.to_string());
            }
            Event::MemberInvited { email, .. } => {
                invited.insert(email.to_string());
            }
            Event::InvitationRevoked { email, .. } => {
                revoked.insert(email.to_string());
            }
            Event::CreditsGranted { grant_id, .. } => {
                grants.insert(grant_id.to_string());
            }
            Event::CreditsTransferredOut { transfer_id, .. } => {
                transfers_out.insert(transfer_id.to_string());
            }
            Event::CreditsTransferredIn { transfer_id, .. } => {
                transfers_in.insert(transfer_id.to_string());
            }
            Event::RoleChanged { account_id, to, .. } => {
                *role_changes
                    .entry((account_id.to_string(), to.name().to_owned()))
                    .or_default() += 1;
            }
            _ => {}
        }
    }
    let outcomes = outcomes.lock().unwrap();
    let mut acknowledged = 0;
    let mut found = 0;
    let mut check = |ids: &Vec<String>, log: &HashSet<String>| {
        acknowledged += ids.len();
        found += ids.iter().filter(|id| log.contains(*id)).count();
    };
    check(&outcomes.metered, &usage);
    check(&outcomes.keys_created, &keys_created);
    check(&outcomes.keys_deleted, &keys_deleted);
    check(&outcomes.invited, &invited);
    check(&outcomes.revoked, &revoked);
    check(&outcomes.grants, &grants);
    check(&outcomes.transfers, &transfers_out);
    let mut expected_changes: HashMap<(String, String), usize> = HashMap::new();
    for change in &outcomes.role_changes {
        *expected_changes.entry(change.clone()).or_default() += 1;
    }
    for (change, count) in &expected_changes {
        acknowledged += count;
        found += (*count).min(role_changes.get(change).copied().unwrap_or(0));
    }
    let lost = acknowledged - found;
    println!("crash: {acknowledged} acknowledged, {found} found, {lost} lost");
    println!(
        "crash: {} cycles, {} clients, {} events, {} meterings refused for lack of credit, {} commands cut off by a kill",
        CYCLES, CLIENTS, envelopes.len(), outcomes.refused_meterings.len(), outcomes.unknown
    );
    assert_eq!(lost, 0);
    assert!(
        acknowledged > 500,
        "the load was too light to mean much: {acknowledged}"
    );
    for request_id in &outcomes.refused_meterings {
        assert!(
            !usage.contains(request_id),
            "a refused metering left an event: {request_id}"
        );
    }
    // No half-written batch: every transfer has both sides; every command's events are whole.
    assert_eq!(transfers_out, transfers_in);
    for (command, kinds) in &by_command {
        let whole = match kinds.first().copied() {
            Some("usage_recorded") => {
                kinds.len() <= 2 && kinds.iter().skip(1).all(|k| *k == "credits_consumed")
            }
            Some("credits_transferred_out") => {
                kinds == &["credits_transferred_out", "credits_transferred_in"]
            }
            Some("account_registered") => {
                kinds.starts_with(&["account_registered", "project_created", "member_joined"])
            }
            Some("project_created") => kinds == &["project_created", "member_joined"],
            Some("invitation_accepted") => kinds == &["invitation_accepted", "member_joined"],
            Some(_) => kinds.len() == 1 || kinds.iter().all(|k| *k == "credits_expired"),
            None => false,
        };
        assert!(whole, "command {command} left {kinds:?}");
    }
}
