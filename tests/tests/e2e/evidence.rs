//! Evidence files: uploaded as `multipart/form-data`, hashed as they arrive, stored once
//! per SHA-256 in the store, downloaded byte for byte.

use std::io::Write;
use std::process::{Command, Stdio};

use casefile_tests::*;
use reqwest::Method;

both_backends! {
    an_uploaded_file_downloads_byte_for_byte => round_trip,
    the_same_file_twice_is_stored_once => stored_once,
    a_file_over_the_limit_is_payload_too_large => over_the_limit,
    a_media_type_off_the_allow_list_is_refused => media_type_refused,
    a_nul_in_a_description_is_refused => nul_refused,
    an_upload_a_rule_refuses_keeps_no_file => refused_keeps_no_file,
    an_upload_whose_commit_fails_keeps_no_file => failed_commit_keeps_no_file,
    a_web_upload_a_rule_refuses_keeps_no_file => web_refused_keeps_no_file,
    an_upload_sent_again_under_its_key_is_recorded_once => upload_replayed,
    metadata_only_evidence_has_no_file_to_download => metadata_only,
    a_download_comes_as_a_media_type_the_document_lists => documented_media_type,
}

const BOUNDARY: &str = "casefile-test-boundary-7MA4YWxkTrZu0gW";

/// A `multipart/form-data` body with a `file` part and, if given, a `description` part.
fn form(name: &str, media_type: &str, content: &[u8], description: Option<&str>) -> Body {
    let mut bytes = Vec::new();
    if let Some(text) = description {
        write!(
            bytes,
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n{text}\r\n"
        )
        .unwrap();
    }
    write!(
        bytes,
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: {media_type}\r\n\r\n"
    )
    .unwrap();
    bytes.extend_from_slice(content);
    write!(bytes, "\r\n--{BOUNDARY}--\r\n").unwrap();
    Body::Raw {
        content_type: Some(format!("multipart/form-data; boundary={BOUNDARY}")),
        bytes,
    }
}

/// Binary content with every byte value, CR LF pairs and dashes that look like framing.
fn binary_file(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x2545_f491;
    (0..len)
        .map(|i| match i % 997 {
            0 => b'\r',
            1 => b'\n',
            2 | 3 => b'-',
            _ => {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0]
            }
        })
        .collect()
}

/// The SHA-256 of `content` as `sha256sum` prints it.
fn sha256sum(content: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child.stdin.take().unwrap().write_all(content).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// No file stored and no evidence recorded on the case.
async fn nothing_kept(app: &TestApp, id: &str) {
    assert!(app
        .sql_texts("SELECT sha256 FROM evidence_blobs")
        .await
        .is_empty());
    assert!(app.case(id).await["evidence"]
        .as_array()
        .unwrap()
        .is_empty());
}

async fn upload(app: &TestApp, token: &str, id: &str, body: Body) -> (StatusCode, Value) {
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/complaints/{id}/evidence"),
            Some(token),
            body,
            &[],
        )
        .await;
    (r.status, r.json)
}

