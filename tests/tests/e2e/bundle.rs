//! The ombudsman bundle through the API and `casefile-replay export`, and every other
//! command of the replay tool, run as a process against the same store.
//!
//! The bundle is unzipped here with the `zip` crate and every `SHA256SUMS` line checked
//! against a SHA-256 of the file computed here (and by `sha256sum -c` where the machine
//! has it); its evidence and letters are compared with what was uploaded and issued.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use casefile_tests::*;
use reqwest::Method;
use sha2::{Digest, Sha256};

both_backends! {
    a_bundle_is_complete_checksummed_and_the_same_from_the_api_and_the_tool => bundle_and_tool,
}

const BOUNDARY: &str = "casefile-bundle-boundary-QJ4uP2";
const REPLAY: &str = env!("CARGO_BIN_EXE_casefile-replay-under-test");

/// Uploads one evidence file; returns the case view.
async fn upload(app: &TestApp, token: &str, id: &str, name: &str, media: &str, content: &[u8]) {
    let mut bytes = Vec::new();
    write!(
        bytes,
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: {media}\r\n\r\n"
    )
    .unwrap();
    bytes.extend_from_slice(content);
    write!(bytes, "\r\n--{BOUNDARY}--\r\n").unwrap();
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/complaints/{id}/evidence"),
            Some(token),
            Body::Raw {
                content_type: Some(format!("multipart/form-data; boundary={BOUNDARY}")),
                bytes,
            },
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "upload {name}: {}", r.text);
}

/// `GET …/bundle` as raw bytes: status, headers, body.
async fn get_bundle(
    app: &TestApp,
    token: &str,
    id: &str,
    query: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/complaints/{id}/bundle{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap().to_vec();
    assert!(!status.is_server_error(), "bundle answered {status}");
    (status, headers, bytes)
}

/// The archive's files by path.
fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip archive");
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        files.insert(file.name().to_string(), content);
    }
    files
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Runs the replay tool on the app's store.
fn replay(app: &TestApp, args: &[&str]) -> Output {
    replay_on(&app.database_url(), args)
}

