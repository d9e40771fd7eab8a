//! Keeping the write model in step with the log: events another node appended, followed;
//! and a rebuild from the log after an append that failed or was refused.

use super::Worker;
use crate::{
    domain::{evolve, load_state},
    limits::RELOAD_RETRY,
};
use std::sync::atomic::Ordering;
use steward_events::{Envelope, LogError};

impl Worker {
    /// Applies events another node appended, skipping those already applied; a gap (which
    /// a follower reading in order never leaves) is logged and the rest left for later.
    pub(super) fn follow(&mut self, envelopes: Vec<Envelope>) {
        let mut projections = self.projections.write().expect("projections lock");
        for envelope in envelopes {
            let next = projections.position() + 1;
            if envelope.position < next {
                continue;
            }
            if envelope.position > next {
                tracing::error!(
                    position = envelope.position,
                    expected = next,
                    "followed events skip positions; waiting for the missing ones"
                );
                break;
            }
            // Counted in the metrics of the node that appended them, not again here.
            evolve(&mut self.state, &envelope.event, envelope.recorded_at);
            projections.apply(&envelope);
        }
        self.visible.send_replace(projections.position());
    }

    /// Rebuilds the write model from the log and brings the projections up to it, trying again
    /// every `RELOAD_RETRY` while the database cannot be reached (queued commands wait);
    /// false if the processor began to stop meanwhile.
    pub(super) fn reload(&mut self) -> bool {
        loop {
            let reloaded = load_state(self.log.as_ref()).and_then(|state| {
                let mut projections = self.projections.write().expect("projections lock");
                projections.catch_up(self.log.as_ref())?;
                self.visible.send_replace(projections.position());
                Ok(state)
            });
            match reloaded {
                Ok(state) => {
                    self.state = state;
                    return true;
                }
                Err(error @ LogError::Database(_)) if self.stopping.load(Ordering::Acquire) => {
                    tracing::warn!(%error, "stopping before the write model could be reloaded");
                    return false;
                }
                Err(error @ LogError::Database(_)) => {
                    tracing::warn!(%error, "the log cannot be read to reload; trying again");
                    std::thread::sleep(RELOAD_RETRY);
                }
                // Without a write model that matches the log no command can be decided
                // safely; stopping the thread answers every later command with `Unavailable`.
                Err(error) => panic!("the write model cannot be rebuilt from the log: {error}"),
            }
        }
    }
}
