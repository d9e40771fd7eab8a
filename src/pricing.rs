//! The price table: what a metered request costs, per endpoint, model and unit, in integer
//! nano-dollars. Rounded up to the next nano-dollar, never through a float.

use steward_events::{Endpoint, Nanodollars, UsageUnits};

/// What a rule charges for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PricedUnit {
    /// Per minute of audio.
    AudioMinute,
    /// Per character of text to speech.
    Character,
    /// Per input token.
    TokenIn,
    /// Per output token.
    TokenOut,
}

/// One price: for an endpoint and optionally one model, per unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceRule {
    pub endpoint: Endpoint,
    /// `None` applies to every model without a rule of its own.
    pub model: Option<String>,
    pub unit: PricedUnit,
    pub nanodollars_per_unit: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceTable {
    pub rules: Vec<PriceRule>,
}

impl Default for PriceTable {
    /// Deepgram's public pay-as-you-go list prices (2026): Nova-3 $0.0043/min, Aura-2
    /// $0.030 per 1,000 characters, text intelligence $0.50 / $1.50 per million tokens in and
    /// out, the voice agent $0.08/min.
    fn default() -> Self {
        let rule = |endpoint, unit, nanodollars_per_unit| PriceRule {
            endpoint,
            model: None,
            unit,
            nanodollars_per_unit,
        };
        Self {
            rules: vec![
                rule(Endpoint::Listen, PricedUnit::AudioMinute, 4_300_000),
                rule(Endpoint::Speak, PricedUnit::Character, 30_000),
                rule(Endpoint::Read, PricedUnit::TokenIn, 500),
                rule(Endpoint::Read, PricedUnit::TokenOut, 1_500),
                rule(Endpoint::Agent, PricedUnit::AudioMinute, 80_000_000),
            ],
        }
    }
}

/// One rule as a price table file gives it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    endpoint: String,
    model: Option<String>,
    /// `audio_minute`, `character`, `token_in` or `token_out`.
    unit: String,
    /// USD per unit as a decimal string, at most nine decimals.
    usd_per_unit: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    rules: Vec<RuleFile>,
}