async fn download(app: &TestApp, token: &str, id: &str, evidence_id: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/complaints/{id}/evidence/{evidence_id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn round_trip(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let id = app.new_case().await;
    let content = binary_file(300_000);
    let (status, view) = upload(
        &app,
        &s.officer.token,
        &id,
        form(
            "Bedroom wall.png",
            "image/png",
            &content,
            Some("Mould above the window"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let evidence = &view["evidence"][0];
    assert_eq!(evidence["name"], "Bedroom wall.png");
    assert_eq!(evidence["media_type"], "image/png");
    assert_eq!(evidence["size_bytes"], 300_000);
    assert_eq!(evidence["sha256"], sha256sum(&content));
    assert_eq!(evidence["description"], "Mould above the window");

    let evidence_id = str_at(evidence, "evidence_id");
    // Every reader may download it, the auditor included.
    let response = download(&app, &s.auditor.token, &id, &evidence_id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(header("content-type").as_deref(), Some("image/png"));
    assert_eq!(
        header("content-disposition").as_deref(),
        Some("attachment; filename=\"Bedroom wall.png\"; filename*=UTF-8''Bedroom%20wall.png")
    );
    let got = response.bytes().await.unwrap();
    assert!(
        got.as_ref() == content.as_slice(),
        "downloaded bytes differ"
    );

    // An unknown evidence id is not found.
    let response = download(&app, &s.auditor.token, &id, "ev-99").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn stored_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let first = app.new_case().await;
    let second = app.new_case().await;
    let content = b"Inspection notes: damp reading 28% in the bedroom.\n".to_vec();
    for id in [&first, &first, &second] {
        let (status, view) = upload(
            &app,
            &s.officer.token,
            id,
            form("notes.txt", "text/plain; charset=utf-8", &content, None),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{view}");
    }
    assert_eq!(
        app.case(&first).await["evidence"].as_array().unwrap().len(),
        2
    );
    let stored = app.sql_texts("SELECT sha256 FROM evidence_blobs").await;
    assert_eq!(stored, vec![sha256sum(&content)]);
}

async fn over_the_limit(backend: Backend) {
    let app = spawn_app_with(backend, |config| config.evidence_limit_bytes = 4096).await;
    let s = app.staff().await;
    let id = app.new_case().await;
    let (status, body) = upload(
        &app,
        &s.officer.token,
        &id,
        form("big.pdf", "application/pdf", &binary_file(4097), None),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    // Exactly at the limit is accepted; nothing else was stored.
    let (status, view) = upload(
        &app,
        &s.officer.token,
        &id,
        form("fits.pdf", "application/pdf", &binary_file(4096), None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        app.sql_texts("SELECT sha256 FROM evidence_blobs")
            .await
            .len(),
        1
    );
}

async fn media_type_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let id = app.new_case().await;
    let (status, body) = upload(
        &app,
        &s.officer.token,
        &id,
        form("setup.exe", "application/x-msdownload", b"MZ\x90\x00", None),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_evidence_type",
    );
    nothing_kept(&app, &id).await;
}

/// PostgreSQL text cannot hold a NUL: a description carrying one is the client's error on
/// both stores, never a 500, and nothing of the form is kept.
/// An upload whose own fields a rule refuses (a filename over 500 characters, a description
/// over 50,000) is refused before its file is stored.
async fn refused_keeps_no_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let id = app.new_case().await;
    let long_name = format!("{}.png", "p".repeat(497));
    let long_text = "d".repeat(50_001);
    for (name, description, field) in [
        (long_name.as_str(), None, "name"),
        ("photo.png", Some(long_text.as_str()), "description"),
    ] {
        let (status, body) = upload(
            &app,
            &s.officer.token,
            &id,
            form(name, "image/png", b"\x89PNG refused", description),
        )
        .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
        assert!(
            str_at(&body, "message").contains(&format!("`{field}`")),
            "{body}"
        );
        nothing_kept(&app, &id).await;
    }
}

/// The file is written in the command's transaction: when the events cannot be written,
/// the file is not kept either (it used to be stored first, and stayed behind).
async fn failed_commit_keeps_no_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let id = app.new_case().await;
    // The store refuses every new event, as a real fault in the commit would.
    match backend {
        Backend::Postgres => {
            app.sql(
                "CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'no events today'; END $$",
            )
            .await;
            app.sql(
                "CREATE TRIGGER refuse_events BEFORE INSERT ON events \
                 FOR EACH ROW EXECUTE FUNCTION refuse_events()",
            )
            .await;
        }
        Backend::Sqlite => {
            app.sql(
                "CREATE TRIGGER refuse_events BEFORE INSERT ON events \
                 BEGIN SELECT RAISE(ABORT, 'no events today'); END",
            )
            .await;
        }
    }
    let content = binary_file(50_000);
    // Sent past the harness's check that nothing answers 5xx: a fault of the store's own
    // is the one 500 there is.
    let Body::Raw {
        content_type: Some(content_type),
        bytes,
    } = form("photo.png", "image/png", &content, None)
    else {
        unreachable!("a form is raw bytes with their type")
    };
    let failed = app
        .client
        .post(app.url(&format!("/api/v1/complaints/{id}/evidence")))
        .bearer_auth(&s.officer.token)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    nothing_kept(&app, &id).await;

    // The same upload once the store takes events again: the file is kept with its evidence.
    app.sql(match backend {
        Backend::Postgres => "DROP TRIGGER refuse_events ON events",
        Backend::Sqlite => "DROP TRIGGER refuse_events",
    })
    .await;
    let (status, view) = upload(
        &app,
        &s.officer.token,
        &id,
        form("photo.png", "image/png", &content, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        app.sql_texts("SELECT sha256 FROM evidence_blobs").await,
        vec![sha256sum(&content)]
    );
}

/// The web app's upload form, refused by the rule on the evidence's name: the page says so
/// and no file is kept (the form used to store the file before the rules saw it).
async fn web_refused_keeps_no_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.new_case().await;
    let web = app.web_session("wren@example.org", &["officer"]).await;
    let page = web.get(&format!("/cases/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = casefile_tests::web::csrf_field(&page.text().await.unwrap());
    let long_name = format!("{}.png", "p".repeat(497));
    let mut body =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n")
            .into_bytes();
    let Body::Raw { bytes, .. } = form(&long_name, "image/png", b"\x89PNG refused", None) else {
        unreachable!("a form is raw bytes")
    };
    body.extend_from_slice(&bytes);
    let answer = web
        .post_body(
            &format!("/cases/{id}/evidence"),
            &format!("multipart/form-data; boundary={BOUNDARY}"),
            body,
        )
        .await;
    let status = answer.status();
    let html = answer.text().await.unwrap();
    assert!(!status.is_redirection(), "{status}: accepted");
    // A rule's refusal is told above the form (a missing file would be told at the field).
    assert!(
        html.contains("id=\"evidence-problem\""),
        "{status}: the form says nothing of the refusal"
    );
    nothing_kept(&app, &id).await;
}

/// An upload retried under its `Idempotency-Key` is answered as the first was: one evidence
/// item, one stored file.
async fn upload_replayed(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let id = app.new_case().await;
    let content = binary_file(20_000);
    let key = [("Idempotency-Key", "upload-1")];
    let path = format!("/api/v1/complaints/{id}/evidence");
    let send = || {
        app.send(
            Method::POST,
            &path,
            Some(&s.officer.token),
            form("photo.png", "image/png", &content, Some("The damp wall")),
            &key,
        )
    };
    let first = send().await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    let again = send().await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.json);
    assert_eq!(
        again
            .headers
            .get("idempotency-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    assert_eq!(again.json, first.json);
    assert_eq!(app.case(&id).await["evidence"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.sql_texts("SELECT sha256 FROM evidence_blobs").await,
        vec![sha256sum(&content)]
    );
}

async fn nul_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let id = app.new_case().await;
    let (status, body) = upload(
        &app,
        &s.officer.token,
        &id,
        form(
            "photo.png",
            "image/png",
            b"\x89PNG",
            Some("Mould\0 above the window"),
        ),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_form");
    assert!(str_at(&body, "message").contains("`description`"), "{body}");
    // A filename in the extended form only, percent-encoded: today's parser reads no
    // filename from it; were it to decode one, its NUL would be refused all the same.
    let mut bytes = Vec::new();
    write!(
        bytes,
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename*=UTF-8''pho%00to.png\r\nContent-Type: image/png\r\n\r\nPNG\r\n--{BOUNDARY}--\r\n"
    )
    .unwrap();
    let body = Body::Raw {
        content_type: Some(format!("multipart/form-data; boundary={BOUNDARY}")),
        bytes,
    };
    let (status, body) = upload(&app, &s.officer.token, &id, body).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_form");
    nothing_kept(&app, &id).await;
}

async fn metadata_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let id = app.new_case().await;
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "evidence",
            json!({
                "name": "cctv.mp4",
                "media_type": "video/mp4",
                "size_bytes": 1_000_000,
                "sha256": sha256sum(b"kept on the housing officer's drive"),
            }),
        )
        .await;
    let evidence_id = str_at(&view["evidence"][0], "evidence_id");
    let (status, body) = app
        .get(
            &format!("/api/v1/complaints/{id}/evidence/{evidence_id}"),
            &s.auditor.token,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "evidence_not_stored");
}

/// The media types the document lists for a download of evidence.
async fn documented_download_types(app: &TestApp) -> Vec<String> {
    let r = app
        .send(Method::GET, "/api/v1/openapi.json", None, Body::None, &[])
        .await;
    let content = &r.json["paths"]["/api/v1/complaints/{id}/evidence/{evidence_id}"]["get"]
        ["responses"]["200"]["content"];
    content
        .as_object()
        .unwrap_or_else(|| panic!("no content for a download: {content}"))
        .keys()
        .cloned()
        .collect()
}

/// A plain-text upload used to come back `text/plain` where the document listed only
/// `application/octet-stream`; and evidence recorded by its metadata only, naming a file
/// the store holds, came back as whatever media type the metadata named.
async fn documented_media_type(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let id = app.new_case().await;
    let documented = documented_download_types(&app).await;
    let content = b"<script>alert(1)</script> is what the neighbour wrote";
    let (status, view) = upload(
        &app,
        &s.officer.token,
        &id,
        form("note.txt", "text/plain", content, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let uploaded = str_at(&view["evidence"][0], "evidence_id");
    // The same bytes again, recorded by metadata that calls them a web page.
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "evidence",
            json!({
                "name": "note.html",
                "media_type": "text/html",
                "size_bytes": content.len(),
                "sha256": sha256sum(content),
            }),
        )
        .await;
    let described = str_at(&view["evidence"][1], "evidence_id");

    for (evidence_id, expected) in [
        (&uploaded, "text/plain"),
        (&described, "application/octet-stream"),
    ] {
        let response = download(&app, &s.auditor.token, &id, evidence_id).await;
        assert_eq!(response.status(), StatusCode::OK, "{evidence_id}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_eq!(content_type, expected, "{evidence_id}");
        assert!(
            documented.contains(&content_type),
            "{content_type} is not among the documented {documented:?}"
        );
        assert_eq!(response.bytes().await.unwrap().as_ref(), content);
    }
}
