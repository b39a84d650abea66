//! The ombudsman bundle of one case, assembled from the store: the one function the
//! service's `GET …/bundle` and `casefile-replay export` both call, so that the two give
//! the same bytes.
//!
//! Everything comes from one read of the case's event rows: the case view is folded from
//! them (not read from the read models, which a later commit may have moved on), the
//! letters are the `LetterIssued` events, and the chain digest is checked against the rows
//! before anything is written. Evidence content is read from the store a chunk at a time
//! while the archive is written, so a case with large files needs no more memory than one
//! without.

use std::collections::BTreeSet;
use std::io::{self, Read, Seek, Write};
use std::time::Duration;

pub use casefile_documents::Organisation;
use casefile_documents::{
    write_bundle, BundleError, BundleInput, BundleLetter, ChainSummary, RenderedLetter,
    SchemeContact, StreamLine,
};
use casefile_domain::procedure::Scheme;
use casefile_domain::{Calendar, ComplaintEvent};
use casefile_projections::case_view::EvidenceView;
use casefile_projections::CaseView;
use chrono::NaiveDate;

use crate::events::{EventRow, LoadError};
use crate::evidence::CHUNK_BYTES;
use crate::Store;

/// How long to wait for the sequencer to give a just-committed event its global position
/// (PostgreSQL gives it moments after the commit); `events.jsonl` carries positions.
const POSITION_WAIT: Duration = Duration::from_secs(10);

/// What a bundle is made for besides the case.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    pub organisation: Organisation,
    /// The scheme heading the case file; the case's procedure's first scheme if `None`.
    pub scheme: Option<Scheme>,
    /// The day the case's deadlines are stated for (UK date): the day of the export.
    pub today: NaiveDate,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no case with id {0}")]
    NoSuchCase(String),
    #[error("case {id}: its hash chain is broken at sequence {sequence} ({problem}); run `casefile-replay verify --case {id}`")]
    ChainBroken {
        id: String,
        sequence: u64,
        problem: String,
    },
    #[error("case {0}: its latest events have not been given positions yet; try again")]
    Unsequenced(String),
    #[error("case {id}: evidence {evidence_id} was uploaded but its content is no longer in the store; run `casefile-replay verify --case {id}`")]
    EvidenceMissing { id: String, evidence_id: String },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

impl From<sqlx::Error> for ExportError {
    fn from(err: sqlx::Error) -> Self {
        Self::Load(LoadError::Database(err))
    }
}

impl ExportError {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSuchCase(_) => "not_found",
            Self::ChainBroken { .. } => "chain_broken",
            Self::Unsequenced(_) => "not_sequenced",
            Self::EvidenceMissing { .. } => "evidence_missing",
            Self::Load(_) => "internal",
            Self::Bundle(err) => err.code(),
        }
    }
}

