//! Golden byte fixtures: the stored form of every event variant, frozen.
//!
//! A failure here means a stored shape changed. Do not re-bless the fixture: old records in
//! every deployed log have the old shape. Add a new variant or schema version and an upcaster
//! (see `codec.rs`). Set `STEWARD_BLESS_GOLDEN=1` only to write the fixture of a *new* variant.

mod support;

use std::{collections::BTreeSet, fs, path::PathBuf};
use steward_events::{codec, Event};
use support::{sample_envelope, samples};

fn fixture_path(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/v1")
        .join(format!("{kind}.hex"))
}

#[test]
fn every_variant_has_a_sample() {
    let sampled: BTreeSet<&str> = samples().iter().map(Event::kind).collect();
    let known: BTreeSet<&str> = Event::KINDS.iter().copied().collect();
    assert_eq!(sampled, known);
    assert_eq!(
        samples().len(),
        Event::KINDS.len(),
        "one sample per variant"
    );

    // bincode writes the variant index first. Every index below the sample count is sampled
    // (checked above through the kinds); the next one must not decode, which proves no variant
    // exists beyond the samples, even one missing from `KINDS`.
    let config = bincode::config::standard();
    let mut bytes = bincode::serde::encode_to_vec(&samples()[1], config).unwrap();
    assert!(samples().len() < 251, "variant index fits one varint byte");
    bytes[0] = samples().len() as u8;
    assert!(bincode::serde::decode_from_slice::<Event, _>(&bytes, config).is_err());
}

#[test]
fn every_variant_matches_its_golden_bytes() {
    let bless = std::env::var_os("STEWARD_BLESS_GOLDEN").is_some();
    for (index, event) in samples().into_iter().enumerate() {
        let kind = event.kind();
        let envelope = sample_envelope(index as u64 + 1, event);
        let encoded = hex::encode(codec::encode(&envelope).unwrap());
        let path = fixture_path(kind);
        let golden = match fs::read_to_string(&path) {
            Ok(text) => text.trim().to_owned(),
            Err(_) if bless => {
                fs::write(&path, format!("{encoded}\n")).unwrap();
                encoded.clone()
            }
            Err(error) => panic!(
                "no golden fixture for {kind} at {}: {error}",
                path.display()
            ),
        };
        assert_eq!(
            encoded, golden,
            "the stored shape of {kind} changed: add an upcaster instead"
        );
        let decoded = codec::decode(envelope.position, &hex::decode(&golden).unwrap()).unwrap();
        assert_eq!(
            decoded, envelope,
            "{kind}'s golden bytes no longer decode to the sample"
        );
    }
}
