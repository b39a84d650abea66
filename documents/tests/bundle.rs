//! The bundle unzips with the system's `unzip`, passes `sha256sum -c`, is byte-identical
//! when exported twice, and carries the case file an ombudsman reads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Cursor, Read};
use std::path::Path;
use std::process::Command;

use casefile_documents::format;
use casefile_documents::{
    write_bundle, BundleError, BundleInput, BundleLetter, ChainSummary, LetterContext, LetterKind,
    Letters, Organisation, SchemeContact,
};
use casefile_domain::command::{
    AcknowledgeComplaint, Action, AssignOwner, AttachEvidence, CloseComplaint, CompleteAction,
    DefineComplaint, Escalate, ExtendDeadline, LearningEntry, NoteKind, RecordNote, RespondToStage,
};
use casefile_domain::values::{Direction, Outcome, Remedy, Stage};
use casefile_domain::Scheme;
use casefile_projections::case_view::EvidenceView;
use sha2::{Digest, Sha256};
use support::{actor, date, day, Story};

/// Bytes that do not compress away: a xorshift stream from `seed`.
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

struct Fixture {
    input: BundleInput,
    files: BTreeMap<String, Vec<u8>>,
}

impl Fixture {
    /// Opens held evidence from memory, by id.
    fn source(&self) -> impl FnMut(&EvidenceView) -> io::Result<Cursor<Vec<u8>>> + '_ {
        |view| {
            self.files
                .get(&view.evidence_id)
                .map(|bytes| Cursor::new(bytes.clone()))
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such evidence"))
        }
    }

    fn write(&self) -> Vec<u8> {
        write_bundle(Cursor::new(Vec::new()), &self.input, &mut self.source())
            .unwrap()
            .into_inner()
    }
}

fn respond(outcome: Outcome, decision: &str) -> RespondToStage {
    RespondToStage {
        outcome,
        decision: decision.into(),
        reasons: "The repair was booked late and an appointment was missed".into(),
        remedy: Remedy {
            actions: vec!["Replace the boiler".into()],
            compensation_pence: 15_000,
        },
        outstanding_actions: vec!["Check the radiators".into()],
        occurred_at: None,
    }
}

