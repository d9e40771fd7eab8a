//! One `steward serve` node of the harness's cluster: started on the shared log, with a
//! checkpoint cache of its own, killed or stopped.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};
use steward_events::log::postgres::cluster::Cluster;

pub const OPERATOR_TOKEN: &str = "operator-token-for-the-scale-out-harness-0123456789";

pub struct Node {
    child: Child,
}

/// A throwaway PostgreSQL cluster with one database, and `count` nodes started on it, each on
/// a port of its own, with its log and checkpoint cache in `directory`.
pub struct Deployment {
    pub cluster: Cluster,
    pub url: String,
    pub directory: tempfile::TempDir,
    pub ports: Vec<u16>,
    pub nodes: Vec<Node>,
}

impl Deployment {
    pub async fn start(database: &str, count: usize) -> Self {
        let cluster = Cluster::start().unwrap_or_else(|why| panic!("no PostgreSQL: {why}"));
        // The blocking client cannot run on the runtime's own threads.
        let url = tokio::task::block_in_place(|| cluster.create_database(database)).unwrap();
        let directory = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
        let mut nodes = Vec::new();
        for index in 0..count {
            nodes.push(Node::start(&url, directory.path(), &ports, index).await);
        }
        Self {
            cluster,
            url,
            directory,
            ports,
            nodes,
        }
    }
}

/// A port nothing listens on, below the range the kernel takes the local ports of outgoing
/// connections from: a node restarted on it later finds it still free, though the nodes
/// around it made thousands of connections meanwhile (a port from that range could be taken by
/// one of them: "Address already in use").
pub fn free_port() -> u16 {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let lowest = 10_000.min(ephemeral_low / 2);
    for _ in 0..1000 {
        let port = rand::random_range(lowest..ephemeral_low);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below {ephemeral_low}");
}

impl Node {
    /// Starts node `index` on `postgres_url`, listening on `ports[index]`, and waits until it
    /// answers `/healthz`. Its log goes to `node{index}.log` in `directory`.
    pub async fn start(postgres_url: &str, directory: &Path, ports: &[u16], index: usize) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(directory.join(format!("node{index}.log")))
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_steward"))
            .args(["serve", "--postgres-url", postgres_url, "--data-dir"])
            .arg(directory.join(format!("node{index}")))
            .args(["--listen", &format!("127.0.0.1:{}", ports[index])])
            .env("STEWARD_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env("STEWARD_SIGNUPS_PER_MINUTE", "0")
            // Commands reach the writer from the other nodes' address, 127.0.0.1.
            .env("STEWARD_AUTH_FAILURES_PER_MINUTE", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the steward binary starts");
        let client = reqwest::Client::new();
        for _ in 0..400 {
            let health = client
                .get(format!("http://127.0.0.1:{}/healthz", ports[index]))
                .send()
                .await;
            if health.is_ok_and(|answer| answer.status().is_success()) {
                return Self { child };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("node {index} did not come up");
    }

    /// Whether the process is still running (it has not exited on its own).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    /// SIGTERM, and wait for the graceful stop.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "a node stopped with {status}");
    }
}

impl Drop for Node {
    /// A node left running by a failing test is killed with it.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
