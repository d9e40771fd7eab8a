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

impl PriceTable {
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