/// A case through both stages, with a photo held by the store, a report kept elsewhere,
/// an extension, a late Stage 2 response, correspondence, two letters and a closure.
fn fixture() -> Fixture {
    let handler = actor("u-handler", "Sam Handler");
    let reviewer = actor("u-reviewer", "Jo Reviewer");
    let photo = content(7, 150_000);
    let report = content(8, 2_000);

    let mut story = Story::log(
        "chc-2024",
        day(3, 3),
        "No heating since the boiler failed",
        "The boiler has failed three times since January",
    );
    story
        .act(
            day(3, 3),
            &handler,
            "manager",
            Action::AssignOwner(AssignOwner {
                owner: handler.clone(),
                occurred_at: None,
            }),
        )
        .act(
            day(3, 4),
            &handler,
            "handler",
            Action::Acknowledge(AcknowledgeComplaint::default()),
        )
        .act(
            day(3, 5),
            &handler,
            "handler",
            Action::AttachEvidence(AttachEvidence {
                name: "damp wall (1).jpg".into(),
                media_type: "image/jpeg".into(),
                size_bytes: photo.len() as u64,
                sha256: hex::encode(Sha256::digest(&photo)),
                description: None,
                occurred_at: None,
                stored: true,
            }),
        )
        .act(
            day(3, 5),
            &handler,
            "handler",
            Action::AttachEvidence(AttachEvidence {
                name: "engineer report.pdf".into(),
                media_type: "application/pdf".into(),
                size_bytes: report.len() as u64,
                sha256: hex::encode(Sha256::digest(&report)),
                description: None,
                occurred_at: None,
                stored: true,
            }),
        )
        .act(
            day(3, 6),
            &handler,
            "handler",
            Action::RecordNote(RecordNote {
                kind: NoteKind::Correspondence,
                text: "Called to arrange an engineer visit".into(),
                direction: Some(Direction::Outbound),
                channel: None,
                occurred_at: None,
            }),
        )
        .act(
            day(3, 10),
            &handler,
            "handler",
            Action::ExtendDeadline(ExtendDeadline {
                working_days: 5,
                reason: "Waiting for the manufacturer's report".into(),
                resident_informed_on: None,
                occurred_at: None,
            }),
        )
        .act(
            day(3, 12),
            &handler,
            "handler",
            Action::RespondStage1(respond(Outcome::PartlyUpheld, "We will replace the boiler")),
        )
        .act(
            day(3, 17),
            &handler,
            "handler",
            Action::Escalate(Escalate {
                reason: "The boiler is still broken".into(),
                occurred_at: None,
            }),
        )
        .act(
            day(3, 18),
            &reviewer,
            "manager",
            Action::AcknowledgeStage2(AcknowledgeComplaint::default()),
        )
        .act(
            day(3, 19),
            &reviewer,
            "manager",
            Action::Define(DefineComplaint {
                stage: Stage::Stage2,
                definition: "The boiler is still broken after the Stage 1 repair".into(),
                outcomes_sought: vec!["A new boiler".into()],
                occurred_at: None,
            }),
        )
        .act(
            day(4, 30),
            &reviewer,
            "manager",
            Action::RespondStage2(respond(Outcome::Upheld, "We uphold the complaint in full")),
        )
        .act(
            day(5, 1),
            &handler,
            "handler",
            Action::CompleteAction(CompleteAction {
                action_id: "s1-a1".into(),
                evidence: "Job 4471: boiler replaced".into(),
                occurred_at: None,
            }),
        )
        .act(
            day(5, 2),
            &reviewer,
            "manager",
            Action::Close(CloseComplaint {
                remedy: Remedy {
                    actions: vec!["Boiler replaced".into()],
                    compensation_pence: 25_000,
                },
                learning: vec![LearningEntry::Note("Book engineers within two days".into())],
                occurred_at: None,
                open_actions_reason: Some("The radiators are booked for next week".into()),
            }),
        );

    let view = story.view(date(5, 2));
    let letters = Letters::load(None).unwrap();
    let context = LetterContext::for_procedure(
        Organisation::named("Northfield Homes"),
        &story.procedure,
        date(3, 12),
    );
    let letter = |id: &str, kind, at| BundleLetter {
        letter_id: id.into(),
        issued_at: at,
        by: actor("u-handler", "Sam Handler"),
        letter: letters.render(kind, &view, &context).unwrap(),
    };
    let bundle_letters = vec![
        letter("L-1", LetterKind::Acknowledgement, day(3, 4)),
        letter("L-2", LetterKind::Stage1Response, day(3, 12)),
    ];

    let stream = story.stream();
    let chain = ChainSummary {
        events: stream.len() as u64,
        digest: stream.last().unwrap().hash.clone(),
    };
    let input = BundleInput {
        case: view,
        events: story.events.clone(),
        stream,
        chain,
        letters: bundle_letters,
        held_evidence: BTreeSet::from(["ev-1".to_string()]),
        organisation: Organisation::named("Northfield Homes"),
        scheme: SchemeContact::builtin(Scheme::HousingOmbudsman),
    };
    Fixture {
        input,
        files: BTreeMap::from([("ev-1".to_string(), photo), ("ev-2".to_string(), report)]),
    }
}

/// Whether the system tools the independent checks use are installed.
fn have_tools() -> bool {
    let present = |tool: &str, arg: &str| {
        Command::new(tool)
            .arg(arg)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let ok = present("unzip", "-v") && present("sha256sum", "--version");
    if !ok {
        eprintln!("SKIPPED: the system `unzip` and `sha256sum` are needed for this check");
    }
    ok
}

fn unzip(bytes: &[u8], into: &Path) {
    let archive = into.join("bundle.zip");
    std::fs::write(&archive, bytes).unwrap();
    let out = into.join("out");
    let status = Command::new("unzip")
        .arg("-q")
        .arg(&archive)
        .arg("-d")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "unzip failed");
}

fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap();
                found.insert(relative.to_str().unwrap().to_string());
            }
        }
    }
    found
}

#[test]
fn the_bundle_unzips_and_sha256sum_checks_every_file_in_it() {
    if !have_tools() {
        return;
    }
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    unzip(&fixture.write(), dir.path());
    let out = dir.path().join("out");

    let check = Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "sha256sum -c failed:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    let on_disk = files_under(&out);
    assert_eq!(
        on_disk,
        BTreeSet::from(
            [
                "SHA256SUMS",
                "case.html",
                "case.json",
                "chain.txt",
                "events.jsonl",
                "evidence/ev-1-damp_wall__1_.jpg",
                "letters/L-1-acknowledgement.html",
                "letters/L-1-acknowledgement.txt",
                "letters/L-2-stage1_response.html",
                "letters/L-2-stage1_response.txt",
            ]
            .map(String::from)
        )
    );
    // SHA256SUMS covers every other file, each once.
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    let listed: Vec<&str> = sums.lines().map(|l| &l[66..]).collect();
    let mut others = on_disk.clone();
    others.remove("SHA256SUMS");
    assert_eq!(
        listed,
        others.iter().map(String::as_str).collect::<Vec<_>>()
    );

    // The evidence is the very bytes attached, and the letters are as recorded.
    assert_eq!(
        std::fs::read(out.join("evidence/ev-1-damp_wall__1_.jpg")).unwrap(),
        fixture.files["ev-1"]
    );
    assert_eq!(
        std::fs::read_to_string(out.join("letters/L-2-stage1_response.txt")).unwrap(),
        fixture.input.letters[1].letter.text
    );
}

