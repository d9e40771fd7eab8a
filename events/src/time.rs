//! `Timestamp`: an instant in UTC with microsecond precision, the only time type events carry.

use chrono::{DateTime, Datelike, Months, SecondsFormat, TimeZone, Utc};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An instant in UTC, microseconds since the Unix epoch.
///
/// Stored as an `i64` in binary records (fixed meaning, no string parsing on replay) and shown
/// as RFC 3339 in JSON, so exports stay readable.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `micros` microseconds after the Unix epoch.
    pub const fn from_unix_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub const fn unix_micros(self) -> i64 {
        self.0
    }

    /// Converts a chrono instant, dropping precision below a microsecond.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.timestamp_micros())
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_micros(self.0)
            .single()
            .expect("every i64 of microseconds within chrono's range is a valid instant")
    }

    /// Parses RFC 3339 (`2026-11-26T10:00:00Z`, with any offset).
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|at| Self::from_datetime(at.with_timezone(&Utc)))
    }

    /// The same wall-clock instant `months` calendar months later (clamped to the month's end).
    pub fn plus_months(self, months: u32) -> Self {
        let later = self
            .to_datetime()
            .checked_add_months(Months::new(months))
            .expect("adding months to a representable instant stays representable");
        Self::from_datetime(later)
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds.saturating_mul(1_000_000)))
    }

    /// The UTC calendar day this instant falls on, as days since the Unix epoch.
    pub fn day(self) -> i64 {
        self.0.div_euclid(86_400 * 1_000_000)
    }

    /// The start (midnight UTC, on the 1st) of the UTC calendar month this instant falls in.
    pub fn month_start(self) -> Self {
        let at = self.to_datetime();
        let start = Utc
            .with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
            .single()
            .expect("the 1st of a representable month is a representable instant");
        Self::from_datetime(start)
    }

    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_rfc3339())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Timestamp({})", self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_rfc3339())
        } else {
            serializer.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            Self::parse_rfc3339(&text)
                .ok_or_else(|| de::Error::custom(format!("not an RFC 3339 instant: {text}")))
        } else {
            i64::deserialize(deserializer).map(Self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_after_a_leap_day_is_the_last_day_of_february() {
        let leap_day = Timestamp::parse_rfc3339("2028-02-29T12:00:00Z").unwrap();
        assert_eq!(
            leap_day.plus_months(12).to_rfc3339(),
            "2029-02-28T12:00:00Z"
        );
    }

    #[test]
    fn a_month_starts_at_midnight_utc_on_the_first() {
        let month_start = |text: &str| {
            Timestamp::parse_rfc3339(text)
                .unwrap()
                .month_start()
                .to_rfc3339()
        };
        assert_eq!(month_start("2026-12-31T23:59:59Z"), "2026-12-01T00:00:00Z");
        assert_eq!(month_start("2026-12-01T00:00:00Z"), "2026-12-01T00:00:00Z");
        // Another offset's wall clock does not move the UTC month.
        assert_eq!(
            month_start("2027-01-01T00:30:00+01:00"),
            "2026-12-01T00:00:00Z"
        );
    }

    #[test]
    fn json_shows_rfc3339_and_reads_it_back() {
        let at = Timestamp::parse_rfc3339("2026-11-26T10:00:00.123456+02:00").unwrap();
        let json = serde_json::to_string(&at).unwrap();
        assert_eq!(json, "\"2026-11-26T08:00:00.123456Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), at);
    }

    #[test]
    fn days_count_from_the_epoch_in_utc() {
        assert_eq!(
            Timestamp::parse_rfc3339("1970-01-02T00:00:00Z")
                .unwrap()
                .day(),
            1
        );
        assert_eq!(
            Timestamp::parse_rfc3339("1969-12-31T23:59:59Z")
                .unwrap()
                .day(),
            -1
        );
    }
}
