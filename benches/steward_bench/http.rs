//! 4. Over HTTP: metering, key creation, an authenticated GET and the gateway check, vs a
//!    bare axum server.

use super::*;

pub(super) struct Load {
    pub(super) rate: f64,
    pub(super) p50: Duration,
    pub(super) p99: Duration,
}

/// `clients` loops sending `request` for `seconds`; answers must be 2xx.
pub(super) async fn load<F, Fut>(clients: usize, seconds: f64, request: F) -> Load
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = reqwest::StatusCode> + Send,
{
    let request = Arc::new(request);
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (request, stop, counter) = (
            Arc::clone(&request),
            Arc::clone(&stop),
            Arc::clone(&counter),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                let status = request(n).await;
                assert!(status.is_success(), "{status}");
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Load {
        rate: latencies.len() as f64 / elapsed,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
    }
}

/// wrk, if it is installed: the HTTP section's load generator (else a reqwest client in this
/// process, which on two cores is slower than the bare server it loads).
pub(super) fn find_wrk() -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|directory| directory.join("wrk"))
        .find(|path| path.is_file())
}

/// The original URI the gateway's check is asked about.
const VERIFIED_URI: &str = "/v1/listen?model=nova-3&tag=customer-a";

/// What one wrk run sends: every request the same, or metering bodies with fresh request ids.
pub(super) enum WrkBody {
    None,
    /// A GET with the original URI in `X-Original-URI`, as nginx's `auth_request` asks.
    Verify,
    /// The same body to each of these paths in turn.
    Rotating(String, Vec<String>),
    Metering,
}

