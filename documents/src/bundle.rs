//! The bundle an ombudsman receives: one zip with the readable case file, the case as
//! JSON, the raw event stream with its hashes, every evidence file and letter, the chain
//! digest, and `SHA256SUMS` over all of them.
//!
//! The same input always gives the same bytes: entries in byte order of their paths,
//! every one stamped 1980-01-01 00:00:00 with mode 0644, deflated at a fixed level, and
//! nothing in any file depends on when it was written. Evidence is streamed from the
//! caller's reader in fixed-size chunks, so a case with gigabytes of evidence needs no
//! more memory than one without.
//!
//! `SHA256SUMS` comes first (upper case sorts before lower case) and lists each evidence
//! file under the SHA-256 recorded when it was attached; the content streamed in is
//! checked against that record and a mismatch fails the export rather than shipping a
//! file that no longer matches the trail.

mod case_file;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Seek, Write};

use casefile_domain::values::Actor;
use casefile_projections::case_view::EvidenceView;
use casefile_projections::{CaseView, RecordedEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::contact::{Organisation, SchemeContact};
use crate::letters::RenderedLetter;

/// One event as the store holds it, in the form `events.jsonl` gives it: its global
/// position, its sequence in the case, its type and version, the payload and metadata as
/// stored, when it was recorded and its hash-chain link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamLine {
    pub position: u64,
    pub sequence: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(rename = "version")]
    pub event_version: String,
    pub payload: serde_json::Value,
    pub metadata: serde_json::Value,
    pub recorded_at: DateTime<Utc>,
    /// Lower-case hex SHA-256 chaining this event to the one before it.
    pub hash: String,
}

/// The case's hash chain as the store verified it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainSummary {
    pub events: u64,
    /// Hex of the last event's hash.
    pub digest: String,
}

/// A letter sent on the case, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleLetter {
    pub letter_id: String,
    pub issued_at: DateTime<Utc>,
    pub by: Actor,
    pub letter: RenderedLetter,
}

/// Everything a bundle holds except the evidence content, which is read while writing.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleInput {
    /// The case as it stands (for `case.json` and the case file).
    pub case: CaseView,
    /// The case's events, decoded, in sequence order: the case file's timeline.
    pub events: Vec<RecordedEvent>,
    /// The same events as stored: `events.jsonl`.
    pub stream: Vec<StreamLine>,
    pub chain: ChainSummary,
    pub letters: Vec<BundleLetter>,
    /// Ids of the evidence whose content the store holds; the rest was recorded by
    /// metadata only (kept elsewhere) and is listed in the case file but not included.
    pub held_evidence: BTreeSet<String>,
    pub organisation: Organisation,
    /// The scheme whose name and address head the case file.
    pub scheme: SchemeContact,
}

/// Where evidence content comes from: opened once per held evidence file, in path order,
/// and read to the end before the next is opened.
pub trait EvidenceSource {
    type Reader: Read;

    fn open(&mut self, evidence: &EvidenceView) -> io::Result<Self::Reader>;
}

impl<F, R> EvidenceSource for F
where
    F: FnMut(&EvidenceView) -> io::Result<R>,
    R: Read,
{
    type Reader = R;

    fn open(&mut self, evidence: &EvidenceView) -> io::Result<R> {
        self(evidence)
    }
}

/// A bundle that cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("the event stream does not match the case: {0}")]
    StreamMismatch(String),
    #[error("the chain summary does not match the event stream: {0}")]
    ChainMismatch(String),
    #[error("two files would share the path `{0}`")]
    DuplicatePath(String),
    #[error("evidence {evidence_id} could not be read: {message}")]
    EvidenceUnreadable {
        evidence_id: String,
        message: String,
    },
    #[error(
        "evidence {evidence_id} does not match its record: {found_size} bytes with SHA-256 \
         {found_sha256}, recorded as {expected_size} bytes with {expected_sha256}"
    )]
    EvidenceMismatch {
        evidence_id: String,
        expected_size: u64,
        expected_sha256: String,
        found_size: u64,
        found_sha256: String,
    },
    #[error("the case file could not be rendered: {0}")]
    CaseFile(String),
    #[error("writing the archive failed: {0}")]
    Write(String),
}

impl BundleError {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::StreamMismatch(_) => "stream_mismatch",
            Self::ChainMismatch(_) => "chain_mismatch",
            Self::DuplicatePath(_) => "duplicate_path",
            Self::EvidenceUnreadable { .. } => "evidence_unreadable",
            Self::EvidenceMismatch { .. } => "evidence_mismatch",
            Self::CaseFile(_) => "case_file_failed",
            Self::Write(_) => "write_failed",
        }
    }
}

