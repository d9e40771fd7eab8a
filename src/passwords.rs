//! Passwords: hashed with argon2id (a PHC string with its own salt), checked off the async
//! threads because hashing is deliberately slow, and bounded, because each hash takes about
//! 19 MiB: at most `PASSWORD_HASHES_IN_FLIGHT_MAX` at once, at most
//! `PASSWORD_HASHES_QUEUED_MAX` waiting, and past that `Busy` at once.

use crate::limits::{
    PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN, PASSWORD_HASHES_IN_FLIGHT_MAX,
    PASSWORD_HASHES_QUEUED_MAX,
};
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    OnceLock,
};
use tokio::sync::Semaphore;

/// Too many passwords are being hashed; retry shortly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("too many passwords are being checked; retry shortly")]
pub struct Busy;

/// Whether a password is acceptable at signup.
pub fn acceptable(password: &str) -> bool {
    (PASSWORD_CHARS_MIN..=PASSWORD_CHARS_MAX).contains(&password.chars().count())
}

/// The slots hashes run in, and how many hashes hold or wait for one.
struct Slots {
    running: Semaphore,
    admitted: AtomicUsize,
}

fn slots() -> &'static Slots {
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    SLOTS.get_or_init(|| Slots {
        running: Semaphore::new(PASSWORD_HASHES_IN_FLIGHT_MAX),
        admitted: AtomicUsize::new(0),
    })
}

/// Releases an admission when dropped, whether the hash finished, failed or was cancelled.
struct Admission;

impl Drop for Admission {
    fn drop(&mut self) {
        slots().admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `work` in a hashing slot on a blocking thread, or refuses with `Busy` when too many
/// hashes already run or wait.
async fn in_slot<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
    let slots = slots();
    let limit = PASSWORD_HASHES_IN_FLIGHT_MAX + PASSWORD_HASHES_QUEUED_MAX;
    if slots.admitted.fetch_add(1, Ordering::AcqRel) >= limit {
        slots.admitted.fetch_sub(1, Ordering::AcqRel);
        return Err(Busy);
    }
    let _admission = Admission;
    let _permit = slots.running.acquire().await.map_err(|_| Busy)?;
    tokio::task::spawn_blocking(work).await.map_err(|_| Busy)
}

/// The argon2id PHC string of `password`.
pub async fn hash(password: String) -> Result<String, Busy> {
    in_slot(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 hashes any password with default parameters")
            .to_string()
    })
    .await
}

/// Whether `password` matches the PHC string `hash`, in constant time.
pub async fn verify(password: String, hash: String) -> Result<bool, Busy> {
    in_slot(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
}

/// A hash to check against when the account does not exist, so that a login for an unknown
/// email takes as long as one with a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"decoy password", &salt)
            .expect("argon2 hashes")
            .to_string()
    })
}