/// One wrk run of `clients` connections for `seconds`; every answer must be 2xx.
pub(super) async fn wrk_load(
    wrk: &Path,
    clients: usize,
    seconds: u64,
    url: String,
    authorization: &str,
    body: WrkBody,
) -> Load {
    let (method, body_script) = match body {
        WrkBody::None => ("GET", String::new()),
        WrkBody::Verify => (
            "GET",
            format!("wrk.headers[\"X-Original-URI\"] = \"{VERIFIED_URI}\"\n"),
        ),
        WrkBody::Rotating(body, paths) => {
            let paths: Vec<String> = paths.iter().map(|path| format!("\"{path}\"")).collect();
            (
                "POST",
                format!(
                    r#"local paths = {{{}}}
local counter = 0
function request()
  counter = counter + 1
  return wrk.format(nil, paths[counter % #paths + 1], nil, '{body}')
end
"#,
                    paths.join(", ")
                ),
            )
        }
        WrkBody::Metering => {
            // Unique across runs (a random prefix), threads and requests.
            let run = &Uuid::now_v7().simple().to_string()[24..];
            (
                "POST",
                format!(
                    r#"local counter = 0
function request()
  counter = counter + 1
  local body = string.format('{{"request_id":"{run}-%04x-4000-8000-%012x","endpoint":"listen","method":"sync","model":"nova-3","units":{{"audio_seconds":%d}},"code":200,"tags":["batch"]}}', thread_number, counter, 1 + counter % 120)
  return wrk.format(nil, nil, nil, body)
end
"#
                ),
            )
        }
    };
    let script = format!(
        r#"wrk.method = "{method}"
wrk.headers["Authorization"] = "{authorization}"
wrk.headers["Content-Type"] = "application/json"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
{body_script}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk-result %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"#
    );
    let directory = tempfile::tempdir().unwrap();
    let script_path = directory.path().join("load.lua");
    std::fs::write(&script_path, script).unwrap();
    let threads = clients.min(2);
    let mut command = Command::new(wrk);
    command
        .arg(format!("-t{threads}"))
        .arg(format!("-c{clients}"))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout=10s")
        .arg("-s")
        .arg(&script_path)
        .arg(&url);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let figures: Vec<u64> = text
        .lines()
        .find_map(|line| line.strip_prefix("wrk-result "))
        .unwrap_or_else(|| panic!("wrk printed no result: {text}"))
        .split_whitespace()
        .map(|figure| figure.parse().unwrap())
        .collect();
    let [requests, micros, p50, p99, errors] = figures[..] else {
        panic!("wrk's result line is malformed: {text}");
    };
    assert_eq!(
        errors, 0,
        "wrk saw failed or non-2xx answers from {url}: {text}"
    );
    Load {
        rate: requests as f64 / (micros as f64 / 1e6),
        p50: Duration::from_micros(p50),
        p99: Duration::from_micros(p99),
    }
}

/// Someone signed up through the API, with a key of the owner's scopes.
pub(super) struct Owner {
    pub(super) account_id: AccountId,
    pub(super) project: String,
    /// `Bearer <session token>`.
    pub(super) session: String,
    pub(super) key_id: KeyId,
    /// `Token <secret>`.
    pub(super) key: String,
}

/// Signs up at `address` and creates an owner key tagged `tags`.
pub(super) async fn sign_up_with_key(
    client: &reqwest::Client,
    address: &str,
    tags: &[&str],
) -> Owner {
    let signup: Value = client
        .post(format!("{address}/v1/signup"))
        .json(&json!({"email": "bench@fruit.example", "first_name": "B", "last_name": "N", "password": "bench password"}))
        .send().await.unwrap().json().await.unwrap();
    let project = signup["project_id"].as_str().unwrap().to_owned();
    let session = format!("Bearer {}", signup["session_token"].as_str().unwrap());
    let key = create_key(
        client,
        address,
        (&project, &session),
        json!({"comment": "bench", "scopes": ["owner"], "tags": tags}),
    )
    .await;
    Owner {
        account_id: signup["account_id"].as_str().unwrap().parse().unwrap(),
        project,
        session,
        key_id: key["api_key_id"].as_str().unwrap().parse().unwrap(),
        key: format!("Token {}", key["key"].as_str().unwrap()),
    }
}

/// Creates a key in `project` as `session` (`Bearer …`): the API's answer.
async fn create_key(
    client: &reqwest::Client,
    address: &str,
    (project, session): (&str, &str),
    body: Value,
) -> Value {
    (client.post(format!("{address}/v1/projects/{project}/keys")))
        .header("Authorization", session)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A bare axum server: the same routes, parsing the same JSON, answering the same shapes.
pub(super) async fn bare_server() -> String {
    let app = Router::new()
        .route(
            "/v1/projects/{project_id}/requests",
            post(|Json(body): Json<Value>| async move {
                Json(json!({"request_id": body["request_id"], "usd": 0.0043, "code": 200, "tags": ["apple"]}))
            }),
        )
        .route(
            "/v1/projects/{project_id}/keys",
            post(|Json(body): Json<Value>| async move {
                Json(json!({"api_key_id": Uuid::now_v7(), "key": "stw_key_x", "comment": body["comment"], "scopes": body["scopes"], "tags": [], "created": "2026-11-26T00:00:00Z"}))
            }),
        )
        .route(
            "/v1/projects/{project_id}",
            get(|| async { Json(json!({"project_id": Uuid::nil(), "name": "Bench", "mip_opt_out": false, "company": null})) }),
        )
        .route(
            "/v1/auth/verify",
            get(|headers: axum::http::HeaderMap| async move {
                // The same headers read, the same answer's headers and body.
                let read = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
                let (authorization, uri) = (read("authorization"), read("x-original-uri"));
                assert!(!authorization.is_empty() && !uri.is_empty());
                let id = Uuid::nil().to_string();
                (
                    [
                        ("x-steward-project-id", id.clone()),
                        ("x-steward-key-id", id.clone()),
                        ("x-steward-account-id", id.clone()),
                        ("x-steward-tags", "apple,customer-a".to_owned()),
                        ("x-steward-scopes", "usage:read,usage:write".to_owned()),
                    ],
                    Json(json!({"project_id": id, "key_id": id, "account_id": id, "tags": ["apple", "customer-a"], "scopes": ["usage:read", "usage:write"]})),
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

pub(super) async fn http(mode: &Mode) {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = ServeSettings::embedded_default();
    settings.data_dir = directory.path().join("data");
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.promotional_credit_usd = Nanodollars::from_usd(1_000_000_000);
    let application = Application::build(settings, Arc::new(SystemClock))
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", application.port());
    let state = application.state().clone();
    tokio::spawn(async move {
        application
            .run_until_stopped(std::future::pending())
            .await
            .unwrap()
    });
    let bare = bare_server().await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let Owner {
        account_id,
        project,
        session,
        key_id,
        key,
    } = sign_up_with_key(&client, &address, &["apple"]).await;
    // The gateway's key makes requests and reads usage, nothing more: its check answers the
    // scopes and tags the bare handler answers, so that both write the same bytes.
    let gateway_key = create_key(
        &client,
        &address,
        (&project, &session),
        json!({"comment": "gateway", "scopes": ["usage:read", "usage:write"], "tags": ["apple"]}),
    )
    .await;
    let gateway_key = format!("Token {}", gateway_key["key"].as_str().unwrap());
    for name in ["x-steward-scopes", "x-steward-tags"] {
        let mut answers = Vec::new();
        for base in [&address, &bare] {
            let answer = (client.get(format!("{base}/v1/auth/verify")))
                .header("Authorization", &gateway_key)
                .header("X-Original-URI", VERIFIED_URI)
                .send()
                .await
                .unwrap();
            assert!(answer.status().is_success(), "{base}: {}", answer.status());
            answers.push(answer.headers()[name].to_str().unwrap().to_owned());
        }
        assert_eq!(
            answers[0], answers[1],
            "{name}: Steward's check and the bare one differ"
        );
    }
    let seconds: f64 = if mode.quick { 0.5 } else { 4.0 };
    let wrk = find_wrk();
    // Key creations go to the first project and 63 more in turn, as a project holds at most
    // KEYS_PER_PROJECT_MAX keys.
    let mut key_paths = vec![format!("/v1/projects/{project}/keys")];
    for n in 1..64 {
        let created: Value = client
            .post(format!("{address}/v1/projects"))
            .header("Authorization", &session)
            .json(&json!({"name": format!("bench {n}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        key_paths.push(format!(
            "/v1/projects/{}/keys",
            created["project_id"].as_str().unwrap()
        ));
    }
    let metering_body = |n: u64| json!({"request_id": Uuid::now_v7(), "endpoint": "listen", "method": "sync", "model": "nova-3", "units": {"audio_seconds": 1 + n % 120}, "code": 200, "tags": ["batch"]});

    println!(
        "\n## Over HTTP (requests/s median (min–max) of {}; p50/p99 of the median run)\n",
        mode.repetitions
    );
    match &wrk {
        Some(wrk) => println!(
            "load generator: {} ({} s per run; 1 thread for 1 client, else 2)\n",
            wrk.display(),
            seconds.ceil()
        ),
        None => println!(
            "load generator: reqwest in this process (wrk not found; install it for the \
             documented figures)\n"
        ),
    }
    println!("| what | clients | Steward | p50 / p99 | bare axum | p50 / p99 | Steward / bare | mean group-commit batch |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut metering_rates = BTreeMapF::default();
    for (what, path) in [
        ("metered request", "requests"),
        ("key creation", "keys"),
        ("authenticated GET", ""),
        ("gateway check (verify)", "verify"),
    ] {
        let rows = std::env::var("STEWARD_BENCH_HTTP").unwrap_or_default();
        let row = if path.is_empty() { "get" } else { path };
        if !rows.is_empty() && !rows.split(',').any(|wanted| wanted == row) {
            continue;
        }
        for clients in [1usize, 16, 64] {
            let mut ours = Vec::new();
            let mut theirs = Vec::new();
            let stats_before = state.steward.processor_stats();
            for _ in 0..mode.repetitions {
                for (base, results) in [(address.clone(), &mut ours), (bare.clone(), &mut theirs)] {
                    let url = match path {
                        "" => format!("{base}/v1/projects/{project}"),
                        "verify" => format!("{base}/v1/auth/verify"),
                        _ => format!("{base}/v1/projects/{project}/{path}"),
                    };
                    if let Some(wrk) = &wrk {
                        let (authorization, body) = match path {
                            "requests" => (&key, WrkBody::Metering),
                            // Spread over projects: each holds at most KEYS_PER_PROJECT_MAX.
                            "keys" => (
                                &session,
                                WrkBody::Rotating(
                                    r#"{"comment":"k","scopes":["member"]}"#.into(),
                                    key_paths.clone(),
                                ),
                            ),
                            "verify" => (&gateway_key, WrkBody::Verify),
                            _ => (&key, WrkBody::None),
                        };
                        let seconds = seconds.ceil() as u64;
                        results
                            .push(wrk_load(wrk, clients, seconds, url, authorization, body).await);
                        continue;
                    }
                    let key = match path {
                        "verify" => gateway_key.clone(),
                        _ => key.clone(),
                    };
                    let (client, session) = (client.clone(), session.clone());
                    let (path, key_paths, base) =
                        (path.to_owned(), key_paths.clone(), base.clone());
                    let result = load(clients, seconds, move |n| {
                        let (client, key, session, path) =
                            (client.clone(), key.clone(), session.clone(), path.clone());
                        let url = match path.as_str() {
                            "keys" => format!("{base}{}", key_paths[n as usize % key_paths.len()]),
                            _ => url.clone(),
                        };
                        async move {
                            let request = match path.as_str() {
                                "requests" => client
                                    .post(url)
                                    .header("Authorization", key)
                                    .json(&metering_body(n)),
                                "keys" => client
                                    .post(url)
                                    .header("Authorization", session)
                                    .json(&json!({"comment": "k", "scopes": ["member"]})),
                                "verify" => client
                                    .get(url)
                                    .header("Authorization", key)
                                    .header("X-Original-URI", VERIFIED_URI),
                                _ => client.get(url).header("Authorization", key),
                            };
                            request
                                .send()
                                .await
                                .map(|r| r.status())
                                .unwrap_or(reqwest::StatusCode::INTERNAL_SERVER_ERROR)
                        }
                    })
                    .await;
                    results.push(result);
                }
            }
            let stats = state.steward.processor_stats();
            let batches = stats.batches - stats_before.batches;
            let commands = stats.commands - stats_before.commands;
            let median = |mut loads: Vec<Load>| {
                loads.sort_by(|a, b| a.rate.partial_cmp(&b.rate).unwrap());
                let rates = spread(loads.iter().map(|l| l.rate).collect());
                let middle = &loads[loads.len() / 2];
                (rates, middle.p50, middle.p99)
            };
            let (our_rates, our_p50, our_p99) = median(ours);
            let (their_rates, their_p50, their_p99) = median(theirs);
            if what == "metered request" {
                metering_rates.0.push((clients, our_rates.1, their_rates.1));
            }
            let batch = if matches!(path, "" | "verify") || batches == 0 {
                "—".to_owned()
            } else {
                format!("{:.1}", commands as f64 / batches as f64)
            };
            println!(
                "| {what} | {clients} | {} | {our_p50:.1?} / {our_p99:.1?} | {} | {their_p50:.1?} / {their_p99:.1?} | {:.2} | {batch} |",
                show(our_rates), show(their_rates), our_rates.1 / their_rates.1
            );
        }
    }
    if let (Some(one), Some(many)) = (
        metering_rates.0.iter().find(|r| r.0 == 1),
        metering_rates.0.iter().find(|r| r.0 == 64),
    ) {
        println!(
            "\nmetering at 64 clients vs 1 client: {:.1}× (group commit)",
            many.1 / one.1
        );
    }
    println!(
        "largest group-commit batch: {}",
        state.steward.processor_stats().largest_batch
    );

    // The same metering without HTTP: 64 tasks calling the command processor directly, to
    // show what the durable path alone carries on this machine.
    let project_id: ProjectId = project.parse().unwrap();
    let actor = Actor::Key { key_id, account_id };
    let nova = state.models.metered("nova-3").unwrap();
    let mut rates = Vec::new();
    for _ in 0..mode.repetitions {
        let steward = Arc::clone(&state.steward);
        let nova = nova.clone();
        let result = load(64, seconds, move |n| {
            let (steward, model) = (Arc::clone(&steward), nova.clone());
            async move {
                let report = steward::domain::UsageReport {
                    request_id: RequestId::from_uuid(Uuid::now_v7()),
                    tags: vec![Tag::parse("batch").unwrap()],
                    endpoint: Endpoint::Listen,
                    method: RequestMethod::Sync,
                    model,
                    deployment: Deployment::Hosted,
                    units: UsageUnits {
                        audio_milliseconds: 1000 * (1 + n % 120),
                        ..UsageUnits::default()
                    },
                    status_code: 200,
                    cost: Nanodollars::new(4_300_000),
                    features: FeatureSet::EMPTY,
                };
                let command = steward::domain::Command::RecordUsage { project_id, report };
                match steward.execute(actor, command).await {
                    Ok(_) => reqwest::StatusCode::OK,
                    Err(_) => reqwest::StatusCode::INTERNAL_SERVER_ERROR,
                }
            }
        })
        .await;
        rates.push(result.rate);
    }
    println!(
        "metering through the command processor without HTTP, 64 tasks: {} commands/s",
        show(spread(rates))
    );
}

#[derive(Default)]
pub(super) struct BTreeMapF(pub(super) Vec<(usize, f64, f64)>);