impl From<zip::result::ZipError> for BundleError {
    fn from(err: zip::result::ZipError) -> Self {
        Self::Write(err.to_string())
    }
}

impl From<io::Error> for BundleError {
    fn from(err: io::Error) -> Self {
        Self::Write(err.to_string())
    }
}

/// The checksum file's name.
pub const SHA256SUMS: &str = "SHA256SUMS";

/// Evidence is copied through a buffer of this size: the most of it held at once.
const CHUNK: usize = 64 * 1024;

enum Content<'a> {
    Bytes(Vec<u8>),
    Evidence(&'a EvidenceView),
}

struct Entry<'a> {
    sha256: String,
    content: Content<'a>,
}

/// Writes the bundle of `input` to `out`, reading each held evidence file from
/// `evidence`, and hands `out` back positioned at the archive's end.
pub fn write_bundle<W, S>(out: W, input: &BundleInput, evidence: &mut S) -> Result<W, BundleError>
where
    W: Write + Seek,
    S: EvidenceSource,
{
    check_consistency(input)?;
    let entries = entries(input)?;

    let mut zip = ZipWriter::new(out);
    let mut buffer = vec![0u8; CHUNK];
    for (path, entry) in &entries {
        let size = match &entry.content {
            Content::Bytes(bytes) => bytes.len() as u64,
            Content::Evidence(view) => view.size_bytes,
        };
        zip.start_file(path.as_str(), options(size))?;
        match &entry.content {
            Content::Bytes(bytes) => zip.write_all(bytes)?,
            Content::Evidence(view) => copy_evidence(view, evidence, &mut zip, &mut buffer)?,
        }
    }
    Ok(zip.finish()?)
}

/// The same options for every entry, so nothing varies but the content.
fn options(size: u64) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644)
        .large_file(size >= u64::from(u32::MAX))
}

/// Streams one evidence file into the open entry, checking it against its record.
fn copy_evidence<S: EvidenceSource, W: Write>(
    view: &EvidenceView,
    source: &mut S,
    out: &mut W,
    buffer: &mut [u8],
) -> Result<(), BundleError> {
    let unreadable = |err: io::Error| BundleError::EvidenceUnreadable {
        evidence_id: view.evidence_id.clone(),
        message: err.to_string(),
    };
    let mut reader = source.open(view).map_err(unreadable)?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    loop {
        let n = match reader.read(buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(unreadable(err)),
        };
        hasher.update(&buffer[..n]);
        out.write_all(&buffer[..n])?;
        size += n as u64;
    }
    let found = hex::encode(hasher.finalize());
    if found != view.sha256.to_ascii_lowercase() || size != view.size_bytes {
        return Err(BundleError::EvidenceMismatch {
            evidence_id: view.evidence_id.clone(),
            expected_size: view.size_bytes,
            expected_sha256: view.sha256.clone(),
            found_size: size,
            found_sha256: found,
        });
    }
    Ok(())
}

/// The decoded events, the stored stream, the chain and the case view must describe the
/// same history; a bundle mixing two moments would be worse than none.
fn check_consistency(input: &BundleInput) -> Result<(), BundleError> {
    let decoded: Vec<u64> = input.events.iter().map(|e| e.sequence).collect();
    let stored: Vec<u64> = input.stream.iter().map(|l| l.sequence).collect();
    if decoded != stored {
        return Err(BundleError::StreamMismatch(format!(
            "{} decoded events and {} stored ones, or their sequences differ",
            decoded.len(),
            stored.len()
        )));
    }
    let last = stored.last().copied().unwrap_or(0);
    if input.case.version != last {
        return Err(BundleError::StreamMismatch(format!(
            "the case view is at version {} but the stream ends at {last}",
            input.case.version
        )));
    }
    if input.chain.events != stored.len() as u64 {
        return Err(BundleError::ChainMismatch(format!(
            "{} events in the chain, {} in the stream",
            input.chain.events,
            stored.len()
        )));
    }
    let last_hash = input.stream.last().map(|l| l.hash.as_str()).unwrap_or("");
    if !input.chain.digest.eq_ignore_ascii_case(last_hash) {
        return Err(BundleError::ChainMismatch(format!(
            "the digest {} is not the last event's hash {last_hash}",
            input.chain.digest
        )));
    }
    Ok(())
}

