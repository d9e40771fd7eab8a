//! Identifier newtypes: one per kind of thing, so an account id is never passed as a project id.

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// The sixteen bytes of the id, used in storage keys.
            pub const fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), formatter)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A person's account, across all their projects.
    AccountId
);
uuid_id!(
    /// A project: an isolated environment of members, keys and billing.
    ProjectId
);
uuid_id!(
    /// An API key (its public id, never its secret).
    KeyId
);
uuid_id!(
    /// One grant of credit, shown as a balance and an order.
    GrantId
);
uuid_id!(
    /// A move of credit between two projects.
    TransferId
);
uuid_id!(
    /// One metered request of the paid API.
    RequestId
);
uuid_id!(
    /// The unique id of one stored event (UUID v7, so it sorts by time).
    EventId
);
uuid_id!(
    /// A model of the operator's catalog, as Deepgram's `/v1/models` names it.
    ModelId
);
