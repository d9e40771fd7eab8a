//! Checkpoints: the write model and every read model, with the log position they reflect, so
//! that start-up replays only the tail of the log.
//!
//! A checkpoint is written when Steward stops gracefully, into `steward-checkpoint.bin` in the
//! data directory (written to a temporary file, synced, then renamed over the old one). It is
//! used only if it was written by this very code version (`CODE_VERSION`: bump its suffix
//! whenever `evolve` or a projection's `apply` changes what it derives), if the log still
//! holds its position with the same event id, and if it decodes; otherwise it is ignored and
//! the log is replayed from the start. A checkpoint holds password and secret hashes, like the
//! log itself, and never a secret.

use crate::domain::State;
use serde::{Deserialize, Serialize};
use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};
use steward_events::{EventId, EventLog};
use steward_projections::Projections;

/// The code version a checkpoint must have been written by to be used.
pub const CODE_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+checkpoint-5");

const FILE_NAME: &str = "steward-checkpoint.bin";

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard()
}

#[derive(Serialize)]
struct CheckpointRef<'a> {
    code_version: &'a str,
    position: u64,
    event_id: Option<EventId>,
    state: &'a State,
    projections: &'a Projections,
}

#[derive(Deserialize)]
struct Checkpoint {
    code_version: String,
    position: u64,
    event_id: Option<EventId>,
    state: State,
    projections: Projections,
}

fn path(data_directory: &Path) -> PathBuf {
    data_directory.join(FILE_NAME)
}

/// The id of the event at `position`, if the log holds it.
fn event_id_at(log: &dyn EventLog, position: u64) -> Option<EventId> {
    if position == 0 {
        return None;
    }
    log.read_at(position)
        .ok()
        .flatten()
        .map(|envelope| envelope.event_id)
}

/// Writes a checkpoint of `state` and `projections`, which must reflect the log's head.
pub fn write(
    data_directory: &Path,
    log: &dyn EventLog,
    state: &State,
    projections: &Projections,
) -> std::io::Result<()> {
    let position = projections.position();
    let checkpoint = CheckpointRef {
        code_version: CODE_VERSION,
        position,
        event_id: event_id_at(log, position),
        state,
        projections,
    };
    let bytes = bincode::serde::encode_to_vec(&checkpoint, bincode_config())
        .map_err(std::io::Error::other)?;
    let final_path = path(data_directory);
    let temporary = final_path.with_extension("tmp");
    let mut file = fs::File::create(&temporary)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    fs::rename(&temporary, &final_path)?;
    fs::File::open(data_directory)?.sync_all()
}

/// Why a checkpoint was not used.
#[derive(Debug, PartialEq, Eq)]
pub enum Unused {
    Missing,
    OtherCodeVersion(String),
    Undecodable,
    /// The log does not hold the checkpoint's position with its event (another log).
    NotThisLog,
    /// The log could not be read to check it.
    Unreadable,
}

/// The checkpoint in `data_directory`, if it can be used with `log`.
pub fn load(data_directory: &Path, log: &dyn EventLog) -> Result<(State, Projections), Unused> {
    let bytes = fs::read(path(data_directory)).map_err(|_| Unused::Missing)?;
    let (checkpoint, _): (Checkpoint, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode_config())
            .map_err(|_| Unused::Undecodable)?;
    if checkpoint.code_version != CODE_VERSION {
        return Err(Unused::OtherCodeVersion(checkpoint.code_version));
    }
    if checkpoint.position > log.head().map_err(|_| Unused::Unreadable)?
        || checkpoint.projections.position() != checkpoint.position
        || event_id_at(log, checkpoint.position) != checkpoint.event_id
    {
        return Err(Unused::NotThisLog);
    }
    let mut projections = checkpoint.projections;
    projections.restore();
    Ok((checkpoint.state, projections))
}
