//! A bundle with 50 MB of evidence is written without holding the evidence in memory.
//! In its own test binary: the measuring allocator counts every allocation of the process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::process::Command;

use casefile_documents::{write_bundle, BundleInput, ChainSummary, Organisation, SchemeContact};
use casefile_domain::command::{Action, AttachEvidence};
use casefile_domain::Scheme;
use casefile_projections::case_view::EvidenceView;
use sha2::{Digest, Sha256};
use support::{actor, date, day, Story};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const SIZE: u64 = 50 * 1024 * 1024;

/// `len` bytes of a xorshift stream, made as they are read: nothing is stored.
struct Generated {
    state: u64,
    left: u64,
}

impl Generated {
    fn new(len: u64) -> Self {
        Self {
            state: 0x9E37_79B9_7F4A_7C15,
            left: len,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.left as usize);
        for byte in &mut buf[..n] {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *byte = (self.state >> 24) as u8;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn sha256_of(mut reader: impl Read) -> String {
    let mut hasher = Sha256::new();
    io::copy(&mut reader, &mut hasher).unwrap();
    hex::encode(hasher.finalize())
}

#[test]
fn fifty_megabytes_of_evidence_stream_through_a_few_megabytes_of_heap() {
    let sha256 = sha256_of(Generated::new(SIZE));
    let mut story = Story::log("chc-2024", day(3, 3), "Mould in every room", "");
    story.act(
        day(3, 4),
        &actor("u-handler", "Sam Handler"),
        "handler",
        Action::AttachEvidence(AttachEvidence {
            name: "walkthrough.mp4".into(),
            media_type: "video/mp4".into(),
            size_bytes: SIZE,
            sha256: sha256.clone(),
            description: None,
            occurred_at: None,
            stored: true,
        }),
    );
    let stream = story.stream();
    let input = BundleInput {
        case: story.view(date(3, 4)),
        events: story.events.clone(),
        chain: ChainSummary {
            events: stream.len() as u64,
            digest: stream.last().unwrap().hash.clone(),
        },
        stream,
        letters: Vec::new(),
        held_evidence: BTreeSet::from(["ev-1".to_string()]),
        organisation: Organisation::named("Northfield Homes"),
        scheme: SchemeContact::builtin(Scheme::HousingOmbudsman),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.zip");
    let file = std::fs::File::create(&path).unwrap();

    let profiler = dhat::Profiler::builder().testing().build();
    let mut source = |_: &EvidenceView| Ok(Generated::new(SIZE));
    write_bundle(file, &input, &mut source).unwrap();
    let peak = dhat::HeapStats::get().max_bytes;
    drop(profiler);

    assert!(
        peak < 8 * 1024 * 1024,
        "writing the bundle peaked at {peak} bytes of heap for {SIZE} bytes of evidence"
    );
    let written = std::fs::metadata(&path).unwrap().len();
    assert!(
        written > SIZE,
        "random bytes do not deflate: the archive holds them all"
    );

    // Independently: the system `unzip` gives back the very bytes recorded.
    let Ok(mut unzip) = Command::new("unzip")
        .arg("-p")
        .arg(&path)
        .arg("evidence/ev-1-walkthrough.mp4")
        .stdout(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("SKIPPED: the system `unzip` is needed to check the extracted evidence");
        return;
    };
    let extracted = sha256_of(unzip.stdout.take().unwrap());
    assert!(unzip.wait().unwrap().success());
    assert_eq!(extracted, sha256);
}
