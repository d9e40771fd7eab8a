//! A throwaway PostgreSQL cluster from the machine's Debian packages (`initdb` + `pg_ctl` on a
//! Unix socket in a temporary directory, `fsync` and synchronous commit on), for the tests and
//! benchmarks that need a real server. Stopped when dropped.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// Where Debian puts each major version's server programs.
const BIN_DIRECTORIES: [&str; 3] = [
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
];

pub struct Cluster {
    directory: tempfile::TempDir,
    bin: PathBuf,
    as_root: bool,
}

impl Cluster {
    /// Starts one, or says why it cannot (PostgreSQL not installed, `initdb` failed, …).
    pub fn start() -> Result<Self, String> {
        let bin = BIN_DIRECTORIES
            .iter()
            .map(PathBuf::from)
            .find(|bin| bin.join("initdb").exists())
            .ok_or("PostgreSQL's server is not installed (apt-get install postgresql)")?;
        let directory = tempfile::tempdir().map_err(|error| error.to_string())?;
        // initdb refuses to run as root: the cluster then belongs to the postgres user.
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|output| output.stdout == b"0\n");
        if as_root {
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(directory.path())
                .status()
                .map_err(|error| error.to_string())?;
        }
        let cluster = Self {
            directory,
            bin,
            as_root,
        };
        let data = cluster.data();
        let data = data.to_str().ok_or("a temporary path that is not UTF-8")?;
        cluster.run("initdb", &["-D", data, "-U", "postgres", "-A", "trust"])?;
        cluster.serve()?;
        Ok(cluster)
    }

    /// Stops the server as a crash would (`-m immediate`: every session cut, no checkpoint)
    /// and starts it again on the same data, as a restart of the machine would.
    pub fn restart(&self) -> Result<(), String> {
        self.stop_now()?;
        self.serve()
    }

    /// Starts the server on the cluster's data and waits until it takes connections.
    pub fn serve(&self) -> Result<(), String> {
        let data = self.data();
        let data = data.to_str().ok_or("a temporary path that is not UTF-8")?;
        let server_log = self.directory.path().join("server.log");
        let server_log = server_log
            .to_str()
            .ok_or("a temporary path that is not UTF-8")?;
        let options = format!(
            "-k {} -c listen_addresses='' -c synchronous_commit=on -c fsync=on",
            self.directory.path().display()
        );
        self.run(
            "pg_ctl",
            &["-D", data, "-l", server_log, "-o", &options, "-w", "start"],
        )
    }

    /// Stops the server as a crash would; `serve` starts it again.
    pub fn stop_now(&self) -> Result<(), String> {
        let data = self.data();
        let data = data.to_str().ok_or("a temporary path that is not UTF-8")?;
        self.run("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"])
    }

    /// A connection string for `database` (`postgres` exists from the start).
    pub fn url(&self, database: &str) -> String {
        format!(
            "host={} user=postgres dbname={database}",
            self.directory.path().display()
        )
    }

    /// Creates an empty database and returns its connection string.
    pub fn create_database(&self, database: &str) -> Result<String, String> {
        let mut client = ::postgres::Client::connect(&self.url("postgres"), ::postgres::NoTls)
            .map_err(|error| error.to_string())?;
        client
            .batch_execute(&format!("CREATE DATABASE \"{database}\""))
            .map_err(|error| error.to_string())?;
        Ok(self.url(database))
    }

    fn data(&self) -> PathBuf {
        self.directory.path().join("pgdata")
    }

    /// Runs one of the server's programs, its output to a file beside the cluster: a pipe
    /// would be inherited by the server `pg_ctl` starts and never reach its end.
    fn run(&self, program: &str, arguments: &[&str]) -> Result<(), String> {
        let log_path = self.directory.path().join(format!("{program}.log"));
        let log = std::fs::File::create(&log_path).map_err(|error| error.to_string())?;
        let errors = log.try_clone().map_err(|error| error.to_string())?;
        let status = self
            .command(&self.bin.join(program))
            .args(arguments)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(errors)
            .status()
            .map_err(|error| format!("{program}: {error}"))?;
        if status.success() {
            Ok(())
        } else {
            let output = std::fs::read_to_string(&log_path).unwrap_or_default();
            Err(format!("{program} failed: {}", output.trim()))
        }
    }

    fn command(&self, program: &Path) -> Command {
        if self.as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop_now();
    }
}
