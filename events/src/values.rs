//! Value types events carry, each built only through a parse that enforces its rules.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a value could not be parsed. Messages are short and safe to show to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("invalid email address")]
    InvalidEmail,
    #[error(
        "tags must be 1 to {} characters without control characters",
        Tag::MAX_CHARS
    )]
    InvalidTag,
}

/// An email address, kept in lowercase so that comparisons are case-insensitive.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Email(String);

impl Email {
    /// The longest address SMTP can carry (RFC 5321's path limit less the brackets).
    pub const MAX_CHARS: usize = 254;

    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let text = text.trim();
        let (local, domain) = text.split_once('@').ok_or(ValueError::InvalidEmail)?;
        let well_formed = text.chars().count() <= Self::MAX_CHARS
            && !local.is_empty()
            && local.len() <= 64
            && !domain.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && text
                .chars()
                .all(|character| !character.is_whitespace() && !character.is_control());
        if !well_formed {
            return Err(ValueError::InvalidEmail);
        }
        Ok(Self(text.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Email({})", self.0)
    }
}

/// A usage tag, such as a business's own customer name. At most 128 characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(String);

impl Tag {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let length = text.chars().count();
        if length == 0
            || length > Self::MAX_CHARS
            || text.chars().any(char::is_control)
            || text.trim() != text
        {
            return Err(ValueError::InvalidTag);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Tag({})", self.0)
    }
}

macro_rules! string_value_serde {
    ($name:ident) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                $name::parse(&text).map_err(de::Error::custom)
            }
        }
    };
}

string_value_serde!(Email);
string_value_serde!(Tag);

/// A SHA-256 digest: how secrets (key secrets, invitation tokens) are stored, never themselves.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    pub fn parse_hex(text: &str) -> Option<Self> {
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "sha256:{}", &self.to_hex()[..12])
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_hex())
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            Self::parse_hex(&text).ok_or_else(|| de::Error::custom("not a SHA-256 hex digest"))
        } else {
            let bytes = <Vec<u8>>::deserialize(deserializer)?;
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| de::Error::custom("a SHA-256 digest is 32 bytes"))?;
            Ok(Self(bytes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_compare_without_case() {
        assert_eq!(
            Email::parse("Ann.Lee@Fruit.Example").unwrap(),
            Email::parse("ann.lee@fruit.example").unwrap()
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for text in [
            "",
            "ann",
            "@fruit.example",
            "ann@",
            "ann@fruit",
            "ann@@fruit.example",
            "an n@fruit.example",
            "ann@.example",
            "ann@fruit..example",
            "ann@fruit.example.",
        ] {
            assert_eq!(
                Email::parse(text),
                Err(ValueError::InvalidEmail),
                "{text:?}"
            );
        }
        let long_local = format!("{}@fruit.example", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(ValueError::InvalidEmail));
    }

    #[test]
    fn tags_are_bounded_and_printable() {
        assert!(Tag::parse("apple").is_ok());
        assert!(Tag::parse(&"x".repeat(128)).is_ok());
        assert_eq!(Tag::parse(&"x".repeat(129)), Err(ValueError::InvalidTag));
        assert_eq!(Tag::parse(""), Err(ValueError::InvalidTag));
        assert_eq!(Tag::parse("a\nb"), Err(ValueError::InvalidTag));
        assert_eq!(Tag::parse(" apple"), Err(ValueError::InvalidTag));
    }

    #[test]
    fn digests_round_trip_through_hex() {
        let digest = Sha256Digest::from_bytes([0xab; 32]);
        assert_eq!(Sha256Digest::parse_hex(&digest.to_hex()), Some(digest));
        assert_eq!(Sha256Digest::parse_hex("ab"), None);
    }
}