#[test]
fn exporting_twice_gives_identical_bytes_with_fixed_times_modes_and_order() {
    // Two fixtures built apart: their metadata maps iterate in different orders.
    let first = fixture().write();
    let second = fixture().write();
    assert!(first == second, "two exports of the same case differ");

    if Command::new("zipinfo").arg("-h").output().is_err() {
        eprintln!("SKIPPED: the system `zipinfo` is needed to read entry metadata");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("bundle.zip");
    std::fs::write(&archive, &first).unwrap();
    let listing = Command::new("zipinfo")
        .arg("-s")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    let entries: Vec<&str> = listing
        .lines()
        .filter(|l| l.starts_with('-') || l.starts_with('?'))
        .collect();
    assert_eq!(entries.len(), 10, "{listing}");
    for entry in &entries {
        assert!(entry.starts_with("-rw-r--r--"), "{entry}");
        assert!(entry.contains("defN 80-Jan-01 00:00 "), "{entry}");
    }
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e.rsplit(' ').next().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

/// Reads one file of the archive through the system `unzip`.
fn read_entry(bytes: &[u8], name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("bundle.zip");
    std::fs::write(&archive, bytes).unwrap();
    let out = Command::new("unzip")
        .arg("-p")
        .arg(&archive)
        .arg(name)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn case_json_events_jsonl_and_chain_txt_carry_the_case_the_stream_and_the_digest() {
    if !have_tools() {
        return;
    }
    let fixture = fixture();
    let bytes = fixture.write();
    let input = &fixture.input;

    let case: serde_json::Value = serde_json::from_str(&read_entry(&bytes, "case.json")).unwrap();
    assert_eq!(case, serde_json::to_value(&input.case).unwrap());

    let events = read_entry(&bytes, "events.jsonl");
    let lines: Vec<&str> = events.lines().collect();
    assert_eq!(lines.len(), input.stream.len());
    for (line, stored) in lines.iter().zip(&input.stream) {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "hash",
            "metadata",
            "payload",
            "position",
            "recorded_at",
            "sequence",
            "type",
            "version",
        ];
        expected.sort();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort();
        assert_eq!(keys_sorted, expected);
        assert_eq!(value["position"], stored.position);
        assert_eq!(value["sequence"], stored.sequence);
        assert_eq!(value["type"], stored.event_type.as_str());
        assert_eq!(value["payload"], stored.payload);
        assert_eq!(value["metadata"], stored.metadata);
        assert_eq!(value["hash"], stored.hash.as_str());
    }

    let chain = read_entry(&bytes, "chain.txt");
    assert!(chain.contains(&format!("events: {}\n", input.stream.len())));
    assert!(chain.contains(&format!("digest: {}\n", input.chain.digest)));
    assert!(chain.contains(&format!("case: {}\n", input.case.id)));
}

#[test]
fn the_case_file_shows_parties_deadlines_extensions_responses_remedy_evidence_and_who_did_what() {
    if !have_tools() {
        return;
    }
    let fixture = fixture();
    let html = read_entry(&fixture.write(), "case.html");
    if let Ok(dir) = std::env::var("CASEFILE_KEEP_CASE_HTML") {
        std::fs::write(Path::new(&dir).join("case.html"), &html).unwrap();
    }
    let view = &fixture.input.case;
    let has = |needle: &str| assert!(html.contains(needle), "case.html lacks {needle:?}");

    // Headed by the chosen scheme.
    let scheme = SchemeContact::builtin(Scheme::HousingOmbudsman);
    let header = &html[..html.find("</header>").unwrap()];
    assert!(header.contains(&scheme.name));
    for line in &scheme.address {
        assert!(header.contains(line.as_str()), "header lacks {line}");
    }
    // Parties.
    has(&view.complainant.name);
    has(view.complainant.email.as_deref().unwrap());
    has("Northfield Homes");
    has("Sam Handler");
    has("Jo Reviewer");
    has("handler, manager");
    // Deadlines with dates, met or missed.
    for deadline in view.deadlines.values() {
        has(&format::long_date(deadline.due));
    }
    has(&format!(
        "<td>{}</td><td>{}</td><td class=\"missed\">met late (missed)</td>",
        format::long_date(view.deadlines["stage2_response"].due),
        format::long_date(view.deadlines["stage2_response"].met_on.unwrap())
    ));
    has("<td>met</td>");
    // Extensions and their reasons.
    has("Waiting for the manufacturer&#x27;s report");
    // Each stage's response, remedy and compensation.
    has("We will replace the boiler");
    has("We uphold the complaint in full");
    has("£150.00");
    has("£250.00");
    has("Book engineers within two days");
    // Evidence: held in the bundle, or said to be kept elsewhere.
    // Paths as the HTML escapes them.
    has("evidence&#x2f;ev-1-damp_wall__1_.jpg");
    has("not in this bundle");
    has(&view.evidence[0].sha256);
    // Letters and the timeline.
    has("letters&#x2f;L-2-stage1_response.html");
    for recorded in &fixture.input.events {
        has(&format!("<tr><td>{}</td>", recorded.sequence));
    }
    has("Escalated to Stage 2: The boiler is still broken");
    // The definitions, tracked actions and why the case closed with some still open.
    has("The boiler is still broken after the Stage 1 repair; outcomes sought: A new boiler");
    has("Action s1-a1 completed: Job 4471: boiler replaced");
    has("still open: The radiators are booked for next week");
    has(&fixture.input.chain.digest);
}

#[test]
fn the_case_file_is_headed_by_whichever_scheme_the_caller_chooses() {
    if !have_tools() {
        return;
    }
    let mut fixture = fixture();
    fixture.input.scheme = SchemeContact::builtin(Scheme::PropertyRedressScheme);
    let html = read_entry(&fixture.write(), "case.html");
    let header = &html[..html.find("</header>").unwrap()];
    assert!(header.contains("The Property Redress Scheme"));
    assert!(header.contains("WD6 1JH"));
    assert!(!header.contains("Housing Ombudsman"));
}

#[test]
fn evidence_that_no_longer_matches_its_record_fails_the_export() {
    let fixture = fixture();
    let mut tampered = |_: &EvidenceView| Ok(Cursor::new(content(99, 150_000)));
    let err = write_bundle(Cursor::new(Vec::new()), &fixture.input, &mut tampered).unwrap_err();
    assert_eq!(
        err,
        BundleError::EvidenceMismatch {
            evidence_id: "ev-1".into(),
            expected_size: 150_000,
            expected_sha256: hex::encode(Sha256::digest(&fixture.files["ev-1"])),
            found_size: 150_000,
            found_sha256: hex::encode(Sha256::digest(content(99, 150_000))),
        }
    );
    assert_eq!(err.code(), "evidence_mismatch");
}

#[test]
fn evidence_that_cannot_be_read_fails_the_export_naming_it() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("connection reset"))
        }
    }
    let fixture = fixture();
    let mut source = |_: &EvidenceView| Ok(Broken);
    let err = write_bundle(Cursor::new(Vec::new()), &fixture.input, &mut source).unwrap_err();
    assert_eq!(
        err,
        BundleError::EvidenceUnreadable {
            evidence_id: "ev-1".into(),
            message: "connection reset".into()
        }
    );
}

