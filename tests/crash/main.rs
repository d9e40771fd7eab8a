//! The crash harness: the real `steward serve` binary under a concurrent load of mixed
//! commands, sign-ups and logins from many clients, killed with SIGKILL at random moments and
//! restarted on the same data directory, several times. Then: every command answered 2xx is in
//! the log and visible through the API; every acknowledged login's session still works; no
//! command refused by a rule left an event; no batch is half-written; credit is conserved
//! (`steward verify`); and the read models rebuilt from the log equal what the restarted server
//! serves. It prints `crash: N acknowledged, N found, 0 lost`.
//!
//! `signups` holds the test that the server never wedges under concurrent sign-ups.

mod harness;
mod mix;
mod signups;

use harness::{free_port, start, Answer, Api, OPERATOR_TOKEN};
use mix::{client, setup, Outcomes, TENANTS};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, Mutex},
    time::Duration,
};
use steward_events::{Event, SledLog};
use steward_projections::Projections;
use uuid::Uuid;

const CYCLES: usize = 6;
const CLIENTS: usize = 10;

fn read_log(data: &Path) -> Vec<steward_events::Envelope> {
    let log = SledLog::open(data).unwrap();
    log.read_from(1).collect::<Result<Vec<_>, _>>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_commands_survive_sigkill_and_refused_ones_leave_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let data: PathBuf = directory.path().join("data");
    let port = free_port();
    let api = Arc::new(Api::new(port, Duration::from_secs(10)));
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
    // Every acknowledged login's session still works.
    let sessions = outcomes.lock().unwrap().sessions.clone();
    for token in &sessions {
        let answer = api
            .call(
                reqwest::Method::GET,
                "/v1/projects",
                &format!("Bearer {token}"),
                None,
            )
            .await;
        assert!(
            matches!(answer, Answer::Ok(_)),
            "an acknowledged login's session was lost"
        );
    }
    server.stop();
    let log = SledLog::open(&data).unwrap();
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
    let mut registered = HashSet::new();
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
            Event::AccountRegistered { email, .. } => {
                registered.insert(email.to_string());
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
    check(&outcomes.signups, &registered);
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
    println!(
        "crash: {} sign-ups acknowledged, {} login sessions still valid after the restarts",
        outcomes.signups.len(),
        sessions.len()
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
