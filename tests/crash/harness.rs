//! What every test of this binary shares: the real `steward serve` started on a data
//! directory, stopped or killed, and a client that sorts its answers.

use reqwest::StatusCode;
use serde_json::Value;
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

pub const OPERATOR_TOKEN: &str = "operator-token-for-the-crash-harness-0123456789";

/// A running `steward serve`.
pub struct Server {
    child: Child,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary on `data` and waits until it answers `/healthz`.
pub async fn start(data: &Path, port: u16) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("STEWARD_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .env("STEWARD_PROMOTIONAL_CREDIT_USD", "0.5")
        // Every client signs up from 127.0.0.1: the per-address limit would refuse them.
        .env("STEWARD_SIGNUPS_PER_MINUTE", "0")
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
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    pub fn stop(mut self) {
        self.terminate();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM (a graceful stop) and waits up to `limit` for the process to exit; kills
    /// it and panics if it has not.
    pub fn stop_within(mut self, limit: Duration) {
        self.terminate();
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "steward serve stopped with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("steward serve did not stop within {limit:?} of SIGTERM");
    }

    /// The most resident memory the process has used so far (`VmHWM`), in bytes.
    pub fn peak_resident_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("a running server has a /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("/proc status has VmHWM");
        kib * 1024
    }

    fn terminate(&self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    }
}

pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    /// How long a call may wait for its answer before it counts as `Unknown`.
    pub timeout: Duration,
}

impl Api {
    pub fn new(port: u16, timeout: Duration) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: format!("http://127.0.0.1:{port}"),
            timeout,
        }
    }
}

/// How a call ended: 2xx, a 4xx refusal with the error JSON, or no answer.
pub enum Answer {
    Ok(Value),
    Refused(StatusCode, Value),
    Unknown,
}

impl Api {
    pub async fn call(
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
            .timeout(self.timeout);
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
