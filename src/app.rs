//! `Steward`: the application — the log, the write model's processor and the read models,
//! opened on a data directory.

use crate::{
    checkpoint,
    clock::Clock,
    domain::{evolve, Command, State},
    processor::{CommandError, CommandProcessor, DurableWriter, ProcessorStats},
};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock, RwLockReadGuard},
};
use steward_events::{Actor, BesideWrites, Envelope, LogError, LogStore, SledLog, Timestamp};
use steward_projections::Projections;
use tracing::Instrument;

pub struct Steward {
    /// Where the checkpoint is kept (with the sled log, the log's own directory).
    data_directory: PathBuf,
    log: Arc<dyn LogStore>,
    processor: CommandProcessor,
    projections: Arc<RwLock<Projections>>,
    clock: Arc<dyn Clock>,
    start: StartReport,
    /// This node's part in a cluster on a shared log; none on a log of its own.
    cluster: Option<crate::cluster::Node>,
}

/// How start-up went: from which checkpoint, and how much of the log it replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartReport {
    /// The position of the checkpoint used, if one was.
    pub checkpoint_position: Option<u64>,
    /// Events replayed after it (all of them without a checkpoint).
    pub replayed: u64,
}

impl Steward {
    /// Opens the log in `data_directory` (creating it if needed), loads the checkpoint if it
    /// can be used, and replays the rest of the log into the write model and every projection.
    pub fn open(data_directory: &Path, clock: Arc<dyn Clock>) -> Result<Self, LogError> {
        let log: Arc<dyn LogStore> = Arc::new(SledLog::open(data_directory)?);
        Self::open_on(log, data_directory, clock, true)
    }

    /// Opens on `log`, with the checkpoint kept in `data_directory`, and replays the log
    /// after it into the write model and every projection. The processor decides commands
    /// at once if `writing`, else once elected (`cluster`).
    pub(crate) fn open_on(
        log: Arc<dyn LogStore>,
        data_directory: &Path,
        clock: Arc<dyn Clock>,
        writing: bool,
    ) -> Result<Self, LogError> {
        let (mut state, mut projections, checkpoint_position) =
            match checkpoint::load(data_directory, log.as_ref()) {
                Ok((state, projections)) => {
                    let position = projections.position();
                    (state, projections, Some(position))
                }
                Err(reason) => {
                    if reason != checkpoint::Unused::Missing {
                        tracing::warn!(?reason, "the checkpoint is not used; replaying the log");
                    }
                    (State::default(), Projections::default(), None)
                }
            };
        let mut replayed = 0;
        for envelope in log.read_from(projections.position() + 1) {
            let envelope = envelope?;
            evolve(&mut state, &envelope.event, envelope.recorded_at);
            projections.apply(&envelope);
            replayed += 1;
        }
        tracing::info!(?checkpoint_position, replayed, "opened the log");
        let projections = Arc::new(RwLock::new(projections));
        let processor = CommandProcessor::start(
            Arc::clone(&log),
            state,
            Arc::clone(&projections),
            Arc::clone(&clock),
            writing,
        );
        Ok(Self {
            data_directory: data_directory.to_owned(),
            log,
            processor,
            projections,
            clock,
            start: StartReport {
                checkpoint_position,
                replayed,
            },
            cluster: None,
        })
    }

    /// Joins this node to its cluster: `node` follows the log and stands for election.
    pub(crate) fn attach(&mut self, node: crate::cluster::Node) {
        self.cluster = Some(node);
    }

    /// This node's part in a cluster, if it shares its log with others.
    pub fn cluster(&self) -> Option<&crate::cluster::Node> {
        self.cluster.as_ref()
    }

    /// Whether this node decides commands now: always on a log of its own; in a cluster,
    /// while it is the elected writer.
    pub fn is_writer(&self) -> bool {
        self.processor.is_writing()
    }

    /// A handle for feeding the processor what other nodes append.
    pub(crate) fn follower(&self) -> crate::processor::FollowerHandle {
        self.processor.follower()
    }

    /// How start-up went.
    pub fn start_report(&self) -> StartReport {
        self.start
    }

    /// Decides and records a command; the answer comes once it is durable and visible to reads.
    pub async fn execute(
        &self,
        actor: Actor,
        command: Command,
    ) -> Result<Vec<Envelope>, CommandError> {
        self.execute_with(actor, command, BesideWrites::default())
            .await
    }

    /// Decides and records `command`, with `beside` written in the same group commit if it
    /// records anything (`CommandProcessor::execute_with`), and the claim of the request's
    /// `Idempotency-Key`, if it has one (`http::idempotency`).
    pub async fn execute_with(
        &self,
        actor: Actor,
        command: Command,
        mut beside: BesideWrites,
    ) -> Result<Vec<Envelope>, CommandError> {
        beside.extend(crate::http::idempotency::claimed_writes());
        let span = crate::telemetry::command_span(command.name());
        let decided = (self.processor.execute_with(actor, command, beside))
            .instrument(span.clone())
            .await;
        crate::telemetry::decided(&span, &decided);
        decided
    }

    /// The log position the read models reflect: every command answered so far, and at least
    /// the position of each one's last event.
    pub fn visible_position(&self) -> u64 {
        *self.processor.visible().borrow()
    }

    /// Waits until the read models reflect `position`, for at most `within`; answers whether
    /// they do.
    pub async fn reached(&self, position: u64, within: std::time::Duration) -> bool {
        let mut visible = self.processor.visible().clone();
        let reached = tokio::time::timeout(within, visible.wait_for(|&at| at >= position)).await;
        matches!(reached, Ok(Ok(_)))
    }

    /// Runs `read` against the read models, which reflect every answered command.
    pub fn read<R>(&self, read: impl FnOnce(&Projections) -> R) -> R {
        read(&read_lock(&self.projections))
    }

    pub fn log(&self) -> &dyn LogStore {
        self.log.as_ref()
    }

    /// The shared log, for reads that run on another thread (`reads`) and the stores beside
    /// it.
    pub fn log_arc(&self) -> &Arc<dyn LogStore> {
        &self.log
    }

    /// The shared read models, for reads that take the lock chunk by chunk (`reads`).
    pub(crate) fn projections_arc(&self) -> &Arc<RwLock<Projections>> {
        &self.projections
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A handle for durable writes to the trees beside the log, through the group commit.
    pub fn writer(&self) -> DurableWriter {
        self.processor.writer()
    }

    pub fn processor_stats(&self) -> ProcessorStats {
        self.processor.stats()
    }

    /// What the command processor records of its batches, for `/metrics`.
    pub fn commit_metrics(&self) -> &crate::metrics::CommitMetrics {
        self.processor.metrics()
    }

    /// Answers every queued command, stops the processor, writes a checkpoint and flushes the
    /// log. A checkpoint that cannot be written is logged: the log alone is enough to start.
    pub fn shutdown(mut self) -> Result<(), LogError> {
        if let Some(node) = self.cluster.take() {
            node.stop();
        }
        if let Some(state) = self.processor.shutdown() {
            let projections = read_lock(&self.projections);
            if let Err(error) = checkpoint::write(
                &self.data_directory,
                self.log.as_ref(),
                &state,
                &projections,
            ) {
                tracing::warn!(%error, "writing the checkpoint failed");
            }
        }
        self.log.flush()
    }
}

/// The read models for reading. Only a panic while applying an event (in the command thread,
/// which then stops taking commands) can poison the lock; reads go on from what was applied.
pub(crate) fn read_lock(projections: &RwLock<Projections>) -> RwLockReadGuard<'_, Projections> {
    projections
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
