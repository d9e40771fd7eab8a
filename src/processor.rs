//! The command processor: one thread owns the write model, decides commands in batches, appends
//! each batch with one atomic write and one flush (group commit), feeds the projections, and
//! only then answers. An answered command is durable.
//!
//! It is also the only thing that flushes sled while the service runs: writes to the trees
//! beside the log (sessions, idempotency answers, the outbox) come to it through a
//! [`DurableWriter`] and land with the next batch's flush.
//!
//! On a log many nodes share (PostgreSQL), only the elected writer's processor decides: the
//! others follow the log ([`Submission::Followed`], sent by `cluster`'s follower) and refuse
//! commands with `NotWriter` until the follower tells them they were elected.
//!
//! Whether a request id was recorded already is asked of the log's request index (once per
//! batch, `recorded_requests`) and of the batch being decided, not of the write model, which
//! would otherwise hold every request id ever recorded in memory and in its checkpoint;
//! `decide` gets the answer as a value (`Known`) and applies the rule.

mod in_step;

use crate::limits::{BATCH_COMMANDS_MAX, QUEUED_COMMANDS_MAX};
use crate::{
    clock::Clock,
    domain::{decide, evolve, Command, DomainError, Known, State},
    metrics::CommitMetrics,
};
use std::{
    collections::{BTreeMap, HashSet},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, RwLock,
    },
    thread::JoinHandle,
};
use steward_events::{
    codec, limits::EVENTS_PER_COMMIT_MAX, Actor, BesideWrites, Commit, Envelope, Event, EventId,
    ExpectedVersion, LogError, LogStore, Nanodollars, ProjectId, ProposedEvent, RequestId,
    StreamId,
};
use steward_projections::Projections;
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

/// Why a command was not carried out. In every case nothing of it was recorded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The log failed; the cause is for the operator's logs, not the client.
    #[error("storage failure")]
    Storage(Arc<LogError>),
    /// The processor has stopped (shutdown).
    #[error("the service is shutting down")]
    Unavailable,
    /// This node does not write the log (another node does, or none is elected yet); nothing
    /// was decided.
    #[error("this node is not the log's writer")]
    NotWriter,
    /// A bounded resource the command needs (password hashing) is at its limit; nothing was
    /// decided.
    #[error(transparent)]
    Busy(#[from] crate::passwords::Busy),
}

impl From<LogError> for CommandError {
    fn from(error: LogError) -> Self {
        Self::Storage(Arc::new(error))
    }
}

impl CommandError {
    /// Whether the log's database failed or could not be reached: the command may have been
    /// recorded or not, which is known once the database is back.
    pub fn database_failed(&self) -> bool {
        matches!(self, Self::Storage(cause) if matches!(**cause, LogError::Database(_)))
    }
}

// A command is most of what is submitted; boxing it would cost an allocation per command.
#[allow(clippy::large_enum_variant)]
enum Submission {
    Command {
        actor: Actor,
        command: Command,
        /// Writes beside the log that land with the command's events, and only if it records
        /// some (the outbox message of an invitation).
        beside: BesideWrites,
        reply: oneshot::Sender<Result<Vec<Envelope>, CommandError>>,
    },
    /// Writes beside the log, answered once the batch's flush has made them durable.
    Beside {
        writes: BesideWrites,
        reply: oneshot::Sender<Result<(), CommandError>>,
    },
    /// Events another node appended, in order, to apply to the write model and projections.
    Followed(Vec<Envelope>),
    /// This node was elected the writer and every event before its election was followed:
    /// it decides from now on.
    Elected,
}

impl Submission {
    /// The (project, request id) a command records usage for.
    fn request(&self) -> Option<(ProjectId, RequestId)> {
        match self {
            Submission::Command {
                command: Command::RecordUsage { project_id, report },
                ..
            } => Some((*project_id, report.request_id)),
            _ => None,
        }
    }
}

/// A handle for the follower (`cluster`), which feeds the processor what other nodes append.
/// Like [`DurableWriter`], it does not keep the processor alive.
#[derive(Clone)]
pub struct FollowerHandle {
    sender: mpsc::WeakSender<Submission>,
}

impl FollowerHandle {
    /// Hands over events read from the log; false once the processor has stopped.
    pub fn followed(&self, envelopes: Vec<Envelope>) -> bool {
        self.send(Submission::Followed(envelopes))
    }

    /// Says this node was elected; false once the processor has stopped.
    pub fn elected(&self) -> bool {
        self.send(Submission::Elected)
    }

    fn send(&self, submission: Submission) -> bool {
        self.sender
            .upgrade()
            .is_some_and(|sender| sender.blocking_send(submission).is_ok())
    }
}

