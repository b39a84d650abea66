//! The store as the one place that writes: tampering found and located, a global feed that
//! never skips, two instances on one store, read models equal to a rebuild, and nothing
//! acknowledged lost when the client hangs up (kills are in `reliability.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use casefile_tests::*;
use tokio::sync::Mutex;

both_backends! {
    tampering_by_sql_is_found_and_located => tampering_scenario,
    a_rebuild_changes_no_row => rebuild_scenario,
    a_rebuild_while_cases_are_logged_loses_none => rebuild_during_writes_scenario,
    the_feed_never_skips_an_event => feed_scenario,
    a_client_that_hangs_up_loses_nothing => hang_up_scenario,
    two_instances_on_one_store_agree => two_instances_scenario,
    a_long_case_is_whole_from_either_instance => long_case_scenario,
}

/// A case with `notes` notes after its `Logged` and `Defined` events: `2 + notes` events
/// (note `n` is event `2 + n`).
async fn case_with_notes(app: &TestApp, notes: usize) -> String {
    let id = app.new_case().await;
    for i in 1..=notes {
        app.act_ok(
            &app.admin_token,
            &id,
            "notes",
            json!({"text": format!("note {i}")}),
        )
        .await;
    }
    id
}

async fn verify(app: &TestApp, id: &str) -> Value {
    let (status, body) = app
        .get(&format!("/api/v1/complaints/{id}/verify"), &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK, "verify {id}: {body}");
    body
}

async fn tampering_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let untouched = case_with_notes(&app, 5).await;
    let altered = case_with_notes(&app, 5).await;
    let deleted = case_with_notes(&app, 5).await;
    let swapped = case_with_notes(&app, 5).await;
    let forged = case_with_notes(&app, 5).await;

    let intact = verify(&app, &untouched).await;
    assert_eq!(intact["valid"], true, "{intact}");
    assert_eq!(intact["events"], 7);
    assert_eq!(intact["first_break"], Value::Null);
    let digest = intact["digest"].as_str().unwrap_or_default();
    assert_eq!(digest.len(), 64, "a hex SHA-256: {intact}");

    // One byte of one payload: "note 2" (event 4) becomes "note 7".
    let payload = match backend {
        Backend::Postgres => "replace(payload::text, 'note 2', 'note 7')::jsonb",
        Backend::Sqlite => "replace(payload, 'note 2', 'note 7')",
    };
    let changed = app
        .sql(&format!(
            "UPDATE events SET payload = {payload} WHERE aggregate_id = '{altered}' AND sequence = 4"
        ))
        .await;
    assert_eq!(changed, 1);
    app.sql(&format!(
        "DELETE FROM events WHERE aggregate_id = '{deleted}' AND sequence = 4"
    ))
    .await;
    for statement in [
        "UPDATE events SET sequence = 1000 WHERE aggregate_id = '{id}' AND sequence = 3",
        "UPDATE events SET sequence = 3 WHERE aggregate_id = '{id}' AND sequence = 4",
        "UPDATE events SET sequence = 4 WHERE aggregate_id = '{id}' AND sequence = 1000",
    ] {
        app.sql(&statement.replace("{id}", &swapped)).await;
    }
    // A forged eighth event, copied from the seventh and linked to it, with a made-up hash.
    app.sql(&format!(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata, prev_hash, hash) \
         SELECT aggregate_type, aggregate_id, 8, event_type, event_version, payload, metadata, \
         hash, '{}' FROM events WHERE aggregate_id = '{forged}' AND sequence = 7",
        "ab".repeat(32)
    ))
    .await;

    for (id, sequence, problem) in [
        (&altered, 4, "altered"),
        (&deleted, 4, "missing"),
        (&swapped, 3, "reordered"),
        (&forged, 8, "inserted"),
    ] {
        let verdict = verify(&app, id).await;
        assert_eq!(verdict["valid"], false, "{problem}: {verdict}");
        assert_eq!(
            verdict["first_break"],
            json!({"sequence": sequence, "problem": problem}),
            "{verdict}"
        );
    }
    assert_eq!(
        verify(&app, &untouched).await,
        intact,
        "others are unaffected"
    );
    // The whole-store check (paged, hashed in parallel) says the same of every case.
    let store = casefile_store::Store::open(&app.database_url(), casefile_store::Access::ReadOnly)
        .await
        .unwrap();
    let all = store.verify_all(|_| {}).await.unwrap();
    let mut ids: Vec<&String> = vec![&untouched, &altered, &deleted, &swapped, &forged];
    ids.sort();
    assert_eq!(all.iter().map(|(id, _)| id).collect::<Vec<_>>(), ids);
    for (id, verdict) in &all {
        // The API adds its evidence check; these cases have no evidence problem.
        let mut api = verify(&app, id).await;
        let evidence = api.as_object_mut().unwrap().remove("evidence").unwrap();
        assert_eq!(evidence["problems"], json!([]), "case {id}");
        assert_eq!(serde_json::to_value(verdict).unwrap(), api, "case {id}");
    }

    // Only auditors, compliance and managers (and admins) may ask.
    let s = app.staff().await;
    let path = format!("/api/v1/complaints/{untouched}/verify");
    for user in [&s.auditor, &s.compliance, &s.manager] {
        assert_eq!(app.get(&path, &user.token).await.0, StatusCode::OK);
    }
    for user in [&s.advisor, &s.officer, &s.reviewer] {
        assert_eq!(app.get(&path, &user.token).await.0, StatusCode::FORBIDDEN);
    }
}

