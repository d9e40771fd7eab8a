//! Many nodes on one shared log (PostgreSQL): one elected writer decides every command; the
//! others follow the log into their own read models and send commands on to the writer
//! (`http::forward`).
//!
//! Each node runs a follower thread. While another node writes, it reads the log from its
//! read models' position on, waking when an append notifies (`PgLog::wait_for_append`) and
//! at least every `FOLLOW_POLL` whatever it hears, so a lost notification costs at most one
//! poll. Whenever it has caught up, it stands for election (`PgLog::try_elect`). Once elected
//! no other node can append, so it reads the rest of the log, hands it over, and only then
//! tells the processor to decide: a new writer never decides on a write model that misses
//! an event.
//!
//! The writer's lock is its database session's: a writer killed with SIGKILL loses it as its
//! connection closes, and a follower is elected within a poll or two.

use crate::{
    app::Steward,
    clock::Clock,
    limits::{FOLLOWED_EVENTS_MAX, FOLLOW_POLL},
    processor::FollowerHandle,
};
use std::{
    path::Path,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread::JoinHandle,
};
use steward_events::{Envelope, EventLog, LogError, LogStore, PgLog};

/// This node's part in a cluster: the shared log, where it takes commands, and its follower.
pub struct Node {
    log: Arc<PgLog>,
    advertised_url: String,
    client: reqwest::Client,
    stop: Arc<AtomicBool>,
    follower: Option<JoinHandle<()>>,
}

impl Node {
    /// The shared log.
    pub fn log(&self) -> &PgLog {
        &self.log
    }

    /// Where this node takes commands, as it tells the others when elected.
    pub fn advertised_url(&self) -> &str {
        &self.advertised_url
    }

    /// The HTTP client commands are forwarded with.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Stops the follower and waits for it (within a poll).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(follower) = self.follower.take() {
            let _ = follower.join();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

impl Steward {
    /// Opens a node of a cluster on the PostgreSQL log at `postgres_url`, with its
    /// checkpoint cache in `cache_directory`; `advertised_url` is where the other nodes reach
    /// it. It follows the log and decides commands once elected.
    pub fn open_cluster(
        postgres_url: &str,
        cache_directory: &Path,
        clock: Arc<dyn Clock>,
        advertised_url: String,
    ) -> Result<Self, LogError> {
        std::fs::create_dir_all(cache_directory)
            .map_err(|error| LogError::Database(format!("the checkpoint cache: {error}")))?;
        let log = Arc::new(PgLog::connect(postgres_url)?);
        let store: Arc<dyn LogStore> = Arc::clone(&log) as Arc<dyn LogStore>;
        let mut steward = Steward::open_on(store, cache_directory, clock, false)?;
        let stop = Arc::new(AtomicBool::new(false));
        let follower = Follower {
            log: Arc::clone(&log),
            handle: steward.follower(),
            next: steward.visible_position() + 1,
            advertised_url: advertised_url.clone(),
            stop: Arc::clone(&stop),
        };
        let thread = std::thread::Builder::new()
            .name("steward-follower".into())
            .spawn(move || follower.run())
            .map_err(|error| LogError::Database(format!("starting the follower: {error}")))?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(crate::limits::FORWARD_TIMEOUT)
            .build()
            .map_err(|error| LogError::Database(format!("the forwarding client: {error}")))?;
        steward.attach(Node {
            log,
            advertised_url,
            client,
            stop,
            follower: Some(thread),
        });
        Ok(steward)
    }
}

struct Follower {
    log: Arc<PgLog>,
    handle: FollowerHandle,
    /// The position of the next event to hand over.
    next: u64,
    advertised_url: String,
    stop: Arc<AtomicBool>,
}

/// What one round of following found.
enum Round {
    /// Events were handed over; read again at once.
    Followed,
    /// Nothing new, and another node writes.
    CaughtUp,
    /// This node was elected and has handed over every event before its election.
    Elected,
    /// The processor has stopped.
    Stopped,
}

impl Follower {
    fn run(mut self) {
        let mut writing = false;
        while !self.stop.load(Ordering::Acquire) {
            if writing {
                if self.log.is_writer() {
                    std::thread::sleep(FOLLOW_POLL);
                    continue;
                }
                // Fenced: the processor reloaded from the log. Following from where this
                // follower stopped hands over events it already holds, which it skips.
                tracing::warn!("this node is no longer the log's writer; following again");
                writing = false;
            }
            match self.round() {
                Ok(Round::Followed) => {}
                Ok(Round::CaughtUp) => {
                    if let Err(error) = self.log.wait_for_append(FOLLOW_POLL) {
                        tracing::warn!(%error, "listening for appends failed; polling");
                        std::thread::sleep(FOLLOW_POLL);
                    }
                }
                Ok(Round::Elected) => writing = true,
                Ok(Round::Stopped) => return,
                Err(error) => {
                    tracing::warn!(%error, "following the shared log failed; trying again");
                    std::thread::sleep(FOLLOW_POLL);
                }
            }
        }
    }

    /// Follows what is new; when nothing is, stands for election.
    fn round(&mut self) -> Result<Round, LogError> {
        match self.hand_over()? {
            None => return Ok(Round::Stopped),
            Some(0) => {}
            Some(_) => return Ok(Round::Followed),
        }
        if !self.log.try_elect(Some(&self.advertised_url))? {
            return Ok(Round::CaughtUp);
        }
        tracing::info!(url = %self.advertised_url, "elected the log's writer; catching up");
        // No other node can append now: what is there is all there will be before us.
        loop {
            match self.hand_over()? {
                None => return Ok(Round::Stopped),
                Some(0) => break,
                Some(_) => {}
            }
        }
        if !self.handle.elected() {
            return Ok(Round::Stopped);
        }
        Ok(Round::Elected)
    }

    /// Reads up to `FOLLOWED_EVENTS_MAX` events from `next` on and hands them over: how many,
    /// or none once the processor has stopped.
    fn hand_over(&mut self) -> Result<Option<usize>, LogError> {
        let events: Vec<Envelope> = self
            .log
            .read_from(self.next)
            .take(FOLLOWED_EVENTS_MAX)
            .collect::<Result<_, _>>()?;
        let Some(last) = events.last() else {
            return Ok(Some(0));
        };
        self.next = last.position + 1;
        let count = events.len();
        Ok(self.handle.followed(events).then_some(count))
    }
}
