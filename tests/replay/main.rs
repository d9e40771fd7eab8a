//! Replay: the demo scenario's projections as snapshots, rebuild against live state, reopening,
//! the CLI, damage detection and the group commit.

mod checkpoint;
mod cli;
mod group_commit;
mod helpers;
mod postgres;
mod rebuild;
mod snapshots;