async fn rebuild_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let id = case_with_notes(&app, 3).await;
    app.act_ok(&s.officer.token, &id, "acknowledge", json!({}))
        .await;
    app.act_ok(
        &s.officer.token,
        &id,
        "links",
        json!({"kind": "repair", "reference": "R-1"}),
    )
    .await;
    app.act_ok(
        &s.officer.token,
        &id,
        "categorise",
        json!({"theme": "Repairs", "root_cause": "Contractor"}),
    )
    .await;
    // A command's answer (its lists put in verbatim) is the case view a read gives.
    let answer = app
        .act_ok(&s.officer.token, &id, "notes", json!({"text": "one more"}))
        .await;
    assert_eq!(answer, app.case(&id).await);
    let other = app.new_case().await;
    app.act_ok(
        &s.officer.token,
        &other,
        "withdraw",
        json!({"reason": "Resolved informally"}),
    )
    .await;
    let before = app.read_model_rows().await;
    assert!(
        before.len() >= 2 + 4 + 2,
        "rows of every read model: {before:?}"
    );
    // SQLite's rebuild sets the read models' indexes and triggers aside and makes them again;
    // PostgreSQL's fills new tables and swaps them in, so every table's columns, storage,
    // indexes, constraints and statistics objects must come back as the migrations made them.
    let schema = match backend {
        Backend::Sqlite => {
            "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') \
                            FROM sqlite_master ORDER BY type, name"
        }
        Backend::Postgres => {
            "SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' \
             UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' \
               || pg_get_constraintdef(oid) FROM pg_constraint \
               WHERE connamespace = 'public'::regnamespace \
             UNION ALL SELECT 'statistics ' || pg_get_statisticsobjdef(oid) || ' ' \
               || stxowner::regrole FROM pg_statistic_ext \
             UNION ALL SELECT 'table ' || relname || ' ' \
               || coalesce(array_to_string(reloptions, ','), '') || ' ' \
               || relowner::regrole || ' ' || coalesce(relacl::text, '') FROM pg_class \
               WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' \
             UNION ALL SELECT 'column ' || a.attrelid::regclass || ' ' || a.attnum || ' ' \
               || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' \
               || a.attnotnull || ' ' || a.attcompression::text || ' ' || a.attstorage::text \
               || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') \
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
               WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' \
               AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY 1"
        }
    };
    // PostgreSQL: the read models owned by a role of their own, as the service's would be,
    // and rebuilt by another (here a superuser), with a grant beyond the owner's, as a
    // reporting role would be given: the swap keeps owners and grants.
    let owner = format!("casefile_owner_{}", std::process::id());
    if backend == Backend::Postgres {
        app.sql(&format!("DROP ROLE IF EXISTS {owner}")).await;
        app.sql(&format!("CREATE ROLE {owner}")).await;
        for table in [
            "case_records",
            "case_items",
            "case_summaries",
            "case_deadlines",
        ] {
            app.sql(&format!("ALTER TABLE {table} OWNER TO {owner}"))
                .await;
        }
        app.sql(&format!(
            "ALTER STATISTICS case_summaries_search_words OWNER TO {owner}"
        ))
        .await;
        app.sql("GRANT SELECT ON case_summaries TO PUBLIC").await;
    }
    let schema_before = app.sql_texts(schema).await;
    if backend == Backend::Sqlite {
        // The trigram index emptied behind the service's back: the rebuild makes it again.
        app.sql("INSERT INTO case_search (case_search) VALUES ('delete-all')")
            .await;
    }
    // A stored field holding the separator the rebuild's page joins fields with (the fold
    // reads no event type): that case is read again row by row, and folds the same.
    let unit_separator = match backend {
        Backend::Sqlite => "char(31)",
        Backend::Postgres => "chr(31)",
    };
    let changed = app
        .sql(&format!(
            "UPDATE events SET event_type = event_type || {unit_separator} \
             WHERE aggregate_id = '{id}' AND sequence = 2"
        ))
        .await;
    assert_eq!(changed, 1);
    app.rebuild().await;
    assert_eq!(app.read_model_rows().await, before);
    assert_eq!(app.sql_texts(schema).await, schema_before);
    if backend == Backend::Postgres {
        // The swapped-in tables were analysed: the planner has their statistics, the
        // search words' frequencies (migration 0018) among them.
        let analysed = app
            .sql_texts(
                "SELECT DISTINCT tablename::text FROM pg_stats \
                 WHERE schemaname = 'public' AND tablename LIKE 'case\\_%' \
                 UNION ALL SELECT statistics_name::text FROM pg_stats_ext_exprs \
                 ORDER BY 1",
            )
            .await;
        assert_eq!(
            analysed,
            [
                "case_deadlines",
                "case_items",
                "case_records",
                "case_summaries",
                "case_summaries_search_words"
            ]
        );
        // The role goes (roles belong to the whole server, not to the test's database).
        app.sql(&format!("REASSIGN OWNED BY {owner} TO CURRENT_USER"))
            .await;
        app.sql(&format!("DROP ROLE {owner}")).await;
    }
    // And the service reads the rebuilt rows as it read its own, the search index too.
    assert_eq!(
        app.case(&id).await["notes"].as_array().map(Vec::len),
        Some(4)
    );
    assert_eq!(
        found_by_reference(&app, &id).await,
        BTreeSet::from([id.clone()])
    );
    // A case logged after the rebuild is indexed by the triggers made again.
    let later = app.new_case().await;
    assert_eq!(
        found_by_reference(&app, &later).await,
        BTreeSet::from([later])
    );
}

