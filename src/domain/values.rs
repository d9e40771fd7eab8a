//! The text values commands carry, each built only by a parse that enforces its rule, so that
//! `decide` never re-checks a string. A value that breaks its rule is refused with the
//! `DomainError` naming it, whichever face parsed it.

use super::error::DomainError;
use crate::limits;
use std::fmt;

/// Whether `text` has at most `max_chars` characters and no control character.
fn short_and_printable(text: &str, max_chars: usize) -> bool {
    text.chars().count() <= max_chars && !text.chars().any(char::is_control)
}

/// A text value: a newtype over `String` whose only constructor is `parse`.
macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $error:ident, |$text:ident| $valid:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: impl Into<String>) -> Result<Self, DomainError> {
                let text = text.into();
                let $text = text.as_str();
                if $valid {
                    Ok(Self(text))
                } else {
                    Err(DomainError::$error)
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{}({:?})", stringify!($name), self.0)
            }
        }

        /// For the domain's own tests, which write fixed valid texts.
        #[cfg(test)]
        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                Self::parse(text).expect("a test's text is valid")
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

text_value!(
    /// A project's name: not blank, at most `NAME_CHARS_MAX` characters, no control characters.
    ProjectName,
    InvalidName,
    |text| !text.trim().is_empty() && short_and_printable(text, limits::NAME_CHARS_MAX)
);

text_value!(
    /// A person's first or last name: may be empty; at most `NAME_CHARS_MAX` characters, no
    /// control characters.
    PersonName,
    InvalidName,
    |text| short_and_printable(text, limits::NAME_CHARS_MAX)
);

text_value!(
    /// A project's company, under the rules of a person's name.
    CompanyName,
    InvalidName,
    |text| short_and_printable(text, limits::NAME_CHARS_MAX)
);

text_value!(
    /// A key's comment: may be empty; at most `COMMENT_CHARS_MAX` characters, no control
    /// characters.
    KeyComment,
    InvalidComment,
    |text| short_and_printable(text, limits::COMMENT_CHARS_MAX)
);

text_value!(
    /// The model a metered request used: 1 to `MODEL_CHARS_MAX` characters.
    ModelName,
    InvalidModel,
    |text| (1..=limits::MODEL_CHARS_MAX).contains(&text.chars().count())
);

text_value!(
    /// A grant's purchase order or contract reference: at most `REFERENCE_CHARS_MAX` characters.
    Reference,
    InvalidReference,
    |text| text.chars().count() <= limits::REFERENCE_CHARS_MAX
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_value_is_refused_with_the_rule_it_breaks() {
        assert_eq!(ProjectName::parse("  "), Err(DomainError::InvalidName));
        assert_eq!(ProjectName::parse("a\u{7}b"), Err(DomainError::InvalidName));
        let long = "x".repeat(limits::NAME_CHARS_MAX + 1);
        assert_eq!(
            PersonName::parse(long.clone()),
            Err(DomainError::InvalidName)
        );
        assert_eq!(CompanyName::parse(long), Err(DomainError::InvalidName));
        assert!(PersonName::parse("").is_ok());
        assert_eq!(KeyComment::parse("a\nb"), Err(DomainError::InvalidComment));
        assert_eq!(ModelName::parse(""), Err(DomainError::InvalidModel));
        let reference = "r".repeat(limits::REFERENCE_CHARS_MAX + 1);
        assert_eq!(
            Reference::parse(reference),
            Err(DomainError::InvalidReference)
        );
        assert_eq!(
            ProjectName::parse("Fruit Company").map(String::from),
            Ok("Fruit Company".to_owned())
        );
    }
}
