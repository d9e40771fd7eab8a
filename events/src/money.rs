//! `Nanodollars`: money as an integer count of 10⁻⁹ USD. No floating point in the ledger.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of money in nano-dollars (1 USD = 1_000_000_000).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Nanodollars(i64);

impl Nanodollars {
    pub const ZERO: Self = Self(0);
    pub const PER_USD: i64 = 1_000_000_000;

    pub const fn new(nanodollars: i64) -> Self {
        Self(nanodollars)
    }

    pub const fn from_usd(usd: i64) -> Self {
        Self(usd * Self::PER_USD)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }

    /// Parses a non-negative decimal USD amount with at most nine decimals (`"12.5"`, `"0.000000001"`,
    /// `"200"`) exactly, digit by digit: never through a float. `None` when malformed or beyond
    /// `i64` nano-dollars.
    pub fn parse_usd(text: &str) -> Option<Self> {
        parse_fixed_decimal(text, 9)
            .and_then(|nanodollars| i64::try_from(nanodollars).ok())
            .map(Self)
    }

    /// Exact decimal USD with nine places, trailing zeros trimmed: `12.5`, `0.000000001`, `-3`.
    pub fn to_usd_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        let per_usd = Self::PER_USD.unsigned_abs();
        let (whole, fraction) = (magnitude / per_usd, magnitude % per_usd);
        if fraction == 0 {
            return format!("{sign}{whole}");
        }
        let fraction = format!("{fraction:09}");
        format!("{sign}{whole}.{}", fraction.trim_end_matches('0'))
    }
}

/// Parses a non-negative decimal with at most `decimals` places, exactly, as a count of
/// 10^-`decimals` units: `("12.5", 3)` gives `12_500`. Digits only, on both sides of a point if
/// there is one; no sign, no exponent. `None` when malformed or beyond `u64`.
pub fn parse_fixed_decimal(text: &str, decimals: u32) -> Option<u64> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return None,
        None => (text, ""),
    };
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > decimals as usize
    {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let fraction: u64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<width$}", width = decimals as usize)
            .parse()
            .ok()?
    };
    whole
        .checked_mul(10u64.checked_pow(decimals)?)?
        .checked_add(fraction)
}

impl std::ops::Add for Nanodollars {
    type Output = Self;

    /// Panics on overflow: amounts are bounded where they enter, so overflow is a bug.
    fn add(self, other: Self) -> Self {
        self.checked_add(other)
            .expect("nano-dollar sum overflowed i64")
    }
}

impl std::ops::Sub for Nanodollars {
    type Output = Self;

    fn sub(self, other: Self) -> Self {
        self.checked_sub(other)
            .expect("nano-dollar difference overflowed i64")
    }
}

impl std::ops::AddAssign for Nanodollars {
    fn add_assign(&mut self, other: Self) {
        *self = *self + other;
    }
}

impl std::ops::SubAssign for Nanodollars {
    fn sub_assign(&mut self, other: Self) {
        *self = *self - other;
    }
}

impl std::iter::Sum for Nanodollars {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, |total, amount| total + amount)
    }
}

impl fmt::Debug for Nanodollars {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "${}", self.to_usd_string())
    }
}

impl fmt::Display for Nanodollars {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_usd_string())
    }
}

/// A running total of money moved (granted, received, consumed, expired, sent over a
/// project's whole life): nano-dollars in `i128`, which no sequence of bounded amounts
/// overflows, where an `i64` total could after a few billion-dollar transfers back and forth.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LedgerTotal(i128);

impl LedgerTotal {
    pub const fn get(self) -> i128 {
        self.0
    }
}

impl From<Nanodollars> for LedgerTotal {
    fn from(amount: Nanodollars) -> Self {
        Self(i128::from(amount.0))
    }
}

impl std::ops::Add for LedgerTotal {
    type Output = Self;

    /// Saturates: 2¹²⁷ nano-dollars are beyond any ledger.
    fn add(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }
}

impl std::ops::AddAssign<Nanodollars> for LedgerTotal {
    fn add_assign(&mut self, amount: Nanodollars) {
        *self = *self + Self::from(amount);
    }
}

impl fmt::Debug for LedgerTotal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}n$", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_decimals_parse_exactly_at_any_scale() {
        assert_eq!(parse_fixed_decimal("12.5", 3), Some(12_500));
        assert_eq!(parse_fixed_decimal("0.001", 3), Some(1));
        assert_eq!(parse_fixed_decimal("7", 0), Some(7));
        assert_eq!(parse_fixed_decimal("1.5", 0), None);
        assert_eq!(parse_fixed_decimal("0.0001", 3), None);
        assert_eq!(parse_fixed_decimal("18446744073709551616", 0), None);
    }

    #[test]
    fn usd_decimals_parse_exactly() {
        assert_eq!(
            Nanodollars::parse_usd("200"),
            Some(Nanodollars::from_usd(200))
        );
        assert_eq!(
            Nanodollars::parse_usd("0.1"),
            Some(Nanodollars::new(100_000_000))
        );
        assert_eq!(
            Nanodollars::parse_usd("0.000000001"),
            Some(Nanodollars::new(1))
        );
        assert_eq!(
            Nanodollars::parse_usd("9223372036.854775807"),
            Some(Nanodollars::new(i64::MAX))
        );
        for bad in [
            "",
            ".5",
            "5.",
            "-1",
            "+1",
            "1e3",
            "0.0000000001",
            "1.2.3",
            " 1",
            "9223372036.854775808",
            "NaN",
        ] {
            assert_eq!(Nanodollars::parse_usd(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn usd_strings_are_exact_to_the_nanodollar() {
        assert_eq!(Nanodollars::from_usd(200).to_usd_string(), "200");
        assert_eq!(Nanodollars::new(12_500_000_000).to_usd_string(), "12.5");
        assert_eq!(Nanodollars::new(1).to_usd_string(), "0.000000001");
        assert_eq!(
            Nanodollars::new(-3_000_000_001).to_usd_string(),
            "-3.000000001"
        );
        assert_eq!(
            Nanodollars::new(i64::MIN).to_usd_string(),
            "-9223372036.854775808"
        );
    }
}
