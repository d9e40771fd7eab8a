//! The `steward` binary's replay commands, run as a user would run them.

use crate::helpers::{demo, stdout, steward};

#[tokio::test]
async fn rebuild_prints_one_line_per_projection_and_the_same_lines_twice() {
    // Given
    let data = demo().await;
    let path = data.path().to_str().unwrap();
    // When
    let first = steward(&["rebuild", "--data-dir", path]);
    let second = steward(&["rebuild", "--data-dir", path]);
    // Then
    assert!(first.status.success());
    assert_eq!(stdout(&first), stdout(&second));
    let names: Vec<String> = stdout(&first)
        .lines()
        .map(|line| line.split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "membership",
            "keys",
            "credits",
            "usage",
            "audit",
            "model_access",
            "tag_budgets"
        ]
    );
    let expected: Vec<String> = data
        .report
        .live_summaries
        .iter()
        .map(|s| format!("{} position={} digest={}", s.name, s.position, s.digest))
        .collect();
    assert_eq!(stdout(&first).lines().collect::<Vec<_>>(), expected);
    // Standard error is not a terminal here: no bar, one summary line.
    let events = data.report.events;
    let stderr = String::from_utf8(first.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!("rebuild: {events} events in ")) && stderr.lines().count() == 1,
        "{stderr}"
    );
}

#[tokio::test]
async fn audit_filters_by_project_and_shows_a_transfer_on_both_sides() {
    // Given
    let data = demo().await;
    let path = data.path().to_str().unwrap();
    let labs = data.report.fruit_labs.to_string();
    // When
    let all = steward(&["audit", "--data-dir", path]);
    let labs_only = steward(&["audit", "--data-dir", path, "--project", &labs, "--json"]);
    // Then
    assert_eq!(stdout(&all).lines().count() as u64, data.report.events);
    let kinds: Vec<String> = stdout(&labs_only)
        .lines()
        .map(|line| {
            let envelope: serde_json::Value = serde_json::from_str(line).unwrap();
            envelope["event"]
                .as_object()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .clone()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "project_created",
            "member_joined",
            "credits_transferred_out",
            "credits_transferred_in",
            "model_access_revoked",
            "credits_expired"
        ]
    );
}

#[tokio::test]
async fn verify_passes_a_sound_log_and_names_the_position_of_a_damaged_record() {
    // Given
    let data = demo().await;
    let path = data.path().to_str().unwrap();
    let sound = steward(&["verify", "--data-dir", path]);
    assert!(
        sound.status.success(),
        "{}",
        String::from_utf8_lossy(&sound.stderr)
    );
    assert!(stdout(&sound).starts_with(&format!("ok: {} events", data.report.events)));
    // When: one byte of record 100 rots on disk.
    {
        let db = sled::open(path).unwrap();
        let events = db.open_tree("events").unwrap();
        let mut record = events.get(100u64.to_be_bytes()).unwrap().unwrap().to_vec();
        record[20] ^= 0x01;
        events.insert(100u64.to_be_bytes(), record).unwrap();
        db.flush().unwrap();
    }
    let damaged = steward(&["verify", "--data-dir", path]);
    // Then
    assert!(!damaged.status.success());
    let message = String::from_utf8_lossy(&damaged.stderr);
    assert!(
        message.contains("corrupt record at position 100"),
        "{message}"
    );
}

#[tokio::test]
async fn the_demo_refuses_a_data_directory_that_holds_events() {
    // Given
    let data = demo().await;
    // When
    let again = steward(&["demo", "--data-dir", data.path().to_str().unwrap()]);
    // Then
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("needs an empty one"));
}

#[tokio::test]
async fn an_export_imports_into_an_identical_log() {
    // Given
    let data = demo().await;
    let path = data.path().to_str().unwrap();
    let target = tempfile::tempdir().unwrap();
    let export = target.path().join("log.jsonl");
    let copy = target.path().join("copy");
    // When
    let exported = steward(&[
        "export",
        "--data-dir",
        path,
        "--output",
        export.to_str().unwrap(),
    ]);
    let imported = steward(&[
        "import",
        "--data-dir",
        copy.to_str().unwrap(),
        "--input",
        export.to_str().unwrap(),
    ]);
    // Then
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(stdout(&imported).starts_with(&format!("imported {} events", data.report.events)));
    let events = data.report.events;
    let summaries = String::from_utf8(imported.stderr.clone()).unwrap();
    assert!(
        summaries.contains(&format!("import: {events} events in "))
            && summaries.contains(&format!("verify: {} events in ", 2 * events)),
        "{summaries}"
    );
    assert!(String::from_utf8(exported.stderr.clone())
        .unwrap()
        .starts_with(&format!("export: {events} events in ")));
    let original = steward(&["rebuild", "--data-dir", path]);
    let copied = steward(&["rebuild", "--data-dir", copy.to_str().unwrap()]);
    assert_eq!(stdout(&original), stdout(&copied));
    let original_audit = steward(&["audit", "--data-dir", path, "--json"]);
    let copied_audit = steward(&["audit", "--data-dir", copy.to_str().unwrap(), "--json"]);
    assert_eq!(stdout(&original_audit), stdout(&copied_audit));
    // An import into a log that holds events is refused.
    let again = steward(&[
        "import",
        "--data-dir",
        copy.to_str().unwrap(),
        "--input",
        export.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
}

#[tokio::test]
async fn an_export_with_a_missing_line_is_refused_at_that_position_and_imports_nothing() {
    // Given: an export with line 42 dropped.
    let data = demo().await;
    let target = tempfile::tempdir().unwrap();
    let export = target.path().join("log.jsonl");
    let full = stdout(&steward(&[
        "export",
        "--data-dir",
        data.path().to_str().unwrap(),
    ]));
    let damaged: Vec<&str> = full
        .lines()
        .enumerate()
        .filter(|(index, _)| *index != 41)
        .map(|(_, line)| line)
        .collect();
    std::fs::write(&export, damaged.join("\n")).unwrap();
    let copy = target.path().join("copy");
    // When
    let imported = steward(&[
        "import",
        "--data-dir",
        copy.to_str().unwrap(),
        "--input",
        export.to_str().unwrap(),
    ]);
    // Then
    assert!(!imported.status.success());
    let message = String::from_utf8_lossy(&imported.stderr);
    assert!(message.contains("position 43"), "{message}");
    let log = steward_events::SledLog::open(&copy).unwrap();
    assert_eq!(log.head(), 0, "the batch holding the gap landed nothing");
}