/// PostgreSQL's rebuild swaps its new tables in under a lock on all four read models. A
/// reader that holds one of them in a transaction and then reads another, while the rebuild
/// holds the second and waits for the first, must not end in a deadlock, which PostgreSQL
/// breaks after a second by aborting one side (the rebuild, which waited first): both finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_and_a_reader_of_two_read_models_both_finish() {
    use sqlx::Connection;
    let app = spawn_app(Backend::Postgres).await;
    app.new_case().await;
    let before = app.read_model_rows().await;
    let url = app.database_url();
    let mut reader = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut watcher = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut reader).await.unwrap();
    sqlx::query("SELECT count(*) FROM case_summaries")
        .execute(&mut reader)
        .await
        .unwrap();
    let rebuild = tokio::spawn(async move {
        let store = casefile_store::Store::open(&url, casefile_store::Access::ReadOnly)
            .await
            .unwrap();
        store
            .rebuild(&casefile_domain::Calendar::builtin(), |_| {})
            .await
    });
    // The rebuild has reached its swap: it holds case_records and waits for case_summaries.
    let waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted \
                   AND mode = 'AccessExclusiveLock' AND relation = 'case_summaries'::regclass";
    tokio::time::timeout(Duration::from_secs(30), async {
        while sqlx::query_scalar::<_, i64>(waiting)
            .fetch_one(&mut watcher)
            .await
            .unwrap()
            == 0
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the rebuild reaches its swap and waits for the reader");
    let read = tokio::time::timeout(
        Duration::from_secs(30),
        sqlx::query("SELECT count(*) FROM case_records").execute(&mut reader),
    )
    .await
    .expect("the reader's second read is answered");
    let committed = tokio::time::timeout(
        Duration::from_secs(30),
        sqlx::query("COMMIT").execute(&mut reader),
    )
    .await
    .expect("the reader's commit is answered");
    let rebuilt = tokio::time::timeout(Duration::from_secs(30), rebuild)
        .await
        .expect("the rebuild finishes")
        .unwrap();
    assert!(read.is_ok(), "the reader's second read: {read:?}");
    assert!(committed.is_ok(), "the reader's commit: {committed:?}");
    assert!(rebuilt.is_ok(), "the rebuild: {:?}", rebuilt.err());
    assert_eq!(app.read_model_rows().await, before);
}

/// PostgreSQL's sequencer looks for events without a position every 100 ms. Finding none,
/// it writes nothing: the position head's row keeps its version (`xmin`), where each poll
/// used to update it and commit a change the disk had to flush, ten times a second on an
/// idle instance. The polls go on all the while: an event written behind the service's
/// back, which wakes nothing, is placed by one, next in line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_sequencer_writes_nothing() {
    let app = spawn_app(Backend::Postgres).await;
    let id = app.new_case().await;
    // The sequencer places complaint events only.
    let unplaced = "SELECT CAST(COUNT(*) AS TEXT) FROM events \
                    WHERE position IS NULL AND aggregate_type = 'Complaint'";
    let placed = || async {
        for _ in 0..100 {
            if app.sql_texts(unplaced).await == ["0"] {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("events still without a position after 5 s");
    };
    placed().await;
    let head = "SELECT CAST(xmin AS TEXT) || ' ' || CAST(position AS TEXT) FROM event_head";
    let position = |head: &[String]| -> u64 {
        let (_, position) = head[0].split_once(' ').unwrap();
        position.parse().unwrap()
    };
    let before = app.sql_texts(head).await;
    // Ten polls.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        app.sql_texts(head).await,
        before,
        "a poll with nothing to place leaves the head as it was"
    );
    // A copy of the case's last event as its next one, written straight to the table.
    app.sql(&format!(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata, prev_hash, hash) \
         SELECT aggregate_type, aggregate_id, sequence + 1, event_type, event_version, payload, \
         metadata, hash, '{}' FROM events WHERE aggregate_id = '{id}' \
         ORDER BY sequence DESC LIMIT 1",
        "ab".repeat(32)
    ))
    .await;
    placed().await;
    let after = app.sql_texts(head).await;
    assert_eq!(
        position(&after),
        position(&before) + 1,
        "the next poll placed the new event next: {before:?} to {after:?}"
    );
    let positions = app
        .sql_texts(
            "SELECT CAST(COUNT(position) AS TEXT) || ' ' || CAST(MAX(position) AS TEXT) \
             FROM events WHERE aggregate_type = 'Complaint'",
        )
        .await;
    let whole = position(&after);
    assert_eq!(
        positions,
        [format!("{whole} {whole}")],
        "positions 1 to {whole}, none missing"
    );
}

