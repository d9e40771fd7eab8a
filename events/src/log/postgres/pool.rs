//! Connections for reading, and running the blocking client where the caller is.
//!
//! The `postgres` client blocks on a runtime of its own, which tokio refuses to start inside
//! another: every query therefore runs through [`off_runtime`], which leaves the caller's
//! runtime for the duration of the query (or, on a single-threaded runtime, which cannot, runs
//! it on a scoped thread).

use super::{database, lock, LogError};
use ::postgres::{Client, NoTls};
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Mutex, TryLockError,
};

/// How many connections a log reads on: reads from many requests at once queue for these.
pub const READER_CONNECTIONS: usize = 4;

/// Runs `work`, which blocks, without blocking the async runtime the caller may be on.
pub(super) fn off_runtime<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        Ok(_) => std::thread::scope(|scope| match scope.spawn(work).join() {
            Ok(answer) => answer,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
        Err(_) => work(),
    }
}

/// A connection that may be dropped anywhere: closing the blocking client blocks on its own
/// runtime too, which would abort a process that dropped it on an async runtime's thread.
pub(super) struct Connection(Option<Client>);

impl Connection {
    pub(super) fn open(url: &str) -> Result<Self, LogError> {
        off_runtime(|| Client::connect(url, NoTls).map(|client| Self(Some(client))))
            .map_err(database)
    }
}

impl std::ops::Deref for Connection {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.0.as_ref().expect("a connection is open until dropped")
    }
}

impl std::ops::DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut Client {
        self.0.as_mut().expect("a connection is open until dropped")
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            off_runtime(move || drop(client));
        }
    }
}

/// Connections for reads, each used by one query at a time.
pub(super) struct Pool {
    url: String,
    clients: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl Pool {
    pub(super) fn connect(url: &str) -> Result<Self, LogError> {
        let clients = (0..READER_CONNECTIONS)
            .map(|_| Connection::open(url).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            url: url.to_owned(),
            clients,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `query` on an idle connection, or waits for one. A connection found closed (the
    /// server restarted, or dropped it) is opened again and the query run once more on it.
    pub(super) fn with<R: Send>(
        &self,
        query: impl Fn(&mut Client) -> Result<R, ::postgres::Error> + Send + Sync,
    ) -> Result<R, LogError> {
        off_runtime(|| {
            let mut chosen = None;
            for client in &self.clients {
                match client.try_lock() {
                    Ok(client) => chosen = Some(client),
                    Err(TryLockError::Poisoned(poisoned)) => chosen = Some(poisoned.into_inner()),
                    Err(TryLockError::WouldBlock) => continue,
                }
                break;
            }
            let mut client = chosen.unwrap_or_else(|| {
                let index = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
                lock(&self.clients[index])
            });
            match query(&mut client) {
                // However the failure was reported (an I/O error, the server's notice that it
                // is shutting down), what counts is whether the connection is gone.
                Err(_) if client.is_closed() => {
                    *client = Connection::open(&self.url)?;
                    query(&mut client).map_err(database)
                }
                answered => answered.map_err(database),
            }
        })
    }
}
