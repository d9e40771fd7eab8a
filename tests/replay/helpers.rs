//! Shared fixtures: the demo scenario written into a fresh data directory.

use std::{
    path::Path,
    process::{Command, Output},
};
use steward::demo::{run_demo, DemoReport};
use tempfile::TempDir;

pub struct DemoData {
    pub directory: TempDir,
    pub report: DemoReport,
}

impl DemoData {
    pub fn path(&self) -> &Path {
        self.directory.path()
    }
}

/// Runs the `steward` binary as a user would, with `arguments` alone choosing the log: a
/// `STEWARD_POSTGRES_URL` in the environment would send `verify` to PostgreSQL.
pub fn steward(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(arguments)
        .env_remove("STEWARD_POSTGRES_URL")
        .output()
        .expect("the steward binary runs")
}

/// What a run printed on standard output.
pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Runs the demo scenario into a new temporary data directory.
pub async fn demo() -> DemoData {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let report = run_demo(directory.path()).await.expect("the demo runs");
    DemoData { directory, report }
}

/// insta settings that keep every snapshot in the workspace's `snapshots/`.
pub fn insta_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings
}