/// A handle for making writes to the trees beside the log durable through the processor's
/// group commit. It does not keep the processor alive: once the processor stops, writes are
/// refused with `Unavailable`.
#[derive(Clone)]
pub struct DurableWriter {
    sender: mpsc::WeakSender<Submission>,
}

impl DurableWriter {
    /// Applies `writes` and returns once they are durable (with the next group commit).
    pub async fn write(&self, writes: BesideWrites) -> Result<(), CommandError> {
        let sender = self.sender.upgrade().ok_or(CommandError::Unavailable)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Submission::Beside { writes, reply })
            .await
            .map_err(|_| CommandError::Unavailable)?;
        drop(sender);
        answer.await.map_err(|_| CommandError::Unavailable)?
    }
}

/// Figures of the group commit, for benchmarks and operations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessorStats {
    pub batches: u64,
    pub commands: u64,
    pub largest_batch: u64,
}

/// A handle to the processor thread. Dropping it stops taking commands, lets the thread answer
/// every queued one, and waits for the thread to end, so that the log is closed after it.
pub struct CommandProcessor {
    sender: Option<mpsc::Sender<Submission>>,
    /// Ends with the write model, for the checkpoint.
    thread: Option<JoinHandle<Option<State>>>,
    stats: Arc<Mutex<ProcessorStats>>,
    metrics: CommitMetrics,
    visible: watch::Receiver<u64>,
    writing: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
}

impl CommandProcessor {
    /// Starts the processor on a write model and projections that already reflect the log,
    /// deciding commands at once (`writing`) or only once elected.
    pub fn start(
        log: Arc<dyn LogStore>,
        state: State,
        projections: Arc<RwLock<Projections>>,
        clock: Arc<dyn Clock>,
        writing: bool,
    ) -> Self {
        let writing = Arc::new(AtomicBool::new(writing));
        let stopping = Arc::new(AtomicBool::new(false));
        let (sender, receiver) = mpsc::channel(QUEUED_COMMANDS_MAX);
        let stats = Arc::new(Mutex::new(ProcessorStats::default()));
        let metrics = CommitMetrics::default();
        let visible = watch::Sender::new(crate::app::read_lock(&projections).position());
        let visible_positions = visible.subscribe();
        let worker = Worker {
            log,
            state,
            projections,
            visible,
            clock,
            stats: Arc::clone(&stats),
            metrics: metrics.clone(),
            writing: Arc::clone(&writing),
            stopping: Arc::clone(&stopping),
        };
        let thread = std::thread::Builder::new()
            .name("steward-commands".into())
            .spawn(move || worker.run(receiver))
            .expect("the command thread starts");
        Self {
            sender: Some(sender),
            thread: Some(thread),
            stats,
            metrics,
            visible: visible_positions,
            writing,
            stopping,
        }
    }

    /// Whether this processor decides commands (it writes the log), as of now.
    pub fn is_writing(&self) -> bool {
        self.writing.load(Ordering::Acquire)
    }

    /// A handle for the follower.
    pub fn follower(&self) -> FollowerHandle {
        FollowerHandle {
            sender: self
                .sender
                .as_ref()
                .expect("a running processor has a sender")
                .downgrade(),
        }
    }

    /// The log position the projections reflect, told each time they move on (before the
    /// commands that moved them are answered).
    pub fn visible(&self) -> &watch::Receiver<u64> {
        &self.visible
    }

    /// What the processor records of its batches, for `/metrics`.
    pub fn metrics(&self) -> &CommitMetrics {
        &self.metrics
    }

    /// Decides and records `command` for `actor`; returns the recorded envelopes once durable.
    pub async fn execute(
        &self,
        actor: Actor,
        command: Command,
    ) -> Result<Vec<Envelope>, CommandError> {
        self.execute_with(actor, command, BesideWrites::default())
            .await
    }

    /// Like `execute`, and applies `beside` in the same group commit if the command records
    /// events: before them, so that a crash may keep the writes without the events (whoever
    /// reads them checks the log) but never the events without the writes.
    pub async fn execute_with(
        &self,
        actor: Actor,
        command: Command,
        beside: BesideWrites,
    ) -> Result<Vec<Envelope>, CommandError> {
        let (reply, answer) = oneshot::channel();
        let sender = self.sender.as_ref().ok_or(CommandError::Unavailable)?;
        sender
            .send(Submission::Command {
                actor,
                command,
                beside,
                reply,
            })
            .await
            .map_err(|_| CommandError::Unavailable)?;
        answer.await.map_err(|_| CommandError::Unavailable)?
    }

    pub fn stats(&self) -> ProcessorStats {
        *self.stats.lock().expect("stats lock")
    }

