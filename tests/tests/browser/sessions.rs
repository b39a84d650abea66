//! Sessions and forms over plain HTTP, as any browser would send them: cookie attributes,
//! CSRF refusals, sign-out, and a session that works on a second instance of the service.
//! These need no browser.

use casefile_api::config::Config;
use casefile_api::startup::Application;
use casefile_tests::web::csrf_field;
use casefile_tests::{spawn_app, Backend, StatusCode, TestApp};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;

use crate::journeys::{web_user, PASSWORD};

casefile_tests::both_backends! {
    the_session_cookie_is_http_only_same_site_lax_and_secure_only_over_tls => the_session_cookie_is_http_only_same_site_lax_and_secure_only_over_tls_scenario,
    a_form_without_the_sessions_csrf_token_changes_nothing => a_form_without_the_sessions_csrf_token_changes_nothing_scenario,
    signing_out_ends_the_session => signing_out_ends_the_session_scenario,
    the_lock_is_kept_in_the_store => the_lock_is_kept_in_the_store_scenario,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The `Set-Cookie` header that sets `name`, whole.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap()
}

struct SignedIn {
    /// The `Cookie` header value carrying the session.
    cookie: String,
    /// The whole `Set-Cookie` header of the session.
    set_cookie: String,
}

async fn sign_in(base: &str, email: &str, headers: &[(&str, &str)]) -> SignedIn {
    let client = client();
    let page = client.get(format!("{base}/sign-in")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let pre = cookie_value(&set_cookie(&page, "casefile_csrf").expect("a CSRF cookie"));
    let html = page.text().await.unwrap();
    let csrf = csrf_field(&html);
    assert_eq!(csrf, pre, "the form's token is the cookie's");
    let mut request = client
        .post(format!("{base}/sign-in"))
        .header(COOKIE, format!("casefile_csrf={pre}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf", &csrf),
            ("email", email),
            ("password", PASSWORD),
            ("next", "/"),
        ]));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set_cookie = set_cookie(&response, "casefile_session").expect("a session cookie");
    SignedIn {
        cookie: format!("casefile_session={}", cookie_value(&set_cookie)),
        set_cookie,
    }
}

