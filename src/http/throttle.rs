//! Per-address rate limits: failed authentications, and sign-ups. Past its limit within a
//! minute, an address is answered 429 until the minute is over.
//!
//! An address is an IPv4 address or an IPv6 /64 (one subscriber's prefix: counting whole IPv6
//! addresses would let anyone with a /64 pick a fresh address per attempt). The map of
//! addresses is bounded: past `limits::THROTTLED_ADDRESSES_MAX` the oldest window is evicted.

use super::error::{ApiError, Category};
use crate::limits::THROTTLED_ADDRESSES_MAX;
use axum::{extract::ConnectInfo, http::request::Parts};
use std::{
    collections::{HashMap, VecDeque},
    net::{IpAddr, SocketAddr},
    sync::Mutex,
    time::{Duration, Instant},
};

const WINDOW: Duration = Duration::from_secs(60);

/// What a limit counts by: an IPv4 address, or the first 64 bits of an IPv6 one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressKey {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

impl AddressKey {
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.octets()),
                None => {
                    let octets = v6.octets();
                    let mut prefix = [0u8; 8];
                    prefix.copy_from_slice(&octets[..8]);
                    Self::V6Prefix(prefix)
                }
            },
        }
    }
}

#[derive(Default)]
struct Windows {
    /// Each address's window: when it started and what it counted.
    counts: HashMap<AddressKey, (Instant, u32)>,
    /// Window starts in the order they began, for oldest-first eviction; an entry whose
    /// address has since started a new window is stale and skipped.
    starts: VecDeque<(Instant, AddressKey)>,
}

impl Windows {
    /// The count of `key`'s current window, starting one (and evicting the oldest window if
    /// the map is full) when it has none.
    fn current(&mut self, key: AddressKey, now: Instant) -> &mut u32 {
        let fresh = self
            .counts
            .get(&key)
            .is_none_or(|(started, _)| now.duration_since(*started) >= WINDOW);
        if fresh {
            if !self.counts.contains_key(&key) {
                self.make_room();
            }
            self.counts.insert(key, (now, 0));
            self.starts.push_back((now, key));
        }
        &mut self.counts.get_mut(&key).expect("just ensured").1
    }

    fn make_room(&mut self) {
        while self.counts.len() >= THROTTLED_ADDRESSES_MAX {
            let Some((started, key)) = self.starts.pop_front() else {
                return;
            };
            if self
                .counts
                .get(&key)
                .is_some_and(|(current, _)| *current == started)
            {
                self.counts.remove(&key);
            }
        }
        // Stale entries left behind by addresses that started new windows.
        if self.starts.len() > 2 * THROTTLED_ADDRESSES_MAX {
            let counts = &self.counts;
            self.starts
                .retain(|(started, key)| counts.get(key).is_some_and(|(c, _)| c == started));
        }
    }

    fn count(&self, key: AddressKey, now: Instant) -> u32 {
        match self.counts.get(&key) {
            Some((started, count)) if now.duration_since(*started) < WINDOW => *count,
            _ => 0,
        }
    }
}

/// Counts events per address and minute; `max_per_minute` 0 turns the limit off.
pub struct PerAddressLimit {
    max_per_minute: u32,
    message: &'static str,
    windows: Mutex<Windows>,
}

impl PerAddressLimit {
    fn new(max_per_minute: u32, message: &'static str) -> Self {
        Self {
            max_per_minute,
            message,
            windows: Mutex::new(Windows::default()),
        }
    }

