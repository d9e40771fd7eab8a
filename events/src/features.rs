//! The features of the paid API a request may use: Deepgram's names, as the boolean filters of
//! its usage queries give them (`diarize=true`).
//!
//! An event stores a feature as its index in `Feature`, so features are only ever added at the
//! end of the list (`tests/golden.rs` freezes it).

use serde::{Deserialize, Serialize};

macro_rules! features {
    ($($variant:ident => $name:literal,)*) => {
        /// One feature a metered request used.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Feature {
            $($variant,)*
        }

        impl Feature {
            /// Every feature, in stored order.
            pub const ALL: &'static [Feature] = &[$(Feature::$variant,)*];

            /// Deepgram's name of the feature.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Feature::$variant => $name,)*
                }
            }
        }
    };
}

features! {
    Alternatives => "alternatives",
    CallbackMethod => "callback_method",
    Callback => "callback",
    Channels => "channels",
    CustomIntentMode => "custom_intent_mode",
    CustomIntent => "custom_intent",
    CustomTopicMode => "custom_topic_mode",
    CustomTopic => "custom_topic",
    DetectEntities => "detect_entities",
    DetectLanguage => "detect_language",
    Diarize => "diarize",
    Dictation => "dictation",
    Encoding => "encoding",
    Extra => "extra",
    FillerWords => "filler_words",
    Intents => "intents",
    Keyterm => "keyterm",
    Keywords => "keywords",
    Language => "language",
    Measurements => "measurements",
    Multichannel => "multichannel",
    Numerals => "numerals",
    Paragraphs => "paragraphs",
    ProfanityFilter => "profanity_filter",
    Punctuate => "punctuate",
    Redact => "redact",
    Replace => "replace",
    SampleRate => "sample_rate",
    Search => "search",
    Sentiment => "sentiment",
    SmartFormat => "smart_format",
    Summarize => "summarize",
    Topics => "topics",
    UttSplit => "utt_split",
    Utterances => "utterances",
    Version => "version",
}

impl Feature {
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|feature| feature.name() == name)
    }

    const fn bit(self) -> u64 {
        1 << self as u32
    }
}

const _: () = assert!(
    Feature::ALL.len() <= u64::BITS as usize,
    "a FeatureSet is 64 bits"
);

/// A set of features, as a request used them: what usage is kept and grouped by.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct FeatureSet(u64);

impl FeatureSet {
    pub const EMPTY: FeatureSet = FeatureSet(0);

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub const fn contains(self, feature: Feature) -> bool {
        self.0 & feature.bit() != 0
    }

    pub fn insert(&mut self, feature: Feature) {
        self.0 |= feature.bit();
    }

    pub const fn union(self, other: FeatureSet) -> FeatureSet {
        FeatureSet(self.0 | other.0)
    }

    /// Whether the two sets share a feature.
    pub const fn intersects(self, other: FeatureSet) -> bool {
        self.0 & other.0 != 0
    }

    /// The features of the set, in stored order.
    pub fn iter(self) -> impl Iterator<Item = Feature> {
        Feature::ALL
            .iter()
            .copied()
            .filter(move |feature| self.contains(*feature))
    }

    /// The features' names joined by commas, in stored order (empty for the empty set).
    pub fn names(self) -> String {
        self.iter().map(Feature::name).collect::<Vec<_>>().join(",")
    }

    /// The set named by `names` (as `names` writes it); `None` if one is not a feature.
    pub fn parse_names(names: &str) -> Option<Self> {
        names
            .split(',')
            .filter(|name| !name.is_empty())
            .map(Feature::parse)
            .collect()
    }
}

/// As the list of its features, in stored order.
impl Serialize for FeatureSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for FeatureSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Feature>::deserialize(deserializer).map(|features| features.into_iter().collect())
    }
}

impl FromIterator<Feature> for FeatureSet {
    fn from_iter<I: IntoIterator<Item = Feature>>(features: I) -> Self {
        let mut set = Self::EMPTY;
        for feature in features {
            set.insert(feature);
        }
        set
    }
}

impl<'a> FromIterator<&'a Feature> for FeatureSet {
    fn from_iter<I: IntoIterator<Item = &'a Feature>>(features: I) -> Self {
        features.into_iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        for feature in Feature::ALL {
            assert_eq!(Feature::parse(feature.name()), Some(*feature));
        }
        let names: std::collections::BTreeSet<_> = Feature::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), Feature::ALL.len());
        assert_eq!(Feature::parse("Diarize"), None);
    }

    #[test]
    fn a_set_names_its_features_in_stored_order_and_parses_back() {
        let set: FeatureSet = [Feature::SmartFormat, Feature::Diarize]
            .into_iter()
            .collect();
        assert_eq!(set.names(), "diarize,smart_format");
        assert_eq!(FeatureSet::parse_names(&set.names()), Some(set));
        assert_eq!(FeatureSet::parse_names(""), Some(FeatureSet::EMPTY));
        assert_eq!(FeatureSet::parse_names("diarize,shouting"), None);
        assert!(set.intersects([Feature::Diarize].iter().collect()));
        assert!(!set.intersects([Feature::Punctuate].iter().collect()));
    }
}