async fn get(base: &str, path: &str, cookie: &str) -> reqwest::Response {
    client()
        .get(format!("{base}{path}"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

async fn officer(app: &TestApp) -> SignedIn {
    web_user(app, "Olu Officer", &["officer"], "olu@example.org").await;
    sign_in(&app.address, "olu@example.org", &[]).await
}

async fn the_session_cookie_is_http_only_same_site_lax_and_secure_only_over_tls_scenario(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let plain = officer(&app).await;
    assert!(
        plain.set_cookie.contains("; HttpOnly"),
        "{}",
        plain.set_cookie
    );
    assert!(
        plain.set_cookie.contains("; SameSite=Lax"),
        "{}",
        plain.set_cookie
    );
    assert!(!plain.set_cookie.contains("Secure"), "{}", plain.set_cookie);
    let tls = sign_in(
        &app.address,
        "olu@example.org",
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert!(tls.set_cookie.ends_with("; Secure"), "{}", tls.set_cookie);
}

async fn a_form_without_the_sessions_csrf_token_changes_nothing_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = officer(&app).await;
    let id = app.new_case().await;
    let logged = app.event_types(&id).await;
    for token in [None, Some("cf_forged")] {
        let mut pairs = vec![];
        if let Some(token) = token {
            pairs.push(("csrf", token));
        }
        let response = client()
            .post(format!("{}/cases/{id}/acknowledge", app.address))
            .header(COOKIE, &session.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&pairs))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "token {token:?}");
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("The form has expired"));
    }
    assert_eq!(app.event_types(&id).await, logged);

    // With the session's token the same form works.
    let page = get(&app.address, &format!("/cases/{id}"), &session.cookie).await;
    let csrf = csrf_field(&page.text().await.unwrap());
    let response = client()
        .post(format!("{}/cases/{id}/acknowledge", app.address))
        .header(COOKIE, &session.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", &csrf)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mut acknowledged = logged;
    acknowledged.push("Acknowledged".to_string());
    assert_eq!(app.event_types(&id).await, acknowledged);
}

async fn signing_out_ends_the_session_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = officer(&app).await;
    let home = get(&app.address, "/", &session.cookie).await;
    assert_eq!(home.status(), StatusCode::OK);
    let csrf = csrf_field(&home.text().await.unwrap());
    let response = client()
        .post(format!("{}/sign-out", app.address))
        .header(COOKIE, &session.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", &csrf)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cleared = set_cookie(&response, "casefile_session").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie, sent again, no longer signs anyone in.
    let home = get(&app.address, "/", &session.cookie).await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        home.headers().get(LOCATION).unwrap().to_str().unwrap(),
        "/sign-in?next=%2F"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_opened_on_one_instance_works_on_another_and_after_a_restart() {
    let path = std::env::temp_dir().join(format!(
        "casefile-test-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    let url = format!("sqlite://{}", path.display());
    let start = |config: Config| async move {
        let app = Application::build(config).await.unwrap();
        let base = format!("http://127.0.0.1:{}", app.local_addr().port());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        (base, tx, server)
    };
    let first_config = Config::for_tests(&url);
    let admin_token = first_config
        .admin_token
        .as_ref()
        .map(|t| t.expose().to_string())
        .unwrap();
    let (first, stop_first, first_server) = start(first_config).await;
    let (second, stop_second, second_server) = start(Config::for_tests(&url)).await;

    let created = client()
        .post(format!("{first}/api/v1/users"))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({
            "name": "Olu Officer", "roles": ["officer"],
            "email": "olu@example.org", "password": PASSWORD
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let session = sign_in(&first, "olu@example.org", &[]).await;
    let on_second = get(&second, "/", &session.cookie).await;
    assert_eq!(on_second.status(), StatusCode::OK);

    // Both stop; a new instance still knows the session.
    let _ = stop_first.send(());
    let _ = stop_second.send(());
    let _ = first_server.await;
    let _ = second_server.await;
    let (third, stop_third, third_server) = start(Config::for_tests(&url)).await;
    let after_restart = get(&third, "/", &session.cookie).await;
    assert_eq!(after_restart.status(), StatusCode::OK);
    let html = after_restart.text().await.unwrap();
    assert!(html.contains("Olu Officer"));
    let _ = stop_third.send(());
    let _ = third_server.await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Sends the sign-in form with `password`; returns the status.
async fn try_password(base: &str, email: &str, password: &str) -> StatusCode {
    let client = client();
    let page = client.get(format!("{base}/sign-in")).send().await.unwrap();
    let pre = cookie_value(&set_cookie(&page, "casefile_csrf").unwrap());
    client
        .post(format!("{base}/sign-in"))
        .header(COOKIE, format!("casefile_csrf={pre}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf", &pre),
            ("email", email),
            ("password", password),
        ]))
        .send()
        .await
        .unwrap()
        .status()
}

async fn the_lock_is_kept_in_the_store_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    web_user(&app, "Olu Officer", &["officer"], "olu@example.org").await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(try_password(&app.address, "olu@example.org", "wrong password").await);
    }
    statuses.push(try_password(&app.address, "olu@example.org", PASSWORD).await);
    let unauthorized = StatusCode::UNAUTHORIZED;
    let locked = StatusCode::TOO_MANY_REQUESTS;
    assert_eq!(
        statuses,
        vec![
            unauthorized,
            unauthorized,
            unauthorized,
            unauthorized,
            locked,
            locked
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_administrator_sets_up_their_sign_in_by_the_link_printed_at_start() {
    let path = std::env::temp_dir().join(format!(
        "casefile-test-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    let url = format!("sqlite://{}", path.display());
    let app = Application::build(Config::for_tests(&url)).await.unwrap();
    let link = app.admin_setup_path().expect("a set-up link").to_string();
    let base = format!("http://127.0.0.1:{}", app.local_addr().port());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));

    let page = client().get(format!("{base}{link}")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let pre = cookie_value(&set_cookie(&page, "casefile_csrf").unwrap());
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Your email address"),
        "the administrator has no email yet"
    );
    let token = link.trim_start_matches("/set-password?token=");
    let response = client()
        .post(format!("{base}/set-password"))
        .header(COOKIE, format!("casefile_csrf={pre}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf", &pre),
            ("token", token),
            ("email", "admin@example.org"),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = sign_in(&base, "admin@example.org", &[]).await;
    let users = get(&base, "/admin/users", &session.cookie).await;
    assert_eq!(users.status(), StatusCode::OK);
    let _ = tx.send(());
    let _ = server.await;

    // Once an administrator can sign in, no new link is made.
    let again = Application::build(Config::for_tests(&url)).await.unwrap();
    assert_eq!(again.admin_setup_path(), None);
    drop(again);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
