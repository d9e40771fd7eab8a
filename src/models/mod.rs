//! The model catalog: the speech-to-text and text-to-speech models this Steward meters, as the
//! operator configures them (a catalog file at start-up, like the price table), and which of
//! them a project may use.
//!
//! A catalog file has the shape of Deepgram's `GET /v1/models` answer, plus an optional
//! `"public": false` on a model that only projects the operator grants it to may use:
//!
//! ```json
//! {"stt": [{"name": "general", "canonical_name": "nova-3", "architecture": "nova-3",
//!           "languages": ["en"], "version": "2025-04-17.21547",
//!           "uuid": "…", "batch": true, "streaming": true, "formatted_output": true}],
//!  "tts": [{"name": "thalia", "canonical_name": "aura-2-thalia-en", "architecture": "aura-2",
//!           "languages": ["en"], "version": "2025-04-07.0", "uuid": "…",
//!           "metadata": {"accent": "American", "tags": ["feminine"]}}]}
//! ```
//!
//! Several entries may share a `canonical_name` with different versions: the greatest version
//! is the latest, the one a metered request by that name uses; the others are listed only with
//! `include_outdated`. Access is per model id: every public model by default, changed by the
//! operator's `ModelAccessGranted` / `ModelAccessRevoked` events.

use crate::{
    domain::{may_use_model, DomainError, MeteredModel, ModelName},
    limits::{LANGUAGES_PER_MODEL_MAX, MODELS_IN_CATALOG_MAX, NAME_CHARS_MAX},
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use steward_events::ModelId;
use utoipa::ToSchema;

/// A speech-to-text model, as `/v1/models` lists it and a catalog file gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SttModel {
    pub name: String,
    pub canonical_name: String,
    pub architecture: String,
    pub languages: Vec<String>,
    pub version: String,
    #[schema(value_type = String, format = Uuid)]
    pub uuid: ModelId,
    pub batch: bool,
    pub streaming: bool,
    pub formatted_output: bool,
    /// Whether every project may use it unless revoked (the catalog file's; never sent).
    #[serde(default = "public_by_default", skip_serializing)]
    #[schema(ignore)]
    pub public: bool,
}

/// What a voice sounds like and is for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoiceMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// An absolute URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = "uri")]
    pub image: Option<String>,
    /// An absolute URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = "uri")]
    pub sample: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub use_cases: Vec<String>,
}

/// A text-to-speech model (a voice), as `/v1/models` lists it and a catalog file gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TtsModel {
    pub name: String,
    pub canonical_name: String,
    pub architecture: String,
    pub languages: Vec<String>,
    pub version: String,
    #[schema(value_type = String, format = Uuid)]
    pub uuid: ModelId,
    pub metadata: VoiceMetadata,
    /// Whether every project may use it unless revoked (the catalog file's; never sent).
    #[serde(default = "public_by_default", skip_serializing)]
    #[schema(ignore)]
    pub public: bool,
}

fn public_by_default() -> bool {
    true
}

/// One model of the catalog, either kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Model {
    Stt(SttModel),
    Tts(TtsModel),
}

/// The fields both kinds of model have.
macro_rules! either {
    ($model:expr, $field:ident) => {
        match $model {
            Model::Stt(model) => &model.$field,
            Model::Tts(model) => &model.$field,
        }
    };
}

impl Model {
    pub fn uuid(&self) -> ModelId {
        *either!(self, uuid)
    }

    pub fn name(&self) -> &str {
        either!(self, name)
    }

    pub fn canonical_name(&self) -> &str {
        either!(self, canonical_name)
    }

    pub fn version(&self) -> &str {
        either!(self, version)
    }

    pub fn architecture(&self) -> &str {
        either!(self, architecture)
    }

    pub fn languages(&self) -> &[String] {
        either!(self, languages)
    }

    /// Every project may use it unless the operator revoked it there.
    pub fn public(&self) -> bool {
        *either!(self, public)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    stt: Vec<SttModel>,
    #[serde(default)]
    tts: Vec<TtsModel>,
}

/// A model with what the catalog says of it beyond the wire.
#[derive(Clone, Debug)]
pub struct Entry {
    pub model: Model,
    /// No other entry of its canonical name has a greater version.
    pub latest: bool,
}

/// Lists of models in the shape of `/v1/models`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ModelList {
    pub stt: Vec<SttModel>,
    pub tts: Vec<TtsModel>,
}

/// A project's changes to the default access: model id → granted (`true`) or revoked.
pub type AccessOverrides = BTreeMap<ModelId, bool>;

