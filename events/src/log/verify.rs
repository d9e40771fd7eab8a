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
        let mut versions: HashMap<StreamId, u64> = HashMap::new();
        let mut events = 0u64;
        for record in self.read_from(1) {
            let envelope = record?;
            let version = versions.entry(envelope.stream).or_insert(0);
            if envelope.stream_version != *version + 1 {
                return Err(LogError::Corrupt {
                    position: envelope.position,
                    reason: format!(
                        "{} version {} follows version {}",
                        envelope.stream, envelope.stream_version, version
                    ),
                });
            }
            *version = envelope.stream_version;
            let indexed = self.indexed_position(envelope.stream, envelope.stream_version)?;
            if indexed != Some(envelope.position) {
                return Err(LogError::Corrupt {
                    position: envelope.position,
                    reason: "the stream index does not point at this record".into(),
                });
            }
            if let Event::UsageRecorded {
                project_id,
                request_id,
                ..
            } = &envelope.event
            {
                if self.request_position(*project_id, *request_id)? != Some(envelope.position) {
                    return Err(LogError::Corrupt {
                        position: envelope.position,
                        reason: format!("the request index does not point at {request_id}"),
                    });
                }
            }
            events += 1;
            checked(envelope.position);
        }
        if events != self.head() {
            return Err(LogError::Corrupt {
                position: events + 1,
                reason: format!(
                    "the log's head is {}, but {events} records read",
                    self.head()
                ),
            });
        }
        Ok(VerifyReport {
            events,
            streams: versions.len() as u64,
        })
    }
}
