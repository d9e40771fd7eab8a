//! Verifying a whole log: positions, records, stream versions and both indexes.

use super::*;

impl SledLog {
    /// Reads the whole log and checks it: positions gap-free from 1, every record decodes,
    /// stream versions contiguous from 1, and the stream and request indexes agree with the
    /// records.
    pub fn verify(&self) -> Result<VerifyReport, LogError> {
        self.verify_observed(|_| {})
    }

    /// `verify`, telling `checked` each position once its record passed.
    pub fn verify_observed(&self, mut checked: impl FnMut(u64)) -> Result<VerifyReport, LogError> {
        self.indexer.sync()?;
        let mut stream_index = |envelope: &Envelope| {
            let indexed = self.indexed_position(envelope.stream, envelope.stream_version)?;
            if indexed != Some(envelope.position) {
                return Err(LogError::Corrupt {
                    position: envelope.position,
                    reason: "the stream index does not point at this record".into(),
                });
            }
            Ok(())
        };
        Ok(contract::walk(self, self.head(), &mut checked, &mut stream_index)?.report)
    }
}
