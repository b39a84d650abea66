//! A headless Chromium driven through chromedriver, one per test: a fresh profile, the
//! vendored axe-core injected into pages on demand, screenshots under `target/screenshots/`.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// axe-core 4.14.1, vendored (see tests/assets/README.md).
const AXE: &str = include_str!("../../assets/axe.min.js");

/// The WCAG 2.2 A and AA rule tags axe runs.
const WCAG_TAGS: [&str; 5] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

fn binary(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// Fails the test, naming the script that installs what is missing.
fn require(path: &Path, what: &str) {
    assert!(
        path.is_file(),
        "{what} not found at {}: run scripts/install-browser.sh to install Debian's \
         chromium and chromium-driver packages (or set CASEFILE_CHROMIUM / \
         CASEFILE_CHROMEDRIVER to where they are)",
        path.display()
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port for chromedriver")
}

/// `target/screenshots`, beside the test binary's `debug` folder.
pub fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/browser-… → target
    let target = exe
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("screenshots")
}

pub struct Browser {
    client: Option<Client>,
    pub base: String,
    /// chromedriver, leader of its own process group, which Chromium joins.
    driver: Option<Child>,
    profile: PathBuf,
}

/// Ends chromedriver and the Chromium it started, even when a test fails half way.
fn stop_driver(driver: &mut Child) {
    let group = format!("-{}", driver.id());
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(mut driver) = self.driver.take() {
            stop_driver(&mut driver);
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile, pointed at `base`
    /// (`http://127.0.0.1:PORT`). A start that fails (Chromium can time out on a busy
    /// machine) is tried again, up to three times, each with a new driver and profile.
    pub async fn start(base: &str) -> Browser {
        let chromium = binary("CASEFILE_CHROMIUM", CHROMIUM);
        let chromedriver = binary("CASEFILE_CHROMEDRIVER", CHROMEDRIVER);
        require(&chromium, "Chromium");
        require(&chromedriver, "chromedriver");
        // The dependency tree enables two of rustls's crypto back ends, so it cannot pick
        // one by itself; chromedriver is reached over plain HTTP anyway.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Self::try_start(&chromium, &chromedriver, base).await {
                Ok(browser) => return browser,
                Err(err) => failures.push(err),
            }
        }
        panic!(
            "chromedriver would not start Chromium: {}",
            failures.join("; ")
        );
    }

    async fn try_start(
        chromium: &Path,
        chromedriver: &Path,
        base: &str,
    ) -> Result<Browser, String> {
        let port = free_port();
        let mut command = Command::new(chromedriver);
        command.process_group(0);
        let driver = command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", chromedriver.display()))?;
        let profile = std::env::temp_dir().join(format!(
            "casefile-chromium-{}",
            uuid::Uuid::new_v4().simple()
        ));
        // From here on, dropping the half-built browser stops the driver.
        let mut browser = Browser {
            client: None,
            base: base.to_string(),
            driver: Some(driver),
            profile,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "chromedriver did not listen on port {port} within 30 s"
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-quic".to_string(),
            "--no-first-run".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--window-size=1280,1024".to_string(),
            format!("--user-data-dir={}", browser.profile.display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_string(),
            json!({"binary": chromium.display().to_string(), "args": args}),
        );
        let client = ClientBuilder::rustls()
            .map_err(|e| format!("a WebDriver client: {e}"))?
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|e| e.to_string())?;
        browser.client = Some(client);
        Ok(browser)
    }

    pub async fn goto(&self, path: &str) {
        self.client()
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    }

    /// The path and query of the page now shown.
    pub async fn path(&self) -> String {
        let url = self.client().current_url().await.expect("the current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        }
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client().find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no element `{css}` on {}: {e}", self.path().await),
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client()
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
            .is_empty()
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear a field");
        field.send_keys(text).await.expect("type into a field");
    }

    pub async fn choose(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select `{value}` in `{css}`: {e}"));
    }

    /// Clicks and waits for the page the click loads.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        let old = self
            .client()
            .find(Locator::Css("html"))
            .await
            .expect("the page");
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("click `{css}`: {e}"));
        // The old document's root goes stale once the new page has loaded.
        let started = Instant::now();
        while old.attr("lang").await.is_ok() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "clicking `{css}` loaded no page"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.ready().await;
    }

    /// Clicks something that changes the page without loading another (a disclosure).
    pub async fn toggle(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click `{css}`: {e}"));
    }

    async fn ready(&self) {
        let started = Instant::now();
        loop {
            let state = self
                .client()
                .execute("return document.readyState", vec![])
                .await
                .unwrap_or(Value::Null);
            if state == "complete" {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the page did not finish loading"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a screenshot of the page as `target/screenshots/<name>.png`, asserts axe-core
    /// finds no WCAG 2.2 A or AA violation on it, and that it reflows at 400 % zoom.
    pub async fn check_page(&self, name: &str) {
        self.ready().await;
        self.screenshot(name).await;
        let violations = self.axe().await;
        assert!(
            violations.is_empty(),
            "axe-core found WCAG 2.2 A/AA violations on `{name}` ({}):\n{}",
            self.path().await,
            serde_json::to_string_pretty(&violations).unwrap_or_default()
        );
        self.check_reflow(name).await;
    }

    /// WCAG 1.4.10: at 320 CSS pixels wide (a 1280-pixel screen at 400 % zoom) the page
    /// scrolls only down, never sideways. Saved as `<name>-400pc.png`.
    pub async fn check_reflow(&self, name: &str) {
        self.client()
            .set_window_size(320, 900)
            .await
            .expect("a narrow window");
        let widths = self
            .client()
            .execute(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]",
                vec![],
            )
            .await
            .expect("the page's widths");
        let png = self.client().screenshot().await.expect("a screenshot");
        std::fs::write(screenshot_dir().join(format!("{name}-400pc.png")), png)
            .expect("write the screenshot");
        self.client()
            .set_window_size(1280, 1024)
            .await
            .expect("the window back to its size");
        let (scroll, client) = (widths[0].as_u64(), widths[1].as_u64());
        assert!(
            matches!((scroll, client), (Some(s), Some(c)) if c <= 320 && s <= c),
            "`{name}` does not reflow at 320 px: content {scroll:?} px wide in a {client:?} px window"
        );
    }

    /// The text of the element that has the keyboard focus.
    pub async fn focused_text(&self) -> String {
        self.client()
            .execute("return document.activeElement.textContent.trim()", vec![])
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Presses a key (a WebDriver key code such as `\u{E004}` for Tab) on the focused element.
    pub async fn press(&self, key: &str) {
        let focused = self
            .client()
            .active_element()
            .await
            .expect("the focused element");
        focused.send_keys(key).await.expect("a key press");
    }

    pub async fn screenshot(&self, name: &str) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("the screenshots folder");
        // Tall enough for a whole case page in one picture.
        let height = self
            .client()
            .execute(
                "return Math.min(4000, Math.max(document.documentElement.scrollHeight, 600))",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(1024);
        let _ = self
            .client()
            .set_window_size(1280, u32::try_from(height).unwrap_or(1024))
            .await;
        let png = self.client().screenshot().await.expect("a screenshot");
        let _ = self.client().set_window_size(1280, 1024).await;
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write the screenshot");
    }

    /// The violations axe-core reports for the WCAG 2.2 A and AA tags, each with its rule,
    /// help text and the elements that fail it.
    pub async fn axe(&self) -> Vec<Value> {
        let loaded = self
            .client()
            .execute(
                &format!("{AXE}\n;return typeof window.axe === 'object';"),
                vec![],
            )
            .await
            .expect("inject axe-core");
        assert_eq!(loaded, Value::Bool(true), "axe-core did not load");
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag', values: arguments[0] } })
              .then(r => done(r.violations.map(v => ({
                  id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary)
              }))))
              .catch(e => done([{ id: 'axe-error', help: String(e) }]));
        "#;
        let result = self
            .client()
            .execute_async(script, vec![json!(WCAG_TAGS)])
            .await
            .expect("run axe-core");
        match result {
            Value::Array(violations) => violations,
            other => panic!("axe-core answered {other}, not a list of violations"),
        }
    }

    /// The WebDriver session.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("a started browser")
    }

    /// Ends the WebDriver session (closing Chromium), then chromedriver.
    pub async fn close(self) {
        let _ = self.client().clone().close().await;
    }
}
