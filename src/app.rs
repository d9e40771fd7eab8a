//! `Steward`: the application — the log, the write model's processor and the read models,
//! opened on a data directory.

use crate::{
    clock::Clock,
    domain::{evolve, Command, State},
    processor::{CommandError, CommandProcessor, ProcessorStats},
};
use std::{
    path::Path,
    sync::{Arc, RwLock},
};
use steward_events::{Actor, Envelope, EventLog, LogError, Timestamp};
use steward_projections::Projections;

pub struct Steward {
    log: Arc<EventLog>,
    processor: CommandProcessor,
    projections: Arc<RwLock<Projections>>,
    clock: Arc<dyn Clock>,
}

impl Steward {
    /// Opens the log in `data_directory` (creating it if needed) and replays it once into the
    /// write model and every projection.
    pub fn open(data_directory: &Path, clock: Arc<dyn Clock>) -> Result<Self, LogError> {
        let log = Arc::new(EventLog::open(data_directory)?);
        let mut state = State::default();
        let mut projections = Projections::default();
        for envelope in log.read_from(1) {
            let envelope = envelope?;
            evolve(&mut state, &envelope.event);
            projections.apply(&envelope);
        }
        let projections = Arc::new(RwLock::new(projections));
        let processor = CommandProcessor::start(
            Arc::clone(&log),
            state,
            Arc::clone(&projections),
            Arc::clone(&clock),
        );
        Ok(Self {
            log,
            processor,
            projections,
            clock,
        })
    }

    /// Decides and records a command; the answer comes once it is durable and visible to reads.
    pub async fn execute(
        &self,
        actor: Actor,
        command: Command,
    ) -> Result<Vec<Envelope>, CommandError> {
        self.processor.execute(actor, command).await
    }

    /// Runs `read` against the read models, which reflect every answered command.
    pub fn read<R>(&self, read: impl FnOnce(&Projections) -> R) -> R {
        read(&self.projections.read().expect("projections lock"))
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn processor_stats(&self) -> ProcessorStats {
        self.processor.stats()
    }

    /// Answers every queued command, stops the processor and flushes the log.
    pub fn shutdown(self) -> Result<(), LogError> {
        self.processor.shutdown();
        self.log.db().flush()?;
        Ok(())
    }
}