    fn refused(&self) -> ApiError {
        ApiError::new(Category::TooManyRequests, self.message)
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, Windows> {
        // The counts are plain numbers: a panic elsewhere cannot leave them half-made.
        self.windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Refuses an address that reached the limit this minute.
    pub fn check(&self, address: Option<IpAddr>) -> Result<(), ApiError> {
        match address {
            Some(address) if self.max_per_minute > 0 => {
                let count = self
                    .windows()
                    .count(AddressKey::of(address), Instant::now());
                if count >= self.max_per_minute {
                    return Err(self.refused());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Counts one event of `address`.
    pub fn record(&self, address: Option<IpAddr>) {
        if let (Some(address), true) = (address, self.max_per_minute > 0) {
            let mut windows = self.windows();
            let count = windows.current(AddressKey::of(address), Instant::now());
            *count = count.saturating_add(1);
        }
    }

    /// Counts one event of `address`, refusing it if the address had reached the limit.
    pub fn take(&self, address: Option<IpAddr>) -> Result<(), ApiError> {
        self.check(address)?;
        self.record(address);
        Ok(())
    }
}

/// Failed authentications per address and minute.
pub fn auth_failures(max_per_minute: u32) -> PerAddressLimit {
    PerAddressLimit::new(
        max_per_minute,
        "Too many failed authentication attempts; retry in a minute.",
    )
}

/// Sign-ups per address and minute.
pub fn signups(max_per_minute: u32) -> PerAddressLimit {
    PerAddressLimit::new(
        max_per_minute,
        "Too many sign-ups from this address; retry in a minute.",
    )
}

/// The client's address, when the server was started with connection info: the peer, or,
/// when the peer is one of `trusted_proxies`, the last address of `X-Forwarded-For` (the one
/// that gateway appended: what it saw). Earlier addresses are the client's to forge.
pub fn client_address(parts: &Parts, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = (parts.extensions.get::<ConnectInfo<SocketAddr>>()).map(|info| info.0.ip())?;
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = (parts.headers.get_all("x-forwarded-for").iter())
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|address| address.trim().parse::<IpAddr>().ok())
        .next_back();
    Some(forwarded.unwrap_or(peer))
}

/// The client's address as an extractor; `None` when unknown.
pub struct ClientAddress(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<super::AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &super::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_address(parts, &state.settings.trusted_proxies)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_subscriber_is_one_address_whatever_its_interface_id() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(AddressKey::of(a), AddressKey::of(b));
        assert_ne!(AddressKey::of(a), AddressKey::of(other));
        let limit = signups(2);
        limit.take(Some(a)).unwrap();
        limit.take(Some(b)).unwrap();
        assert!(limit.take(Some(a)).is_err());
        assert!(limit.take(Some(other)).is_ok());
    }

    #[test]
    fn the_map_of_addresses_stays_bounded_evicting_the_oldest() {
        let limit = signups(1);
        for n in 0..(THROTTLED_ADDRESSES_MAX as u32 + 10) {
            limit.record(Some(IpAddr::from(n.to_be_bytes())));
        }
        let windows = limit.windows();
        assert_eq!(windows.counts.len(), THROTTLED_ADDRESSES_MAX);
        let oldest = AddressKey::of(IpAddr::from(0u32.to_be_bytes()));
        let newest = AddressKey::of(IpAddr::from(
            (THROTTLED_ADDRESSES_MAX as u32 + 9).to_be_bytes(),
        ));
        assert!(!windows.counts.contains_key(&oldest));
        assert!(windows.counts.contains_key(&newest));
    }

    #[test]
    fn behind_a_trusted_gateway_the_client_is_the_address_it_appended() {
        let parts = |peer: &str, forwarded: Option<&str>| {
            let mut request = axum::http::Request::builder();
            if let Some(forwarded) = forwarded {
                request = request.header("x-forwarded-for", forwarded);
            }
            let (mut parts, ()) = request.body(()).unwrap().into_parts();
            parts
                .extensions
                .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 4000)));
            parts
        };
        let gateway: IpAddr = "10.0.0.2".parse().unwrap();
        let address = |parts: &Parts, trusted: &[IpAddr]| client_address(parts, trusted);
        let forged = parts("10.0.0.2", Some("6.6.6.6, 192.0.2.7"));
        assert_eq!(address(&forged, &[gateway]), "192.0.2.7".parse().ok());
        assert_eq!(
            address(&forged, &[]),
            Some(gateway),
            "an untrusted peer is itself"
        );
        let direct = parts("192.0.2.9", Some("1.1.1.1"));
        assert_eq!(
            address(&direct, &[gateway]),
            "192.0.2.9".parse().ok(),
            "a client's own X-Forwarded-For is ignored"
        );
        let bare = parts("10.0.0.2", None);
        assert_eq!(address(&bare, &[gateway]), Some(gateway));
    }
}
