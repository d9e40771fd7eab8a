//! USD at the edge: amounts leave as exact decimal JSON numbers and arrive as a JSON number or
//! a decimal string, parsed digit by digit, never through a float.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use steward_events::Nanodollars;

/// An amount shown in USD as an exact JSON number, such as `12.5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usd(pub Nanodollars);

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let number = RawValue::from_string(self.0.to_usd_string())
            .expect("a decimal string is a valid JSON number");
        number.serialize(serializer)
    }
}

/// A non-negative USD amount given as a JSON number (`12.5`) or string (`"12.5"`), with at most
/// nine decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsdInput(pub Nanodollars);

/// The text of a JSON number, or of a string holding one, exactly as sent: so that decimals
/// are parsed digit by digit, never through a float.
pub fn decimal_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let raw = <Box<RawValue>>::deserialize(deserializer)?;
    let text = raw.get();
    if !text.starts_with('"') {
        // A number (or something no caller accepts): its text as sent. Not tried as a
        // string first, which would build and drop an error on every number.
        return Ok(text.to_owned());
    }
    serde_json::from_str::<String>(text).map_err(de::Error::custom)
}

impl<'de> Deserialize<'de> for UsdInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let literal = decimal_text(deserializer)?;
        Nanodollars::parse_usd(&literal).map(UsdInput).ok_or_else(|| {
            de::Error::custom(
                "amount must be a non-negative USD decimal with at most 9 decimals, as a number or string",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_print_as_exact_json_numbers() {
        let json = serde_json::to_string(&Usd(Nanodollars::new(1_234_567_890_123))).unwrap();
        assert_eq!(json, "1234.567890123");
    }

    #[test]
    fn amounts_parse_exactly_from_numbers_and_strings() {
        let parse = |json: &str| serde_json::from_str::<UsdInput>(json).map(|u| u.0.get());
        assert_eq!(parse("0.1").unwrap(), 100_000_000);
        assert_eq!(parse("\"12.000000001\"").unwrap(), 12_000_000_001);
        assert_eq!(parse("200").unwrap(), 200_000_000_000);
        for bad in [
            "-1",
            "1e3",
            "\"abc\"",
            "0.0000000001",
            "null",
            "true",
            "[1]",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
