//! The scale-out harness: three `steward serve` nodes on one PostgreSQL log, eight clients
//! spread over them (metering on a hot project, key creation, invitations, transfers), and a
//! random node killed with SIGKILL every few seconds (the writer included) and restarted.
//! Every command carries an `Idempotency-Key` and is retried, with the same key, on the next
//! node until it is answered. Then: the log is sound (`steward verify`); every acknowledged
//! command is in it exactly once, and no command twice; each node's read models equal a
//! rebuild from the log; and each acknowledged key was visible at once on the node that
//! answered. It prints `scale-out: N acknowledged, N found, 0 lost, 0 duplicated, longest
//! failover X s`.
//!
//! It needs PostgreSQL's server programs, so a plain `cargo test` skips it; `.ci/run` runs it
//! with `cargo test --test scale_out -- --ignored --nocapture`.

mod forwarding;
mod node;
mod restart;

use node::{Node, OPERATOR_TOKEN};
use rand::{rngs::StdRng, Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use steward_events::{log::postgres::cluster::Cluster, Envelope, Event, EventLog, PgLog};
use steward_projections::Projections;
use tokio::sync::RwLock;
use uuid::Uuid;

const NODES: usize = 3;
const CLIENTS: usize = 8;
/// How long the clients run while nodes are killed.
const LOAD: Duration = Duration::from_secs(40);
/// Invitations a client leaves pending; it revokes the oldest beyond them.
const PENDING_INVITATIONS_PER_CLIENT: usize = 20;
/// How long one command may take, retries included, before the harness gives up on it.
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// What the clients saw.
#[derive(Default)]
struct Seen {
    /// The marker of every acknowledged command (request id, key comment, invited address,
    /// transfer id), by kind.
    acknowledged: Vec<(&'static str, String)>,
    /// Commands whose retry was told they had been recorded, the first answer lost with a
    /// killed node: in the log once, though their marker is unknown for transfers.
    recorded_unanswered: HashMap<&'static str, usize>,
    /// Writers killed, not yet followed by an acknowledged command.
    writer_killed_at: Option<Instant>,
    longest_failover: Duration,
}

/// The nodes, each slot empty while its node is down.
type Nodes = Arc<Vec<RwLock<Option<Node>>>>;

struct Tenant {
    session: String,
    key: String,
    project: String,
    second_project: String,
}

/// Where the clients reach node `index`.
fn base(ports: &[u16], index: usize) -> String {
    format!("http://127.0.0.1:{}", ports[index])
}

/// Sends `body` to `path` with `key`, from node `first` on, the next node after each failure,
/// until it is answered with something other than a 503, or the deadline passes.
async fn command(
    http: &reqwest::Client,
    ports: &[u16],
    first: usize,
    method: Method,
    path: &str,
    auth: &str,
    body: Value,
) -> (usize, StatusCode, Value) {
    let key = Uuid::now_v7().to_string();
    let started = Instant::now();
    let mut node = first;
    while started.elapsed() < COMMAND_DEADLINE {
        let sent = http
            .request(method.clone(), format!("{}{path}", base(ports, node)))
            .header("Authorization", auth)
            .header("Idempotency-Key", &key)
            .timeout(Duration::from_secs(10))
            .json(&body)
            .send()
            .await;
        if let Ok(answer) = sent {
            let status = answer.status();
            if let Ok(body) = answer.json::<Value>().await {
                if status != StatusCode::SERVICE_UNAVAILABLE {
                    return (node, status, body);
                }
            }
        }
        node = (node + 1) % ports.len();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{method} {path} was not answered within {COMMAND_DEADLINE:?}");
}

/// Logs in as the first tenant's owner with the Console's form on node `base` (whose CSRF
/// cookie it fetches first), sending `cookies` beside that one; the answer as it came.
async fn console_login(http: &reqwest::Client, base: &str, cookies: &str) -> reqwest::Response {
    let login = format!("{base}/console/login");
    let form = http.get(&login).send().await.unwrap();
    let csrf = (form.headers().get_all("set-cookie").iter())
        .filter_map(|cookie| cookie.to_str().ok()?.strip_prefix("steward_csrf="))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        .next()
        .expect("the login form sets a CSRF cookie");
    http.post(&login)
        .header("Cookie", format!("steward_csrf={csrf}; {cookies}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "owner0@scale.example"),
            ("password", "scale-out pw"),
            ("next", ""),
        ])
        // Answered at once, or the test fails: a refusal must not wait for the database.
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
}

/// Whether an answer says the command was recorded but its first answer lost.
fn recorded_unanswered(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::CONFLICT
        && body["message"]
            .as_str()
            .is_some_and(|message| message.contains("was recorded"))
}

async fn setup(http: &reqwest::Client, ports: &[u16], index: usize) -> Tenant {
    let email = format!("owner{index}@scale.example");
    let signup =
        json!({"email": email, "first_name": "S", "last_name": "O", "password": "scale-out pw"});
    let (_, status, owner) = command(http, ports, 0, Method::POST, "/v1/signup", "", signup).await;
    assert_eq!(status, StatusCode::OK, "{owner}");
    let session = format!("Bearer {}", owner["session_token"].as_str().unwrap());
    let project = owner["project_id"].as_str().unwrap().to_owned();
    let (_, status, second) = command(
        http,
        ports,
        1,
        Method::POST,
        "/v1/projects",
        &session,
        json!({"name": "second"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let path = format!("/v1/projects/{project}/keys");
    let body = json!({"comment": "meter", "scopes": ["owner"]});
    let (_, status, key) = command(http, ports, 2, Method::POST, &path, &session, body).await;
    assert_eq!(status, StatusCode::OK, "{key}");
    let operator = format!("Bearer {OPERATOR_TOKEN}");
    let second_project = second["project_id"].as_str().unwrap().to_owned();
    for target in [&project, &second_project] {
        let path = format!("/v1/operator/projects/{target}/credits");
        let body = json!({"amount": "1000", "units": "usd", "source": "card"});
        let (_, status, grant) =
            command(http, ports, 0, Method::POST, &path, &operator, body).await;
        assert_eq!(status, StatusCode::OK, "{grant}");
    }
    Tenant {
        session,
        key: format!("Token {}", key["key"].as_str().unwrap()),
        project,
        second_project,
    }
}

/// One client: mixed commands until `until`, starting on node `home`.
async fn client(
    ports: Arc<Vec<u16>>,
    tenant: Arc<Tenant>,
    home: usize,
    seed: u64,
    until: Instant,
    seen: Arc<Mutex<Seen>>,
) {
    let http = reqwest::Client::new();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pending_invitations = std::collections::VecDeque::new();
    while Instant::now() < until {
        let choice = rng.random_range(0..100);
        let (kind, marker, method, path, auth, body) = match choice {
            0..=59 => {
                let request_id = Uuid::now_v7().to_string();
                let body = json!({"request_id": request_id, "endpoint": "listen", "method": "sync", "model": "nova-3", "units": {"audio_seconds": 30}, "code": 200, "tags": ["hot"]});
                let path = format!("/v1/projects/{}/requests", tenant.project);
                (
                    "metering",
                    request_id,
                    Method::POST,
                    path,
                    &tenant.key,
                    body,
                )
            }
            60..=74 => {
                let comment = format!("load-{}", Uuid::now_v7().simple());
                let body = json!({"comment": comment, "scopes": ["member"]});
                let path = format!("/v1/projects/{}/keys", tenant.project);
                ("key", comment, Method::POST, path, &tenant.session, body)
            }
            75..=89 => {
                let email = format!("{}@invitees.example", Uuid::now_v7().simple());
                let body = json!({"email": email, "scope": "member"});
                let path = format!("/v1/projects/{}/invites", tenant.project);
                (
                    "invitation",
                    email,
                    Method::POST,
                    path,
                    &tenant.session,
                    body,
                )
            }
            _ => {
                let (from, to) = if rng.random_bool(0.5) {
                    (&tenant.project, &tenant.second_project)
                } else {
                    (&tenant.second_project, &tenant.project)
                };
                let body = json!({"from_project_id": from, "to_project_id": to, "amount": "0.01", "units": "usd"});
                (
                    "transfer",
                    String::new(),
                    Method::POST,
                    "/v1/transfers".to_owned(),
                    &tenant.session,
                    body,
                )
            }
        };
        let (node, status, answer) = command(&http, &ports, home, method, &path, auth, body).await;
        if recorded_unanswered(status, &answer) {
            *seen
                .lock()
                .unwrap()
                .recorded_unanswered
                .entry(kind)
                .or_default() += 1;
            continue;
        }
        // Transfers split balances, and a project may hold only so many: a rule's refusal.
        let limited = status == StatusCode::CONFLICT
            && answer["message"]
                .as_str()
                .is_some_and(|message| message.contains("the most balances"));
        if kind == "transfer" && limited {
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{kind}: {answer}");
        let marker = match kind {
            "transfer" => answer["transfer_id"].as_str().unwrap().to_owned(),
            _ => marker,
        };
        if kind == "key" {
            // Read-your-writes: the node that answered shows the key at once.
            let id = answer["api_key_id"].as_str().unwrap();
            let path = format!(
                "{}/v1/projects/{}/keys/{id}",
                base(&ports, node),
                tenant.project
            );
            if let Ok(read) = http
                .get(path)
                .header("Authorization", &tenant.session)
                .send()
                .await
            {
                let read_status = read.status();
                // A node killed since cannot answer; one that answers must show the key.
                if read_status != StatusCode::SERVICE_UNAVAILABLE {
                    assert_eq!(
                        read_status,
                        StatusCode::OK,
                        "a key answered by a node it does not show"
                    );
                }
            }
        }
        if kind == "invitation" {
            pending_invitations.push_back(marker.clone());
        }
        {
            let mut seen = seen.lock().unwrap();
            if let Some(killed) = seen.writer_killed_at.take() {
                seen.longest_failover = seen.longest_failover.max(killed.elapsed());
            }
            seen.acknowledged.push((kind, marker));
        }
        // Revokes the oldest beyond a few, to stay under the pending invitations' limit.
        if pending_invitations.len() > PENDING_INVITATIONS_PER_CLIENT {
            let email = pending_invitations.pop_front().unwrap();
            let path = format!("/v1/projects/{}/invites/{email}", tenant.project);
            let (_, status, answer) = command(
                &http,
                &ports,
                home,
                Method::DELETE,
                &path,
                &tenant.session,
                json!({}),
            )
            .await;
            assert!(
                status == StatusCode::OK || recorded_unanswered(status, &answer),
                "revocation: {status} {answer}"
            );
        }
    }
}

/// Checks the log with `steward verify` and that its positions have no gap; answers its
/// events and the read models rebuilt from it.
async fn sound_log(url: &str) -> (Vec<Envelope>, Projections) {
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["verify", "--postgres-url", url])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let read_url = url.to_owned();
    let (envelopes, rebuilt) = tokio::task::spawn_blocking(move || {
        let log = PgLog::connect(&read_url).unwrap();
        let envelopes: Vec<_> = log.read_from(1).collect::<Result<_, _>>().unwrap();
        (envelopes, Projections::rebuild(&log).unwrap())
    })
    .await
    .unwrap();
    let head = envelopes.last().map_or(0, |envelope| envelope.position);
    let positions: Vec<u64> = envelopes.iter().map(|envelope| envelope.position).collect();
    assert_eq!(
        positions,
        (1..=head).collect::<Vec<_>>(),
        "positions with a gap"
    );
    (envelopes, rebuilt)
}

/// Checks that every node's read models, once at `head`, equal `rebuilt`.
async fn read_models_equal(
    http: &reqwest::Client,
    ports: &[u16],
    rebuilt: &Projections,
    head: u64,
) {
    let rebuilt: Vec<Value> = rebuilt
        .summaries()
        .into_iter()
        .map(|s| json!({"name": s.name, "position": s.position, "digest": s.digest}))
        .collect();
    for index in 0..ports.len() {
        let live: Value = http
            .get(format!("{}/v1/operator/projections", base(ports, index)))
            .header("Authorization", format!("Bearer {OPERATOR_TOKEN}"))
            .header("Steward-Min-Position", head.to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            live["projections"],
            json!(rebuilt),
            "node {index}'s read models"
        );
    }
}

/// The URL of the elected writer, from the log's head row.
async fn writer_url(url: &str) -> Option<String> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || PgLog::connect(&url).ok()?.writer_url().ok()?)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL's server programs; run by .ci/run"]
async fn three_nodes_lose_nothing_and_apply_nothing_twice_while_nodes_are_killed() {
    // Given: three nodes on one PostgreSQL database, and two tenants.
    let cluster = Cluster::start().unwrap_or_else(|why| panic!("no PostgreSQL: {why}"));
    // The blocking client cannot run on the runtime's own threads.
    let url = tokio::task::block_in_place(|| cluster.create_database("scale_out")).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let ports: Arc<Vec<u16>> = Arc::new((0..NODES).map(|_| node::free_port()).collect());
    let mut started = Vec::new();
    for index in 0..NODES {
        started.push(RwLock::new(Some(
            Node::start(&url, directory.path(), &ports, index).await,
        )));
    }
    let nodes: Nodes = Arc::new(started);
    let http = reqwest::Client::new();
    let tenants = [
        Arc::new(setup(&http, &ports, 0).await),
        Arc::new(setup(&http, &ports, 1).await),
    ];

    // When: eight clients over three nodes, and a random node killed every few seconds.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let until = Instant::now() + LOAD;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|index| {
            let tenant = Arc::clone(&tenants[index % tenants.len()]);
            let home = index % NODES;
            tokio::spawn(client(
                Arc::clone(&ports),
                tenant,
                home,
                index as u64,
                until,
                Arc::clone(&seen),
            ))
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(0x5ca1e);
    let (mut kills, mut writer_kills) = (0, 0);
    while Instant::now() + Duration::from_secs(4) < until {
        tokio::time::sleep(Duration::from_millis(rng.random_range(1500..3500))).await;
        let index = rng.random_range(0..NODES);
        let was_writer = writer_url(&url).await.as_deref() == Some(base(&ports, index).as_str());
        if let Some(node) = nodes[index].write().await.take() {
            node.kill();
            kills += 1;
            if was_writer {
                writer_kills += 1;
                seen.lock()
                    .unwrap()
                    .writer_killed_at
                    .get_or_insert(Instant::now());
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1200))).await;
        let node = Node::start(&url, directory.path(), &ports, index).await;
        *nodes[index].write().await = Some(node);
    }
    for client in clients {
        client.await.unwrap();
    }

    // Then: the log is sound.
    let (envelopes, rebuilt) = sound_log(&url).await;
    let head = envelopes.last().map_or(0, |envelope| envelope.position);

    // Then: every acknowledged command is in the log once, and none twice.
    let mut found: HashMap<(&'static str, String), usize> = HashMap::new();
    for envelope in &envelopes {
        let marker = match &envelope.event {
            Event::UsageRecorded { request_id, .. } => ("metering", request_id.to_string()),
            Event::ApiKeyCreated { comment, .. } if comment.starts_with("load-") => {
                ("key", comment.clone())
            }
            Event::MemberInvited { email, .. } if email.as_str().ends_with("@invitees.example") => {
                ("invitation", email.as_str().to_owned())
            }
            Event::CreditsTransferredOut { transfer_id, .. } => {
                ("transfer", transfer_id.to_string())
            }
            _ => continue,
        };
        *found.entry(marker).or_default() += 1;
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let acknowledged = seen.acknowledged.len();
    let present = seen
        .acknowledged
        .iter()
        .filter(|marker| found.contains_key(marker))
        .count();
    let lost = acknowledged - present;
    let twice = found.values().filter(|&&count| count > 1).count();
    // Every command recorded is one some client was answered for (or told was recorded).
    let unanswered: usize = seen.recorded_unanswered.values().sum();
    let duplicated = twice + found.len().saturating_sub(acknowledged + unanswered);
    println!(
        "scale-out: {acknowledged} acknowledged, {present} found, {lost} lost, {duplicated} \
         duplicated, longest failover {:.2} s ({kills} kills, {writer_kills} of the writer, \
         {unanswered} answers lost with a node and told on retry, {head} events)",
        seen.longest_failover.as_secs_f64()
    );
    assert_eq!(lost, 0, "acknowledged commands missing from the log");
    assert_eq!(duplicated, 0, "commands recorded twice");
    assert!(
        writer_kills > 0,
        "the writer was never killed: the harness proved nothing"
    );

    // Then: each node's read models equal a rebuild from the log.
    read_models_equal(&http, &ports, &rebuilt, head).await;
    for slot in nodes.iter() {
        if let Some(node) = slot.write().await.take() {
            node.stop();
        }
    }
}
