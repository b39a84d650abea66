//! The staff web app spoken to as a browser speaks to it, over plain HTTP: a session
//! cookie, forms with their CSRF field, redirects not followed.

use reqwest::StatusCode;
use serde_json::json;

use crate::TestApp;

/// A signed-in browser session.
pub struct WebSession {
    address: String,
    browser: reqwest::Client,
    /// `casefile_session=…`, sent with every request.
    cookie: String,
}

impl TestApp {
    /// Creates a user with `roles`, an e-mail and a password, and signs them in through
    /// the sign-in form.
    pub async fn web_session(&self, email: &str, roles: &[&str]) -> WebSession {
        let password = "correct horse battery staple";
        let (status, body) = self
            .post(
                "/api/v1/users",
                &self.admin_token,
                json!({"name": "Wren Webb", "roles": roles, "email": email, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let browser = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            // A safety net against a hung server, not an assertion about speed.
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .unwrap();
        let mut session = WebSession {
            address: self.address.clone(),
            browser,
            cookie: String::new(),
        };
        let form = session.get("/sign-in").await;
        session.cookie = format!("casefile_csrf={}", set_cookie(&form, "casefile_csrf"));
        let csrf = csrf_field(&form.text().await.unwrap());
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &csrf)
            .append_pair("email", email)
            .append_pair("password", password)
            .finish();
        let signed_in = session.post_form("/sign-in", body).await;
        assert!(
            signed_in.status().is_redirection(),
            "{}",
            signed_in.status()
        );
        session.cookie = format!(
            "casefile_session={}",
            set_cookie(&signed_in, "casefile_session")
        );
        session
    }
}

impl WebSession {
    /// A page at `path` (from the server root).
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.browser
            .get(format!("{}{path}", self.address))
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await
            .unwrap()
    }

    /// A form posted to `path` as a browser posts it.
    pub async fn post_form(&self, path: &str, body: String) -> reqwest::Response {
        self.browser
            .post(format!("{}{path}", self.address))
            .header(reqwest::header::COOKIE, &self.cookie)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// A body of `content_type` (a multipart form, say) posted to `path`.
    pub async fn post_body(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        self.browser
            .post(format!("{}{path}", self.address))
            .header(reqwest::header::COOKIE, &self.cookie)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }
}

/// The value of the cookie `name` a response sets.
fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie set"))
        .to_string()
}

/// The value of a page's first `csrf` field.
pub fn csrf_field(html: &str) -> String {
    html.split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf field")
        .to_string()
}