/// PostgreSQL's rebuild drops the old read-model tables at its end. A view of the store's
/// owner on one would stop that drop after all the work: the rebuild refuses before any,
/// naming the view, and changes nothing; without the view it goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_refuses_a_view_on_a_read_model_up_front() {
    let app = spawn_app(Backend::Postgres).await;
    app.new_case().await;
    let before = app.read_model_rows().await;
    app.sql("CREATE VIEW open_cases AS SELECT id FROM case_summaries WHERE status = 'open'")
        .await;
    let store = casefile_store::Store::open(&app.database_url(), casefile_store::Access::ReadOnly)
        .await
        .unwrap();
    let refused = store
        .rebuild(&casefile_domain::Calendar::builtin(), |_| {})
        .await
        .expect_err("a view on a read model");
    assert!(
        refused.to_string().contains("view open_cases"),
        "the refusal names the view: {refused}"
    );
    assert_eq!(app.read_model_rows().await, before);
    app.sql("DROP VIEW open_cases").await;
    app.rebuild().await;
    assert_eq!(app.read_model_rows().await, before);
}

/// `casefile-replay rebuild` run again and again while staff log cases: every rebuild
/// succeeds, every logged case is in the queue afterwards, and the views equal a rebuild.
async fn rebuild_during_writes_scenario(backend: Backend) {
    let app = Arc::new(spawn_app(backend).await);
    for _ in 0..100 {
        app.new_case().await;
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (app, done) = (app.clone(), done.clone());
        tokio::spawn(async move {
            let mut logged = BTreeSet::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) && logged.len() < 300 {
                logged.insert(app.new_case().await);
            }
            logged
        })
    };
    let store = casefile_store::Store::open(&app.database_url(), casefile_store::Access::ReadOnly)
        .await
        .unwrap();
    for round in 1..=5 {
        if let Err(err) = store
            .rebuild(&casefile_domain::Calendar::builtin(), |_| {})
            .await
        {
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            panic!("rebuild {round}, with cases being logged: {err}");
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let logged = writer.await.unwrap();
    assert!(!logged.is_empty(), "cases were logged during the rebuilds");
    let queue = app.queue_ids(&app.admin_token, "status=open").await;
    assert!(
        logged.is_subset(&queue),
        "missing from the queue: {:?}",
        logged.difference(&queue).collect::<Vec<_>>()
    );
    let rows = app.read_model_rows().await;
    app.rebuild().await;
    assert_eq!(app.read_model_rows().await, rows);
}

/// The ids the queue's free text finds for the reference of case `id`.
async fn found_by_reference(app: &TestApp, id: &str) -> BTreeSet<String> {
    let reference = str_at(&app.case(id).await, "reference").to_lowercase();
    app.queue_ids(&app.admin_token, &format!("q={reference}"))
        .await
}

/// Writers on two instances (one on SQLite, which has one writer anyway) while a reader
/// follows the feed: the reader must end with every event, in one unbroken run of positions.
async fn feed_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let auditor = app.user("Aud Auditor", "auditor").await;
    let second = app.sibling().await;
    let done_flag = Arc::new(std::sync::atomic::AtomicBool::new(false));

    let reader = {
        let client = app.client.clone();
        let url = app.url("/api/v1/events");
        let token = auditor.token.clone();
        let done_flag = done_flag.clone();
        tokio::spawn(async move {
            let mut seen: Vec<(i64, String, u64)> = Vec::new();
            let mut after = 0_i64;
            let mut idle_after_done = 0;
            loop {
                let body: Value = client
                    .get(format!("{url}?after={after}&limit=37"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("feed answers")
                    .json()
                    .await
                    .expect("feed is JSON");
                let events = body["events"].as_array().cloned().unwrap_or_default();
                for e in &events {
                    seen.push((
                        e["position"].as_i64().unwrap(),
                        e["case_id"].as_str().unwrap().to_string(),
                        e["sequence"].as_u64().unwrap(),
                    ));
                }
                after = body["next_after"].as_i64().unwrap();
                if events.is_empty() {
                    if done_flag.load(std::sync::atomic::Ordering::SeqCst) {
                        idle_after_done += 1;
                        // The sequencer places late events within a few hundred ms.
                        if idle_after_done > 20 {
                            return seen;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            }
        })
    };

    let mut writers = Vec::new();
    for w in 0..6 {
        let target = if w % 2 == 0 {
            app.address.clone()
        } else {
            second.address.clone()
        };
        let client = app.client.clone();
        let token = app.admin_token.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..6 {
                let view: Value = client
                    .post(format!("{target}/api/v1/complaints"))
                    .bearer_auth(&token)
                    .json(&valid_complaint())
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let id = view["id"].as_str().unwrap().to_string();
                for n in 0..2 {
                    let status = client
                        .post(format!("{target}/api/v1/complaints/{id}/notes"))
                        .bearer_auth(&token)
                        .json(&json!({"text": format!("note {n}")}))
                        .send()
                        .await
                        .unwrap()
                        .status();
                    assert!(status.is_success(), "note answered {status}");
                }
                ids.push(id);
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for writer in writers {
        ids.extend(writer.await.unwrap());
    }
    done_flag.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();

    let positions: Vec<i64> = seen.iter().map(|(p, _, _)| *p).collect();
    let expected: Vec<i64> = (1..=positions.len() as i64).collect();
    assert_eq!(
        positions, expected,
        "one unbroken run of positions, in order"
    );
    let got: BTreeSet<(String, u64)> = seen.iter().map(|(_, c, s)| (c.clone(), *s)).collect();
    let mut want = BTreeSet::new();
    for id in &ids {
        // Logged, Defined and two notes.
        for seq in 1..=4 {
            want.insert((id.clone(), seq));
        }
    }
    assert_eq!(got.len(), seen.len(), "no event twice");
    assert_eq!(got, want, "every event of every case");
}

async fn two_instances_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let second = app.sibling().await;
    let mut cases = Vec::new();
    for _ in 0..4 {
        cases.push(app.new_case().await);
    }
    let written: Arc<Mutex<BTreeMap<String, Vec<String>>>> = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..16 {
        let target = if w % 2 == 0 {
            app.address.clone()
        } else {
            second.address.clone()
        };
        let client = app.client.clone();
        let token = app.admin_token.clone();
        let case = cases[w % cases.len()].clone();
        let written = written.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..4 {
                let text = format!("writer {w} note {n}");
                let response = client
                    .post(format!("{target}/api/v1/complaints/{case}/notes"))
                    .bearer_auth(&token)
                    .json(&json!({"text": text}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                if status.is_success() {
                    written
                        .lock()
                        .await
                        .entry(case.clone())
                        .or_default()
                        .push(text);
                } else {
                    assert_eq!(status, StatusCode::CONFLICT, "only a lost race may fail");
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let written = written.lock().await.clone();
    for id in &cases {
        let events = app.history(id).await;
        assert_gapless(&events);
        let notes: BTreeSet<String> = second.case(id).await["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["text"].as_str().unwrap().to_string())
            .collect();
        let want: BTreeSet<String> = written
            .get(id)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        assert_eq!(
            notes, want,
            "every acknowledged note of {id}, and nothing else"
        );
        assert_eq!(
            events.len(),
            2 + want.len(),
            "Logged, Defined and the notes"
        );
    }
    let before = app.read_model_rows().await;
    app.rebuild().await;
    assert_eq!(
        app.read_model_rows().await,
        before,
        "the views equal a rebuild"
    );
}

/// Clients that give up after 1 to 25 ms: whatever committed is whole and in the queue.
async fn hang_up_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut tasks = Vec::new();
    for w in 0..8_u64 {
        let url = app.url("/api/v1/complaints");
        let token = app.admin_token.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_millis(1 + (w * 3) % 25))
                .build()
                .unwrap();
            for _ in 0..15 {
                let _ = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&valid_complaint())
                    .send()
                    .await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // Let requests the server was still running finish.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logged = app
        .sql_texts("SELECT aggregate_id FROM events WHERE sequence = 1")
        .await;
    assert_eq!(
        app.case_total().await,
        logged.len() as u64,
        "every case is in the queue"
    );
    let before = app.read_model_rows().await;
    app.rebuild().await;
    assert_eq!(app.read_model_rows().await, before);
}

/// A case whose notes hold more than the 16 KiB of entries from which an instance keeps
/// them in memory: every answer and view still has every note, in order, whichever
/// instance wrote them, and an instance whose kept entries no longer match the store's
/// events reads them all again.
async fn long_case_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let second = app.sibling().await;
    let id = app.new_case().await;
    let mut written = Vec::new();
    for n in 0..24 {
        let text = format!("note {n}: {}", "x".repeat(1_000));
        app.act_ok(&app.admin_token, &id, "notes", json!({"text": text}))
            .await;
        written.push(text);
    }
    let texts = |view: &Value| -> Vec<String> {
        view["notes"]
            .as_array()
            .unwrap_or_else(|| panic!("notes in {view}"))
            .iter()
            .map(|n| str_at(n, "text"))
            .collect()
    };
    assert_eq!(texts(&app.case(&id).await), written);
    // Notes added through the other instance, then a command answered in full by this one.
    for n in 24..27 {
        let text = format!("note {n} from the second instance");
        second
            .act_ok(&app.admin_token, &id, "notes", json!({"text": text}))
            .await;
        written.push(text);
    }
    let answer = app
        .act_ok(
            &app.admin_token,
            &id,
            "categorise",
            json!({"theme": "Repairs"}),
        )
        .await;
    assert_eq!(texts(&answer), written, "the answer has every note");
    assert_eq!(texts(&app.case(&id).await), written);
    assert_eq!(app.case(&id).await, second.case(&id).await);
    // The store's events no longer end where this instance's kept entries do (as when a
    // store is restored under a running service), and an entry reads differently there.
    let version = app.history(&id).await.len();
    app.sql(&format!(
        "UPDATE events SET hash = 'restored' WHERE aggregate_id = '{id}' AND sequence = {version}"
    ))
    .await;
    app.sql(&format!(
        "UPDATE case_items SET body = replace(body, 'note 0:', 'restored note 0:') \
         WHERE case_id = '{id}' AND sequence = 3"
    ))
    .await;
    written[0] = written[0].replacen("note 0:", "restored note 0:", 1);
    assert_eq!(
        texts(&app.case(&id).await),
        written,
        "read again from the store"
    );
    // Both outcomes happened in this process (its counters are shared by every test in it,
    // and only this one writes a case this long).
    let metrics = app.metrics_text().await;
    for outcome in ["reused", "reread"] {
        let line = format!("casefile_entry_cache_total{{outcome=\"{outcome}\"}} ");
        assert!(metrics.contains(&line), "{line}in\n{metrics}");
    }
}