/// Whether a project with `overrides` may use `model` (`domain::may_use_model`).
pub fn may_use(overrides: &AccessOverrides, model: &Model) -> bool {
    may_use_model(overrides.get(&model.uuid()).copied(), model.public())
}

/// The operator's catalog, looked up by id and by canonical name.
#[derive(Clone, Debug)]
pub struct ModelCatalog {
    entries: Vec<Entry>,
    by_id: HashMap<ModelId, usize>,
    /// Canonical name → the latest entry of that name.
    by_name: HashMap<String, usize>,
}

impl Default for ModelCatalog {
    /// Deepgram's public models that the default price table prices: Nova and Whisper for
    /// listening, Aura voices for speaking.
    fn default() -> Self {
        Self::from_json(include_str!("default-catalog.json")).expect("the default catalog is valid")
    }
}

impl ModelCatalog {
    /// Parses and checks a catalog file.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let file: CatalogFile =
            serde_json::from_str(text).map_err(|error| format!("model catalog: {error}"))?;
        let models = (file.stt.into_iter().map(Model::Stt))
            .chain(file.tts.into_iter().map(Model::Tts))
            .collect();
        Self::new(models).map_err(|error| format!("model catalog: {error}"))
    }

    fn new(models: Vec<Model>) -> Result<Self, String> {
        if models.len() > MODELS_IN_CATALOG_MAX {
            return Err(format!("at most {MODELS_IN_CATALOG_MAX} models"));
        }
        let mut by_id = HashMap::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (index, model) in models.iter().enumerate() {
            check(model)?;
            if by_id.insert(model.uuid(), index).is_some() {
                return Err(format!("the uuid {} is given twice", model.uuid()));
            }
            match by_name.get(model.canonical_name()) {
                Some(&other) if models[other].version() == model.version() => {
                    return Err(format!(
                        "{} version {} is given twice",
                        model.canonical_name(),
                        model.version()
                    ));
                }
                Some(&other) if models[other].version() > model.version() => {}
                _ => {
                    by_name.insert(model.canonical_name().to_owned(), index);
                }
            }
        }
        let latest: HashSet<usize> = by_name.values().copied().collect();
        let entries = (models.into_iter().enumerate())
            .map(|(index, model)| Entry {
                model,
                latest: latest.contains(&index),
            })
            .collect();
        Ok(Self {
            entries,
            by_id,
            by_name,
        })
    }

    /// The model with this id.
    pub fn get(&self, model_id: ModelId) -> Option<&Entry> {
        self.by_id.get(&model_id).map(|&index| &self.entries[index])
    }

    /// The latest model of this canonical name: what a metered request by that name used.
    pub fn by_canonical_name(&self, name: &str) -> Option<&Entry> {
        self.by_name.get(name).map(|&index| &self.entries[index])
    }

    /// The model a metered request names, by canonical name, as the command takes it.
    pub fn metered(&self, name: &str) -> Result<MeteredModel, DomainError> {
        let entry = self
            .by_canonical_name(name)
            .ok_or(DomainError::ModelNotFound)?;
        Ok(MeteredModel {
            name: ModelName::parse(name.to_owned())?,
            id: entry.model.uuid(),
            public: entry.model.public(),
        })
    }

    /// The id requests of the model `name` are shown with: the latest version's in the catalog,
    /// or one derived from the name (a UUID v5) for a model no longer in it.
    pub fn model_id_of(&self, name: &str) -> ModelId {
        match self.by_canonical_name(name) {
            Some(entry) => entry.model.uuid(),
            None => ModelId::from_uuid(uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_OID,
                name.as_bytes(),
            )),
        }
    }

    /// The model a usage filter names: by id, or by canonical name.
    pub fn resolve(&self, id_or_name: &str) -> Option<&Entry> {
        (id_or_name.parse().ok())
            .and_then(|model_id| self.get(model_id))
            .or_else(|| self.by_canonical_name(id_or_name))
    }

    /// The models `wanted` keeps, latest only unless `include_outdated`, in catalog order.
    pub fn list(&self, include_outdated: bool, wanted: impl Fn(&Entry) -> bool) -> ModelList {
        let mut list = ModelList::default();
        for entry in &self.entries {
            if !(include_outdated || entry.latest) || !wanted(entry) {
                continue;
            }
            match &entry.model {
                Model::Stt(model) => list.stt.push(model.clone()),
                Model::Tts(model) => list.tts.push(model.clone()),
            }
        }
        list
    }
}

