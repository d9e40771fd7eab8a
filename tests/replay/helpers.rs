//! Shared fixtures: the demo scenario written into a fresh data directory.

use std::path::Path;
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