/// Every file of the bundle by path, `SHA256SUMS` included.
fn entries(input: &BundleInput) -> Result<BTreeMap<String, Entry<'_>>, BundleError> {
    let mut entries = BTreeMap::new();
    let evidence_paths = evidence_paths(input);
    let mut files: Vec<(String, Content<'_>)> = Vec::new();
    files.push((
        "case.html".into(),
        Content::Bytes(case_file::render(input, &evidence_paths)?.into_bytes()),
    ));
    let mut json = serde_json::to_vec_pretty(&input.case)
        .map_err(|err| BundleError::CaseFile(err.to_string()))?;
    json.push(b'\n');
    files.push(("case.json".into(), Content::Bytes(json)));
    files.push(("events.jsonl".into(), Content::Bytes(events_jsonl(input)?)));
    files.push((
        "chain.txt".into(),
        Content::Bytes(chain_txt(input).into_bytes()),
    ));
    for letter in &input.letters {
        let (html, text) = letter_paths(letter);
        files.push((
            html,
            Content::Bytes(letter.letter.html.clone().into_bytes()),
        ));
        files.push((
            text,
            Content::Bytes(letter.letter.text.clone().into_bytes()),
        ));
    }
    for (view, path) in input.case.evidence.iter().zip(evidence_paths) {
        if let Some(path) = path {
            files.push((path, Content::Evidence(view)));
        }
    }

    for (path, content) in files {
        let sha256 = match &content {
            Content::Bytes(bytes) => hex::encode(Sha256::digest(bytes)),
            Content::Evidence(view) => view.sha256.to_ascii_lowercase(),
        };
        if path == SHA256SUMS || entries.contains_key(&path) {
            return Err(BundleError::DuplicatePath(path));
        }
        entries.insert(path, Entry { sha256, content });
    }

    // The format `sha256sum -c` reads: hash, two spaces (text mode), path, newline.
    let sums: String = entries
        .iter()
        .map(|(path, entry)| format!("{}  {path}\n", entry.sha256))
        .collect();
    let sums = sums.into_bytes();
    entries.insert(
        SHA256SUMS.to_string(),
        Entry {
            sha256: hex::encode(Sha256::digest(&sums)),
            content: Content::Bytes(sums),
        },
    );
    Ok(entries)
}

/// Each evidence file's path in the bundle, in the case view's order; `None` for
/// evidence whose content the store does not hold.
fn evidence_paths(input: &BundleInput) -> Vec<Option<String>> {
    input
        .case
        .evidence
        .iter()
        .map(|view| {
            input.held_evidence.contains(&view.evidence_id).then(|| {
                format!(
                    "evidence/{}-{}",
                    safe_name(&view.evidence_id),
                    safe_name(&view.name)
                )
            })
        })
        .collect()
}

/// The HTML and text files of a letter.
fn letter_paths(letter: &BundleLetter) -> (String, String) {
    let stem = format!(
        "letters/{}-{}",
        safe_name(&letter.letter_id),
        letter.letter.kind.as_str()
    );
    (format!("{stem}.html"), format!("{stem}.txt"))
}

fn events_jsonl(input: &BundleInput) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::new();
    for line in &input.stream {
        serde_json::to_writer(&mut out, line).map_err(|err| BundleError::Write(err.to_string()))?;
        out.push(b'\n');
    }
    Ok(out)
}

fn chain_txt(input: &BundleInput) -> String {
    format!(
        "case: {}\nreference: {}\nevents: {}\ndigest: {}\n\n\
         The digest is the hash of the case's last event. Each event's hash covers the hash\n\
         of the event before it, so the digest vouches for the whole stream in events.jsonl.\n",
        input.case.id, input.case.reference, input.chain.events, input.chain.digest
    )
}

/// A file name every unzip tool and `sha256sum -c` take as it is: ASCII letters, digits,
/// `.`, `-` and `_` only, never hidden, at most 100 characters. Anything else the user
/// typed becomes `_`.
fn safe_name(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.starts_with('.') {
        safe.insert(0, '_');
    }
    if safe.is_empty() {
        safe.push_str("file");
    }
    if safe.len() > 100 {
        // Keep the extension, which says how to open the file.
        let extension = safe
            .rfind('.')
            .filter(|&dot| safe.len() - dot <= 10)
            .map(|dot| safe[dot..].to_string())
            .unwrap_or_default();
        safe.truncate(100 - extension.len());
        safe.push_str(&extension);
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_safe_name_keeps_plain_names_and_defuses_the_rest() {
        assert_eq!(safe_name("photo-1.jpg"), "photo-1.jpg");
        assert_eq!(safe_name("../../etc/passwd"), "_.._.._etc_passwd");
        assert_eq!(safe_name(".hidden"), "_.hidden");
        assert_eq!(safe_name("damp wall (1).jpg"), "damp_wall__1_.jpg");
        assert_eq!(safe_name("fenêtre\n.png"), "fen_tre_.png");
        assert_eq!(safe_name(""), "file");
        let long = format!("{}.pdf", "a".repeat(300));
        let safe = safe_name(&long);
        assert_eq!(safe.len(), 100);
        assert!(safe.ends_with("a.pdf"));
    }
}
