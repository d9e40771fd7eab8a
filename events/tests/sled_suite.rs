//! The log contract (`suite/`) on the sled log, one test per case.

mod suite;
mod support;

use steward_events::*;

struct Sled(tempfile::TempDir);

impl suite::Store for Sled {
    fn open(&self) -> Box<dyn LogStore> {
        Box::new(SledLog::open(self.0.path()).unwrap())
    }
}

macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                suite::$case(&Sled(tempfile::tempdir().unwrap()));
            }
        )*
        const HERE: &[&str] = &[$(stringify!($case)),*];
    };
}

cases!(
    appends_take_gap_free_positions_and_per_stream_versions,
    a_stale_expected_version_is_a_conflict_and_writes_nothing,
    a_group_commit_refuses_only_the_conflicting_commit,
    a_transfer_lands_in_both_streams_together,
    reads_return_the_log_in_order_from_any_position_and_per_stream,
    a_long_log_reads_back_whole_from_any_position,
    a_reopened_log_keeps_its_events_and_continues_the_positions,
    a_recorded_request_is_found_by_its_id_at_once_and_after_reopening,
    recorded_requests_are_asked_together_and_found_in_their_own_project,
    an_oversized_event_is_refused_and_nothing_lands,
    appends_at_one_expected_version_from_64_threads_give_exactly_one_success,
    an_import_continues_the_log_exactly_or_lands_nothing,
    writes_beside_the_log_land_with_an_append_and_read_back_in_key_order,
);

#[test]
fn every_case_of_the_suite_runs_here() {
    let suite: Vec<&str> = suite::CASES.iter().map(|(name, _)| *name).collect();
    assert_eq!(suite, HERE);
}