/// The bounds every model's fields keep.
fn check(model: &Model) -> Result<(), String> {
    let uuid = model.uuid();
    let texts = [
        ("name", model.name()),
        ("canonical_name", model.canonical_name()),
        ("architecture", model.architecture()),
        ("version", model.version()),
    ];
    for (field, text) in texts {
        if text.trim().is_empty() || text.chars().count() > NAME_CHARS_MAX {
            return Err(format!(
                "{uuid}: {field} must be 1 to {NAME_CHARS_MAX} characters"
            ));
        }
    }
    if model.languages().len() > LANGUAGES_PER_MODEL_MAX {
        return Err(format!(
            "{uuid}: at most {LANGUAGES_PER_MODEL_MAX} languages"
        ));
    }
    if let Model::Tts(voice) = model {
        for uri in [&voice.metadata.image, &voice.metadata.sample]
            .into_iter()
            .flatten()
        {
            url::Url::parse(uri).map_err(|_| format!("{uuid}: {uri:?} is not a URI"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_catalog_meters_the_default_price_tables_models() {
        let catalog = ModelCatalog::default();
        let nova = catalog.by_canonical_name("nova-3").unwrap();
        assert!(nova.model.public() && nova.latest);
        assert_eq!(nova.model.version(), "2025-04-17.21547");
        assert!(matches!(nova.model, Model::Stt(_)));
        assert!(matches!(
            catalog.by_canonical_name("aura-2-thalia-en").unwrap().model,
            Model::Tts(_)
        ));
        // The older nova-3 is listed only with include_outdated.
        let latest = catalog.list(false, |_| true);
        let all = catalog.list(true, |_| true);
        assert_eq!(all.stt.len(), latest.stt.len() + 1);
        assert!(!latest.stt.iter().any(|m| m.version == "2025-02-12.19893"));
    }

    #[test]
    fn a_model_resolves_by_uuid_or_canonical_name() {
        let catalog = ModelCatalog::default();
        let nova = catalog.by_canonical_name("nova-3").unwrap().model.uuid();
        assert_eq!(
            catalog.resolve(&nova.to_string()).unwrap().model.uuid(),
            nova
        );
        assert_eq!(catalog.resolve("nova-3").unwrap().model.uuid(), nova);
        assert!(catalog.resolve("nova-9").is_none());
    }

    #[test]
    fn a_bad_catalog_is_refused_with_the_reason() {
        let model = |uuid: &str, version: &str| {
            format!(
                r#"{{"name": "general", "canonical_name": "nova-3", "architecture": "nova-3",
                "languages": ["en"], "version": "{version}", "uuid": "{uuid}", "batch": true,
                "streaming": true, "formatted_output": true}}"#
            )
        };
        let a = "0190a6b0-0000-7000-8000-000000000001";
        let b = "0190a6b0-0000-7000-8000-000000000002";
        let twice = format!(r#"{{"stt": [{}, {}]}}"#, model(a, "1"), model(a, "2"));
        assert!(ModelCatalog::from_json(&twice)
            .unwrap_err()
            .contains("given twice"));
        let same_version = format!(r#"{{"stt": [{}, {}]}}"#, model(a, "1"), model(b, "1"));
        assert!(ModelCatalog::from_json(&same_version)
            .unwrap_err()
            .contains("version 1 is given twice"));
        let bad_uri = format!(
            r#"{{"tts": [{{"name": "x", "canonical_name": "x", "architecture": "x",
            "languages": [], "version": "1", "uuid": "{a}", "metadata": {{"image": "not a uri"}}}}]}}"#
        );
        assert!(ModelCatalog::from_json(&bad_uri)
            .unwrap_err()
            .contains("is not a URI"));
        assert!(ModelCatalog::from_json(r#"{"stt": [], "voices": []}"#).is_err());
    }

    #[test]
    fn access_is_the_default_unless_overridden() {
        let catalog = ModelCatalog::default();
        let mut public = catalog.by_canonical_name("nova-3").unwrap().model.clone();
        let id = public.uuid();
        let mut overrides = AccessOverrides::new();
        assert!(may_use(&overrides, &public));
        overrides.insert(id, false);
        assert!(!may_use(&overrides, &public));
        if let Model::Stt(model) = &mut public {
            model.public = false;
        }
        let private = public;
        overrides.clear();
        assert!(!may_use(&overrides, &private));
        overrides.insert(id, true);
        assert!(may_use(&overrides, &private));
    }
}