/// Who letters and bundles speak for: the organisation file (`CASEFILE_ORGANISATION`,
/// TOML with `name`, `address`, `email`, `phone`), or, without one, a bare name.
pub fn load_organisation(path: Option<&std::path::Path>) -> Result<Organisation, String> {
    let Some(path) = path else {
        return Ok(Organisation::named(DEFAULT_ORGANISATION));
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The name letters are signed with when no organisation file is given.
pub const DEFAULT_ORGANISATION: &str = "Casefile";

impl Store {
    /// Everything the bundle of case `id` holds except the evidence content.
    pub async fn bundle_input(
        &self,
        id: &str,
        calendar: &Calendar,
        options: &BundleOptions,
    ) -> Result<BundleInput, ExportError> {
        let rows = self.sequenced_rows(id).await?;
        let events = rows
            .iter()
            .map(EventRow::decode)
            .collect::<Result<Vec<_>, _>>()?;
        let case = CaseView::build(id, &events, calendar, options.today)
            .ok_or_else(|| ExportError::NoSuchCase(id.to_string()))?;

        let chain_rows = rows
            .iter()
            .map(EventRow::chain_row)
            .collect::<Result<Vec<_>, _>>()?;
        let verdict = crate::chain::verify(id, &chain_rows, None);
        if let Some(broken) = verdict.first_break {
            let problem = serde_json::to_value(broken.problem)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            return Err(ExportError::ChainBroken {
                id: id.to_string(),
                sequence: broken.sequence,
                problem,
            });
        }

        let mut stream = Vec::with_capacity(rows.len());
        for (row, chain) in rows.iter().zip(chain_rows) {
            stream.push(StreamLine {
                position: u64::try_from(row.position.unwrap_or_default()).unwrap_or_default(),
                sequence: chain.sequence,
                event_type: chain.event_type,
                event_version: chain.event_version,
                payload: chain.payload,
                metadata: chain.metadata,
                recorded_at: row.recorded_at()?,
                hash: chain.hash.unwrap_or_default(),
            });
        }

        let mut letters = Vec::new();
        let mut procedure_scheme = None;
        for recorded in &events {
            match &recorded.event {
                ComplaintEvent::Logged { procedure, .. } => {
                    procedure_scheme = procedure.redress.schemes.first().copied();
                }
                ComplaintEvent::LetterIssued {
                    occurred_at,
                    by,
                    letter_id,
                    kind,
                    subject,
                    html,
                    text,
                } => letters.push(BundleLetter {
                    letter_id: letter_id.clone(),
                    issued_at: *occurred_at,
                    by: by.clone(),
                    letter: RenderedLetter {
                        kind: *kind,
                        subject: subject.clone(),
                        html: html.clone(),
                        text: text.clone(),
                    },
                }),
                _ => {}
            }
        }

        let mut held_evidence = BTreeSet::new();
        for evidence in &case.evidence {
            if self.has_evidence_blob(&evidence.sha256).await? {
                held_evidence.insert(evidence.evidence_id.clone());
            }
        }
        // A file recorded by its metadata only is listed without content; one uploaded into
        // the store and gone from it would leave the bundle silently short.
        for recorded in &events {
            if let ComplaintEvent::EvidenceAttached {
                evidence_id,
                stored: true,
                ..
            } = &recorded.event
            {
                if !held_evidence.contains(evidence_id) {
                    return Err(ExportError::EvidenceMissing {
                        id: id.to_string(),
                        evidence_id: evidence_id.clone(),
                    });
                }
            }
        }

        let scheme = options
            .scheme
            .or(procedure_scheme)
            .unwrap_or(Scheme::HousingOmbudsman);
        Ok(BundleInput {
            case,
            events,
            stream,
            chain: ChainSummary {
                events: verdict.events,
                digest: verdict.digest,
            },
            letters,
            held_evidence,
            organisation: options.organisation.clone(),
            scheme: SchemeContact::builtin(scheme),
        })
    }

    /// Writes the bundle of `input` to `out`, reading evidence from the store as it goes.
    /// Blocking: call it from a blocking thread of the runtime (`spawn_blocking`), which it
    /// re-enters for each chunk of evidence.
    pub fn write_bundle_blocking<W: Write + Seek>(
        &self,
        out: W,
        input: &BundleInput,
        runtime: tokio::runtime::Handle,
    ) -> Result<W, ExportError> {
        let mut source = |evidence: &EvidenceView| -> io::Result<BlobReader> {
            Ok(BlobReader {
                store: self.clone(),
                runtime: runtime.clone(),
                sha256: evidence.sha256.clone(),
                offset: 0,
                chunk: Vec::new(),
                at: 0,
                done: false,
            })
        };
        Ok(write_bundle(out, input, &mut source)?)
    }

    /// The case's rows once each has its global position (at once on SQLite).
    async fn sequenced_rows(&self, id: &str) -> Result<Vec<EventRow>, ExportError> {
        let started = std::time::Instant::now();
        loop {
            let rows = self.case_rows_after(id, 0).await?;
            if rows.is_empty() {
                return Err(ExportError::NoSuchCase(id.to_string()));
            }
            if rows.iter().all(|r| r.position.is_some()) {
                return Ok(rows);
            }
            if started.elapsed() > POSITION_WAIT {
                return Err(ExportError::Unsequenced(id.to_string()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Evidence content read from the store one chunk at a time.
struct BlobReader {
    store: Store,
    runtime: tokio::runtime::Handle,
    sha256: String,
    /// Where the next chunk starts in the file.
    offset: u64,
    chunk: Vec<u8>,
    /// How much of `chunk` has been read.
    at: usize,
    done: bool,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            let next = self
                .runtime
                .block_on(
                    self.store
                        .evidence_chunk(&self.sha256, self.offset, CHUNK_BYTES),
                )
                .map_err(io::Error::other)?
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "the content is no longer stored")
                })?;
            self.offset += next.len() as u64;
            self.done = (next.len() as u64) < CHUNK_BYTES;
            self.chunk = next;
            self.at = 0;
            if self.chunk.is_empty() {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