impl PriceTable {
    /// Parses a price table:
    /// `{"rules": [{"endpoint": "listen", "model": "nova-3", "unit": "audio_minute",
    /// "usd_per_unit": "0.0043"}]}`. A rule without `model` applies to every model of its
    /// endpoint that has no rule of its own.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let file: TableFile =
            serde_json::from_str(text).map_err(|error| format!("price table: {error}"))?;
        let rules = file
            .rules
            .into_iter()
            .map(|rule| {
                let endpoint = Endpoint::parse(&rule.endpoint)
                    .ok_or_else(|| format!("price table: unknown endpoint {:?}", rule.endpoint))?;
                let unit = match rule.unit.as_str() {
                    "audio_minute" => PricedUnit::AudioMinute,
                    "character" => PricedUnit::Character,
                    "token_in" => PricedUnit::TokenIn,
                    "token_out" => PricedUnit::TokenOut,
                    other => return Err(format!("price table: unknown unit {other:?}")),
                };
                let price = steward_events::Nanodollars::parse_usd(&rule.usd_per_unit)
                    .ok_or_else(|| format!("price table: bad price {:?}", rule.usd_per_unit))?;
                Ok(PriceRule {
                    endpoint,
                    model: rule.model,
                    unit,
                    nanodollars_per_unit: price.get().unsigned_abs(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { rules })
    }

    /// The cost of `units` on `endpoint` with `model`: for each unit, the model's own rule if it
    /// has one, else the endpoint's general rule.
    pub fn price(&self, endpoint: Endpoint, model: &str, units: &UsageUnits) -> Nanodollars {
        let mut total: u128 = 0;
        for unit in [
            PricedUnit::AudioMinute,
            PricedUnit::Character,
            PricedUnit::TokenIn,
            PricedUnit::TokenOut,
        ] {
            let rules = || {
                self.rules
                    .iter()
                    .filter(move |rule| rule.endpoint == endpoint && rule.unit == unit)
            };
            let Some(rule) = rules()
                .find(|rule| rule.model.as_deref() == Some(model))
                .or_else(|| rules().find(|rule| rule.model.is_none()))
            else {
                continue;
            };
            let price = u128::from(rule.nanodollars_per_unit);
            total += match unit {
                // Milliseconds of audio, priced per minute: round the quotient up.
                PricedUnit::AudioMinute => {
                    (u128::from(units.audio_milliseconds) * price).div_ceil(60_000)
                }
                PricedUnit::Character => u128::from(units.characters) * price,
                PricedUnit::TokenIn => u128::from(units.tokens_in) * price,
                PricedUnit::TokenOut => u128::from(units.tokens_out) * price,
            };
        }
        Nanodollars::new(i64::try_from(total).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_of_nova_costs_its_list_price_and_fractions_round_up() {
        let table = PriceTable::default();
        let minute = UsageUnits {
            audio_milliseconds: 60_000,
            ..UsageUnits::default()
        };
        assert_eq!(
            table.price(Endpoint::Listen, "nova-3", &minute),
            Nanodollars::new(4_300_000)
        );
        let one_millisecond = UsageUnits {
            audio_milliseconds: 1,
            ..UsageUnits::default()
        };
        // 4_300_000 / 60_000 = 71.67 nano-dollars, rounded up.
        assert_eq!(
            table.price(Endpoint::Listen, "nova-3", &one_millisecond),
            Nanodollars::new(72)
        );
    }

    #[test]
    fn a_models_own_rule_wins_over_the_endpoints() {
        let mut table = PriceTable::default();
        table.rules.push(PriceRule {
            endpoint: Endpoint::Listen,
            model: Some("whisper".into()),
            unit: PricedUnit::AudioMinute,
            nanodollars_per_unit: 4_800_000,
        });
        let minute = UsageUnits {
            audio_milliseconds: 60_000,
            ..UsageUnits::default()
        };
        assert_eq!(
            table.price(Endpoint::Listen, "whisper", &minute),
            Nanodollars::new(4_800_000)
        );
        assert_eq!(
            table.price(Endpoint::Listen, "nova-3", &minute),
            Nanodollars::new(4_300_000)
        );
    }

    #[test]
    fn a_price_table_file_parses_exactly_and_refuses_nonsense() {
        let table = PriceTable::from_json(
            r#"{"rules": [{"endpoint": "listen", "model": "nova-3", "unit": "audio_minute",
                           "usd_per_unit": "0.0059"}]}"#,
        )
        .unwrap();
        assert_eq!(table.rules[0].nanodollars_per_unit, 5_900_000);
        assert_eq!(table.rules[0].model.as_deref(), Some("nova-3"));
        for bad in [
            r#"{"rules": [{"endpoint": "dance", "unit": "audio_minute", "usd_per_unit": "1"}]}"#,
            r#"{"rules": [{"endpoint": "listen", "unit": "hour", "usd_per_unit": "1"}]}"#,
            r#"{"rules": [{"endpoint": "listen", "unit": "audio_minute", "usd_per_unit": "-1"}]}"#,
            r#"{"rules": [{"endpoint": "listen", "unit": "audio_minute", "usd_per_unit": 1}]}"#,
            r#"{"rule": []}"#,
        ] {
            assert!(PriceTable::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_and_tokens_are_priced_per_unit() {
        let table = PriceTable::default();
        let read = UsageUnits {
            tokens_in: 1_000,
            tokens_out: 100,
            ..UsageUnits::default()
        };
        assert_eq!(
            table.price(Endpoint::Read, "any", &read),
            Nanodollars::new(1_000 * 500 + 100 * 1_500)
        );
    }
}