    /// A handle for durable writes beside the log.
    pub fn writer(&self) -> DurableWriter {
        DurableWriter {
            sender: self
                .sender
                .as_ref()
                .expect("a running processor has a sender")
                .downgrade(),
        }
    }

    /// Stops taking commands, answers every queued one, waits for the thread to end, and
    /// hands back the write model (unless the thread had stopped on a panic, or stopped
    /// waiting for the database to reload it).
    pub fn shutdown(mut self) -> Option<State> {
        self.stop()
    }

    fn stop(&mut self) -> Option<State> {
        self.stopping.store(true, Ordering::Release);
        drop(self.sender.take());
        let thread = self.thread.take()?;
        match thread.join() {
            Ok(state) => state,
            Err(_) => {
                tracing::error!("the command thread had stopped on a panic");
                None
            }
        }
    }
}

impl Drop for CommandProcessor {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Worker {
    log: Arc<dyn LogStore>,
    state: State,
    projections: Arc<RwLock<Projections>>,
    /// The position the projections reflect, told once they do (before any reply).
    visible: watch::Sender<u64>,
    clock: Arc<dyn Clock>,
    stats: Arc<Mutex<ProcessorStats>>,
    metrics: CommitMetrics,
    /// Whether this node decides: set once elected, cleared if its append finds it is not
    /// the writer any more.
    writing: Arc<AtomicBool>,
    /// Set once the processor is stopping: a reload then stops trying again.
    stopping: Arc<AtomicBool>,
}

/// A decided command waiting for the append: refused already, or holding commit `index`.
enum Pending {
    Answered(Result<Vec<Envelope>, CommandError>),
    Commit(usize),
}

impl Worker {
    /// Decides commands until the processor stops; the write model, unless stopping left it
    /// unmatched to the log (a reload the database kept waiting).
    fn run(mut self, mut receiver: mpsc::Receiver<Submission>) -> Option<State> {
        while let Some(first) = receiver.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < BATCH_COMMANDS_MAX {
                match receiver.try_recv() {
                    Ok(submission) => batch.push(submission),
                    Err(_) => break,
                }
            }
            if !self.process(batch) {
                return None;
            }
        }
        Some(self.state)
    }

