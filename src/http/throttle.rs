//! Failed authentication is rate limited per client address: past the limit within a minute,
//! every attempt from that address to authenticate is answered 429 until the minute is over.

use super::error::ApiError;
use super::error::Category;
use axum::{extract::ConnectInfo, http::request::Parts};
use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::Mutex,
    time::{Duration, Instant},
};

const WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked addresses, expired windows are swept out.
const SWEEP_ABOVE_ADDRESSES: usize = 10_000;

pub struct AuthFailures {
    max_per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl AuthFailures {
    /// `max_per_minute` failures are allowed per address and minute; 0 turns the limit off.
    pub fn new(max_per_minute: u32) -> Self {
        Self {
            max_per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses an address that failed too often this minute.
    pub fn check(&self, address: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(address) = address else {
            return Ok(());
        };
        if self.max_per_minute == 0 {
            return Ok(());
        }
        let windows = self.windows.lock().expect("throttle lock");
        match windows.get(&address) {
            Some((started, failures))
                if started.elapsed() < WINDOW && *failures >= self.max_per_minute =>
            {
                Err(ApiError::new(
                    Category::TooManyRequests,
                    "Too many failed authentication attempts; retry in a minute.",
                ))
            }
            _ => Ok(()),
        }
    }

    /// Counts one failure of `address`.
    pub fn record(&self, address: Option<IpAddr>) {
        let Some(address) = address else { return };
        let mut windows = self.windows.lock().expect("throttle lock");
        if windows.len() > SWEEP_ABOVE_ADDRESSES {
            windows.retain(|_, (started, _)| started.elapsed() < WINDOW);
        }
        let window = windows.entry(address).or_insert((Instant::now(), 0));
        if window.0.elapsed() >= WINDOW {
            *window = (Instant::now(), 0);
        }
        window.1 = window.1.saturating_add(1);
    }
}

/// The client's address, when the server was started with connection info.
pub fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

/// The client's address as an extractor; `None` when unknown.
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_address(parts)))
    }
}
