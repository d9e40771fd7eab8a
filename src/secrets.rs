//! Secrets: API key secrets and invitation tokens are random, carry a recognisable prefix for
//! secret scanners, and are stored only as their SHA-256.

use sha2::{Digest, Sha256};
use steward_events::Sha256Digest;

/// Prefix of every API key secret.
pub const KEY_PREFIX: &str = "stw_key_";
/// Prefix of every invitation token.
pub const INVITATION_PREFIX: &str = "stw_inv_";

/// Bytes of randomness in every secret.
const SECRET_BYTES: usize = 32;

/// A freshly drawn secret and its hash. The secret is shown once and then dropped.
pub struct Secret {
    pub secret: String,
    pub hash: Sha256Digest,
}

impl Secret {
    /// A new random secret with the given prefix.
    pub fn generate_with_prefix(prefix: &str) -> Self {
        let bytes: [u8; SECRET_BYTES] = rand::random();
        let secret = format!("{prefix}{}", hex::encode(bytes));
        let hash = hash_secret(&secret);
        Self { secret, hash }
    }

    pub fn api_key() -> Self {
        Self::generate_with_prefix(KEY_PREFIX)
    }

    pub fn invitation_token() -> Self {
        Self::generate_with_prefix(INVITATION_PREFIX)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Secret({:?})", self.hash)
    }
}

/// The stored form of a presented secret.
pub fn hash_secret(secret: &str) -> Sha256Digest {
    Sha256Digest::from_bytes(Sha256::digest(secret.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hashed() {
        let first = Secret::api_key();
        let second = Secret::api_key();
        assert!(first.secret.starts_with(KEY_PREFIX));
        assert_eq!(first.secret.len(), KEY_PREFIX.len() + 2 * SECRET_BYTES);
        assert_ne!(first.secret, second.secret);
        assert_eq!(hash_secret(&first.secret), first.hash);
        assert!(!format!("{first:?}").contains(&first.secret));
    }
}