fn replay_on(database_url: &str, args: &[&str]) -> Output {
    Command::new(REPLAY)
        .args(args)
        .env("CASEFILE_DATABASE_URL", database_url)
        .env_remove("CASEFILE_ORGANISATION")
        .env_remove("CASEFILE_BANK_HOLIDAYS")
        .stdin(Stdio::null())
        .output()
        .expect("run casefile-replay")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[track_caller]
fn succeeded(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({:?}): {}{}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

/// A failure with exactly one line on stderr, starting `casefile-replay: ` and naming
/// `expected`.
#[track_caller]
fn fails_with(output: &Output, expected: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", stdout(output));
    let err = stderr(output);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("casefile-replay: "), "{err}");
    assert!(err.contains(expected), "`{expected}` in: {err}");
}

async fn bundle_and_tool(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let view = app.log_complaint(&s.advisor.token, valid_complaint()).await;
    let id = str_at(&view, "id");
    let reference = str_at(&view, "reference");
    let logged = chrono::Utc::now();
    app.act_ok(&s.officer.token, &id, "acknowledge", json!({}))
        .await;

    // Two stored files, one of them larger than the store's 1 MiB read chunk, and one
    // recorded by metadata only.
    let note = b"Engineer visit 3 March: boiler pressure lost again.\n".to_vec();
    let photo: Vec<u8> = (0..2_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    upload(
        &app,
        &s.officer.token,
        &id,
        "visit notes.txt",
        "text/plain",
        &note,
    )
    .await;
    upload(
        &app,
        &s.officer.token,
        &id,
        "boiler.png",
        "image/png",
        &photo,
    )
    .await;
    app.act_ok(
        &s.officer.token,
        &id,
        "evidence",
        json!({"name": "cctv.mp4", "media_type": "video/mp4", "size_bytes": 10,
               "sha256": "0".repeat(64)}),
    )
    .await;
    let (status, letter) = app
        .act(
            &s.officer.token,
            &id,
            "letters",
            json!({"kind": "acknowledgement"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{letter}");
    let letter_id = str_at(&letter, "letter_id");

    // Who may have it.
    let (status, _, body) = get_bundle(&app, &s.officer.token, &id, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error_shape(&serde_json::from_slice(&body).unwrap());
    let (status, _, body) = get_bundle(&app, &s.compliance.token, &id, "?scheme=nobody").await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    let (status, _, _) = get_bundle(
        &app,
        &s.auditor.token,
        "0190c6e2-0000-7000-8000-000000000099",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, headers, zip_bytes) = get_bundle(&app, &s.compliance.token, &id, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/zip");
    assert_eq!(
        headers["content-disposition"].to_str().unwrap(),
        format!("attachment; filename=\"{reference}-bundle.zip\"")
    );
    for token in [&s.manager.token, &s.auditor.token, &app.admin_token] {
        let (status, _, again) = get_bundle(&app, token, &id, "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(again == zip_bytes, "the same case gives the same bytes");
    }

    // What it holds.
    let files = unzip(&zip_bytes);
    let expected: BTreeSet<String> = [
        "SHA256SUMS".to_string(),
        "case.html".into(),
        "case.json".into(),
        "chain.txt".into(),
        "events.jsonl".into(),
        "evidence/ev-1-visit_notes.txt".into(),
        "evidence/ev-2-boiler.png".into(),
        format!("letters/{letter_id}-acknowledgement.html"),
        format!("letters/{letter_id}-acknowledgement.txt"),
    ]
    .into();
    assert_eq!(files.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(files["evidence/ev-1-visit_notes.txt"] == note);
    assert!(files["evidence/ev-2-boiler.png"] == photo);
    assert_eq!(
        files[&format!("letters/{letter_id}-acknowledgement.html")],
        str_at(&letter, "html").into_bytes()
    );
    assert_eq!(
        files[&format!("letters/{letter_id}-acknowledgement.txt")],
        str_at(&letter, "text").into_bytes()
    );

    // SHA256SUMS lists every other file once, each with its digest.
    let sums = String::from_utf8(files["SHA256SUMS"].clone()).unwrap();
    let mut listed = BTreeSet::new();
    for line in sums.lines() {
        let (digest, path) = line.split_once("  ").expect("`digest  path`");
        assert_eq!(digest, sha256_hex(&files[path]), "{path}");
        listed.insert(path.to_string());
    }
    let mut others = expected.clone();
    others.remove("SHA256SUMS");
    assert_eq!(listed, others);

    if Command::new("sha256sum").arg("--version").output().is_ok() {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in &files {
            let target = dir.path().join(path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, content).unwrap();
        }
        let check = Command::new("sha256sum")
            .args(["-c", "--strict", "SHA256SUMS"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "sha256sum -c: {}{}",
            stdout(&check),
            stderr(&check)
        );
    }

    // The stream and the chain agree with the service's own history and verification.
    let history = app.history(&id).await;
    let lines: Vec<Value> = String::from_utf8(files["events.jsonl"].clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), history.len());
    for (line, event) in lines.iter().zip(&history) {
        assert_eq!(line["sequence"], event["sequence"]);
        assert_eq!(line["type"], event["type"]);
        assert!(line["position"].as_u64().unwrap() > 0, "{line}");
        assert_eq!(line["hash"].as_str().unwrap().len(), 64, "{line}");
    }
    let (_, verification) = app
        .get(&format!("/api/v1/complaints/{id}/verify"), &s.auditor.token)
        .await;
    // Both uploaded files re-hashed; the metadata-only one has nothing held to check.
    assert_eq!(verification["valid"], true, "{verification}");
    assert_eq!(
        verification["evidence"],
        json!({"checked": 2, "problems": []}),
        "{verification}"
    );
    let chain = String::from_utf8(files["chain.txt"].clone()).unwrap();
    assert!(
        chain.contains(&format!("events: {}\n", history.len())),
        "{chain}"
    );
    assert!(
        chain.contains(&format!("digest: {}\n", str_at(&verification, "digest"))),
        "{chain}"
    );
    assert_eq!(
        lines.last().unwrap()["hash"],
        verification["digest"],
        "the digest is the last event's hash"
    );
    let case_json: Value = serde_json::from_slice(&files["case.json"]).unwrap();
    assert_eq!(case_json["reference"], reference.as_str());
    assert_eq!(case_json["evidence"].as_array().unwrap().len(), 3);
    let html = String::from_utf8(files["case.html"].clone()).unwrap();
    assert!(
        html.contains("Housing Ombudsman Service"),
        "chc-2024's scheme heads it"
    );
    assert!(html.contains(&reference));

    // Another scheme heads the case file when asked for.
    let (status, _, other) = get_bundle(
        &app,
        &s.compliance.token,
        &id,
        "?scheme=property-redress-scheme",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let other = unzip(&other);
    let html = String::from_utf8(other["case.html"].clone()).unwrap();
    assert!(html.contains("The Property Redress Scheme"));

    // The tool writes the same bytes as the API, every time.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle.zip");
    let out_text = out.to_str().unwrap();
    let printed = succeeded(&replay(&app, &["export", &id, "--out", out_text]), "export");
    assert!(printed.contains("wrote"), "{printed}");
    assert!(
        std::fs::read(&out).unwrap() == zip_bytes,
        "API and tool bundles differ"
    );
    let second = dir.path().join("again.zip");
    succeeded(
        &replay(&app, &["export", &id, "--out", second.to_str().unwrap()]),
        "export again",
    );
    assert!(std::fs::read(&second).unwrap() == zip_bytes);
    let other_out = dir.path().join("prs.zip");
    succeeded(
        &replay(
            &app,
            &[
                "export",
                &id,
                "--out",
                other_out.to_str().unwrap(),
                "--scheme",
                "property-redress-scheme",
            ],
        ),
        "export for another scheme",
    );
    assert_eq!(unzip(&std::fs::read(&other_out).unwrap()), other);

    tool_reads(&app, &id, &reference, history.len(), logged).await;
    tool_errors(&app, &id, dir.path());
    tampering(&app, &id, &s.compliance.token).await;
}

/// `history`, `view`, `verify`, `stats` and `rebuild` on the same store.
async fn tool_reads(
    app: &TestApp,
    id: &str,
    reference: &str,
    events: usize,
    logged: chrono::DateTime<chrono::Utc>,
) {
    // history: a table by default, the API's body with --json.
    let table = succeeded(&replay(app, &["history", id]), "history");
    let mut rows = table.lines().skip_while(|l| !l.starts_with("SEQ"));
    let header = rows.next().unwrap();
    for column in ["SEQ", "RECORDED", "OCCURRED", "TYPE", "BY", "REQUEST"] {
        assert!(header.contains(column), "{header}");
    }
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), events, "{table}");
    assert!(rows[0].starts_with("1 "), "{table}");
    assert!(rows[0].contains("Logged") && rows[0].contains("Ada Advisor (advisor)"));
    assert!(rows.last().unwrap().contains("LetterIssued"), "{table}");
    let json: Value = serde_json::from_str(&succeeded(
        &replay(app, &["history", id, "--json"]),
        "history",
    ))
    .unwrap();
    let (_, api_history) = app
        .get(
            &format!("/api/v1/complaints/{id}/history"),
            &app.admin_token,
        )
        .await;
    assert_eq!(json, api_history);

    // view: now, and as it stood just after logging.
    let table = succeeded(&replay(app, &["view", id]), "view");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("reference ") && l.ends_with(&format!(" {reference}"))),
        "{table}"
    );
    assert!(table.contains("DEADLINE"), "{table}");
    assert!(
        table.contains("acknowledgement"),
        "the letter is correspondence: {table}"
    );
    let json: Value =
        serde_json::from_str(&succeeded(&replay(app, &["view", id, "--json"]), "view")).unwrap();
    assert_eq!(json, app.case(id).await);
    let history = app.history(id).await;
    let first = str_at(&history[0], "recorded_at");
    // Logging wrote the complaint and its definition in one commit.
    assert_eq!(history[1]["type"], "Defined");
    assert_eq!(history[1]["recorded_at"], first.as_str());
    let then = succeeded(
        &replay(app, &["view", id, "--as-of", &first, "--json"]),
        "view",
    );
    let then: Value = serde_json::from_str(&then).unwrap();
    assert_eq!(then["version"], 2);
    let (_, api_then) = app
        .get(
            &format!(
                "/api/v1/complaints/{id}?as_of={}",
                first.replace('+', "%2B")
            ),
            &app.admin_token,
        )
        .await;
    assert_eq!(then, api_then);
    let before = (logged - chrono::Duration::days(2)).to_rfc3339();
    fails_with(
        &replay(app, &["view", id, "--as-of", &before]),
        "had not been logged",
    );

    // verify and stats.
    let out = succeeded(&replay(app, &["verify", "--case", id]), "verify");
    assert!(
        out.contains(&format!("verified 1 cases, {events} events")),
        "{out}"
    );
    assert!(out.contains("every chain is intact"), "{out}");
    let out = succeeded(&replay(app, &["stats"]), "stats");
    assert!(out.contains("cases: 1\n"), "{out}");
    assert!(out.contains(&format!("events: {events}\n")), "{out}");
    // The two stored files: 52 + 2,500,000 bytes.
    assert!(
        out.contains("evidence stored: 2 files, 2500052 bytes"),
        "{out}"
    );
    assert!(out.contains("  open: 1"), "{out}");

    // rebuild writes the same read models again.
    let before = app.read_model_rows().await;
    let out = succeeded(&replay(app, &["rebuild"]), "rebuild");
    assert!(
        out.contains(&format!(
            "rebuilt the read models of 1 cases from {events} events"
        )),
        "{out}"
    );
    assert_eq!(app.read_model_rows().await, before);

    // --help on every command.
    for command in ["history", "view", "verify", "export", "rebuild", "stats"] {
        let out = succeeded(&replay(app, &[command, "--help"]), command);
        assert!(out.contains("Usage: "), "{command}: {out}");
    }
}

/// One clear line for a case that does not exist, a wrong URL and a store not there.
fn tool_errors(app: &TestApp, _id: &str, dir: &Path) {
    let unknown = "0190c6e2-0000-7000-8000-000000000099";
    fails_with(&replay(app, &["history", unknown]), "no case with id");
    fails_with(&replay(app, &["view", unknown]), "no case with id");
    fails_with(
        &replay(app, &["verify", "--case", unknown]),
        "no case with id",
    );
    let out = dir.join("none.zip");
    fails_with(
        &replay(app, &["export", unknown, "--out", out.to_str().unwrap()]),
        "no case with id",
    );
    assert!(!out.exists(), "no file for a failed export");
    fails_with(
        &replay_on("mysql://localhost/casefile", &["stats"]),
        "unsupported database URL",
    );
    fails_with(
        &replay_on(
            &format!("sqlite://{}", dir.join("missing.db").display()),
            &["stats"],
        ),
        "no SQLite store at",
    );
    fails_with(
        &replay_on("postgres://postgres@127.0.0.1:1/casefile", &["stats"]),
        "cannot open the store",
    );
}

/// The API's verification of the case: its evidence problems, and whether it is valid.
async fn api_verify(app: &TestApp, id: &str) -> (Value, Value) {
    let (status, body) = app
        .get(&format!("/api/v1/complaints/{id}/verify"), &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (body["valid"].clone(), body["evidence"]["problems"].clone())
}

/// An evidence file altered, one deleted, then an event altered in the database: `verify`
/// (the tool's and the API's) names each and the tool exits 1; no bundle vouches for them.
async fn tampering(app: &TestApp, id: &str, token: &str) {
    let note_sha = sha256_hex(b"Engineer visit 3 March: boiler pressure lost again.\n");
    // The 52-byte note's content replaced.
    let altered = match app.backend {
        Backend::Sqlite => {
            app.sql("UPDATE evidence_blobs SET content = CAST('tampered' AS BLOB) WHERE size = 52")
                .await
        }
        Backend::Postgres => {
            app.sql("UPDATE evidence_blobs SET content = 'tampered'::bytea WHERE size = 52")
                .await
        }
    };
    assert_eq!(altered, 1);
    for args in [&["verify", "--case", id][..], &["verify", "--all"][..]] {
        let out = replay(app, args);
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        assert!(
            stdout(&out).contains(&format!("BROKEN case {id} evidence ev-1: content altered")),
            "{}",
            stdout(&out)
        );
        assert!(stdout(&out).contains("1 broken"), "{}", stdout(&out));
    }
    let (status, _, body) = get_bundle(app, token, id, "").await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_error(status, &body, StatusCode::CONFLICT, "evidence_mismatch");
    let altered = json!({"evidence_id": "ev-1", "sha256": note_sha, "problem": "altered",
                         "found_sha256": sha256_hex(b"tampered"), "found_size": 8});
    assert_eq!(api_verify(app, id).await, (json!(false), json!([altered])));

    // The uploaded photo's row deleted: its event says it was uploaded, so it is missing.
    let photo: Vec<u8> = (0..2_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let photo_sha = sha256_hex(&photo);
    let deleted = app
        .sql(&format!(
            "DELETE FROM evidence_blobs WHERE sha256 = '{photo_sha}'"
        ))
        .await;
    assert_eq!(deleted, 1);
    for args in [&["verify", "--case", id][..], &["verify", "--all"][..]] {
        let out = replay(app, args);
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        assert!(
            stdout(&out).contains(&format!("BROKEN case {id} evidence ev-2: content missing")),
            "{}",
            stdout(&out)
        );
        assert!(stdout(&out).contains("2 broken"), "{}", stdout(&out));
    }
    let (status, _, body) = get_bundle(app, token, id, "").await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_error(status, &body, StatusCode::CONFLICT, "evidence_missing");
    let missing = json!({"evidence_id": "ev-2", "sha256": photo_sha, "problem": "missing"});
    assert_eq!(
        api_verify(app, id).await,
        (json!(false), json!([altered, missing]))
    );

    // The note's key changed: no case refers to it, and its content no longer hashes to
    // it; the note itself is now missing.
    let key = "f".repeat(64);
    app.sql(&format!(
        "UPDATE evidence_blobs SET sha256 = '{key}' WHERE sha256 = '{note_sha}'"
    ))
    .await;
    let out = replay(app, &["verify", "--all"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!("BROKEN evidence file {key}: content altered")),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(&format!("BROKEN case {id} evidence ev-1: content missing")),
        "{}",
        stdout(&out)
    );

    let altered = match app.backend {
        Backend::Sqlite => {
            app.sql(&format!(
                "UPDATE events SET payload = replace(payload, 'Alex Morgan', 'Alex Morgen') \
                 WHERE aggregate_id = '{id}' AND sequence = 1"
            ))
            .await
        }
        Backend::Postgres => {
            app.sql(&format!(
                "UPDATE events SET payload = replace(payload::text, 'Alex Morgan', 'Alex Morgen')::jsonb \
                 WHERE aggregate_id = '{id}' AND sequence = 1"
            ))
            .await
        }
    };
    assert_eq!(altered, 1);
    let out = replay(app, &["verify", "--all"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!("BROKEN case {id} at sequence 1: altered")),
        "{}",
        stdout(&out)
    );
    let (status, _, body) = get_bundle(app, token, id, "").await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_error(status, &body, StatusCode::CONFLICT, "chain_broken");
}