    /// Decides and appends `batch`; false if a reload it needed was given up to stop.
    fn process(&mut self, batch: Vec<Submission>) -> bool {
        let now = self.clock.now();
        let mut commits = Vec::new();
        let mut pending = Vec::with_capacity(batch.len());
        // Request ids recorded by the commands of this batch decided so far.
        let mut batch_requests = HashSet::new();
        let mut beside = BesideWrites::default();
        let mut beside_replies = Vec::new();
        let writing = self.writing.load(Ordering::Acquire);
        let requests: Vec<_> = batch.iter().filter_map(Submission::request).collect();
        let recorded = if requests.is_empty() || !writing {
            Ok(HashSet::new())
        } else {
            self.log.recorded_requests(&requests).map_err(Arc::new)
        };
        for submission in batch {
            let request = submission.request();
            let (actor, command, command_beside, reply) = match submission {
                Submission::Followed(envelopes) => {
                    self.follow(envelopes);
                    continue;
                }
                Submission::Elected => {
                    tracing::info!("elected the log's writer; deciding commands");
                    self.writing.store(true, Ordering::Release);
                    continue;
                }
                Submission::Command { reply, .. } if !writing => {
                    let _ = reply.send(Err(CommandError::NotWriter));
                    continue;
                }
                Submission::Beside { reply, .. } if !writing => {
                    let _ = reply.send(Err(CommandError::NotWriter));
                    continue;
                }
                Submission::Command {
                    actor,
                    command,
                    beside,
                    reply,
                } => (actor, command, beside, reply),
                Submission::Beside { writes, reply } => {
                    beside.extend(writes);
                    beside_replies.push(reply);
                    continue;
                }
            };
            let recorded_before = match (request, &recorded) {
                (None, _) => Ok(false),
                (Some(request), _) if batch_requests.contains(&request) => Ok(true),
                (Some(request), Ok(recorded)) => Ok(recorded.contains(&request)),
                (Some(_), Err(error)) => Err(CommandError::Storage(Arc::clone(error))),
            };
            let decided = recorded_before.and_then(|request_recorded| {
                let known = Known { request_recorded };
                decide(&self.state, &actor, &command, known, now).map_err(Into::into)
            });
            // Checked before the write model changes, so that the log never refuses what was
            // decided (a refusal there would leave the write model ahead of the log).
            let decided = decided.and_then(|events| {
                let fits = events.len() <= EVENTS_PER_COMMIT_MAX && events.iter().all(codec::fits);
                if fits {
                    Ok(events)
                } else {
                    Err(DomainError::CommandTooLarge.into())
                }
            });
            let decided = match decided {
                Ok(events) if events.is_empty() => Pending::Answered(Ok(Vec::new())),
                Ok(events) => {
                    batch_requests.extend(request);
                    beside.extend(command_beside);
                    let mut expected_versions: BTreeMap<StreamId, ExpectedVersion> =
                        BTreeMap::new();
                    for event in &events {
                        let stream = event.stream();
                        let version = self.state.stream_versions.get(&stream).copied();
                        expected_versions
                            .entry(stream)
                            .or_insert(ExpectedVersion::Exactly(version.unwrap_or(0)));
                    }
                    // Later commands of the batch are decided against this one's effects.
                    for event in &events {
                        evolve(&mut self.state, event, now);
                    }
                    let correlation_id = Uuid::now_v7();
                    commits.push(Commit {
                        expected_versions: expected_versions.into_iter().collect(),
                        events: events
                            .into_iter()
                            .map(|event| ProposedEvent {
                                event,
                                actor,
                                correlation_id,
                                event_id: EventId::from_uuid(Uuid::now_v7()),
                                recorded_at: now,
                            })
                            .collect(),
                    });
                    Pending::Commit(commits.len() - 1)
                }
                Err(error) => Pending::Answered(Err(error)),
            };
            pending.push((reply, decided));
        }
        self.record_stats(pending.len());

        let outcomes = if commits.is_empty() && beside.is_empty() {
            Vec::new()
        } else {
            let started = std::time::Instant::now();
            let appended = self.log.append_all_with(commits, beside);
            (self.metrics.flush_seconds).observe(started.elapsed().as_secs_f64());
            match appended {
                Ok(outcomes) => outcomes,
                Err(error) => {
                    tracing::error!(%error, "appending a batch failed; reloading the write model");
                    if !self.log.is_writer() {
                        // Another node was elected, or the session that held the writer's
                        // lock ended: follow the log until elected (again).
                        self.writing.store(false, Ordering::Release);
                    }
                    // Answered first: the reload waits as long as the database is unreachable.
                    let error = Arc::new(error);
                    for (reply, _) in pending {
                        let _ = reply.send(Err(CommandError::Storage(Arc::clone(&error))));
                    }
                    for reply in beside_replies {
                        let _ = reply.send(Err(CommandError::Storage(Arc::clone(&error))));
                    }
                    return self.reload();
                }
            }
        };
        for reply in beside_replies {
            let _ = reply.send(Ok(()));
        }

        let mut diverged = false;
        let mut outcomes: Vec<Option<Result<Vec<Envelope>, LogError>>> =
            outcomes.into_iter().map(Some).collect();
        {
            let mut projections = self.projections.write().expect("projections lock");
            for outcome in outcomes.iter().flatten() {
                match outcome {
                    Ok(envelopes) => envelopes.iter().for_each(|envelope| {
                        projections.apply(envelope);
                        self.count_spent(envelope);
                    }),
                    Err(_) => diverged = true,
                }
            }
            self.visible.send_replace(projections.position());
        }
        for (reply, decided) in pending {
            let answer = match decided {
                Pending::Answered(answer) => answer,
                Pending::Commit(index) => outcomes[index]
                    .take()
                    .expect("each commit is answered once")
                    .map_err(CommandError::from),
            };
            let _ = reply.send(answer);
        }
        if diverged {
            // Only another writer on the same log makes a version check fail (and no decided
            // event can meet the log's limits: each was checked with `codec::fits` above).
            // The write model assumed the refused commit landed, so rebuild it from the log.
            tracing::error!("the log refused a decided commit; reloading the write model");
            return self.reload();
        }
        true
    }

    /// Adds a recorded request's spent credit to the total, and a soft budget it passed.
    fn count_spent(&self, envelope: &Envelope) {
        match &envelope.event {
            Event::CreditsConsumed { portions, .. } => {
                let spent: Nanodollars = portions.iter().map(|portion| portion.amount).sum();
                (self.metrics.credit_consumed_usd).inc_by(spent.get() as f64 / 1e9);
            }
            Event::TagBudgetPassed { .. } => {
                self.metrics.tag_budgets_passed.inc();
            }
            _ => {}
        }
    }

    fn record_stats(&self, commands: usize) {
        let mut stats = self.stats.lock().expect("stats lock");
        stats.batches += 1;
        stats.commands += commands as u64;
        stats.largest_batch = stats.largest_batch.max(commands as u64);
        self.metrics.batch_commands.observe(commands as f64);
    }
}