#[test]
fn a_stream_or_chain_that_disagrees_with_the_case_is_refused() {
    let fixture = fixture();
    let write = |input: &BundleInput| {
        let mut source = fixture.source();
        write_bundle(Cursor::new(Vec::new()), input, &mut source).map(|_| ())
    };

    let mut short = fixture.input.clone();
    short.stream.pop();
    assert_eq!(write(&short).unwrap_err().code(), "stream_mismatch");

    let mut stale_view = fixture.input.clone();
    stale_view.case.version -= 1;
    assert_eq!(write(&stale_view).unwrap_err().code(), "stream_mismatch");

    let mut wrong_digest = fixture.input.clone();
    wrong_digest.chain.digest = "00".repeat(32);
    assert_eq!(write(&wrong_digest).unwrap_err().code(), "chain_mismatch");

    let mut wrong_count = fixture.input.clone();
    wrong_count.chain.events += 1;
    assert_eq!(write(&wrong_count).unwrap_err().code(), "chain_mismatch");
}

#[test]
fn a_case_just_logged_bundles_with_its_empty_sections_said_so() {
    if !have_tools() {
        return;
    }
    let story = Story::log("ocasa", day(3, 3), "Lost keys", "");
    let stream = story.stream();
    let input = BundleInput {
        case: story.view(date(3, 3)),
        events: story.events.clone(),
        // Logged with its definition: two events from the one command.
        chain: ChainSummary {
            events: stream.len() as u64,
            digest: stream[stream.len() - 1].hash.clone(),
        },
        stream,
        letters: Vec::new(),
        held_evidence: BTreeSet::new(),
        organisation: Organisation::named("Ocasa"),
        scheme: SchemeContact::builtin(Scheme::PropertyRedressScheme),
    };
    let mut nothing = |_: &EvidenceView| Ok(io::empty());
    let bytes = write_bundle(Cursor::new(Vec::new()), &input, &mut nothing)
        .unwrap()
        .into_inner();
    let html = read_entry(&bytes, "case.html");
    for said in [
        "No stage response has been given.",
        "No evidence was attached.",
        "No letter was generated.",
        "The case has not been closed.",
        "Lost keys",
    ] {
        assert!(html.contains(said), "case.html lacks {said:?}");
    }
    let sums = read_entry(&bytes, "SHA256SUMS");
    assert_eq!(sums.lines().count(), 4);
}
