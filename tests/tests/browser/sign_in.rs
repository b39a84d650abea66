//! A wrong password is refused without saying which half was wrong; five in a row lock
//! the account, and then even the right password is refused until the lock ends.

use casefile_tests::{spawn_app, Backend};

use crate::driver::Browser;
use crate::journeys::{sign_in, web_user, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_and_five_in_a_row_lock_the_account() {
    let app = spawn_app(Backend::Sqlite).await;
    web_user(&app, "Mo Manager", &["manager"], "mo@example.org").await;
    let browser = Browser::start(&app.address).await;

    sign_in(&browser, "mo@example.org", "not the password").await;
    assert_eq!(browser.path().await, "/sign-in");
    let summary = browser.text(".error-summary").await;
    assert!(
        summary.contains("The email address or password is not right."),
        "{summary}"
    );
    assert_eq!(
        browser
            .find("#password")
            .await
            .attr("aria-describedby")
            .await
            .unwrap(),
        Some("password-error".to_string())
    );
    // What was typed as the email stays; the password does not.
    assert_eq!(
        browser.find("#email").await.prop("value").await.unwrap(),
        Some("mo@example.org".to_string())
    );
    assert_eq!(
        browser.find("#password").await.prop("value").await.unwrap(),
        Some(String::new())
    );
    browser.check_page("sign-in-refused").await;

    // An unknown address gets the same answer as a wrong password.
    sign_in(&browser, "nobody@example.org", "not the password").await;
    assert!(browser
        .text(".error-summary")
        .await
        .contains("The email address or password is not right."));

    for _ in 2..=4 {
        sign_in(&browser, "mo@example.org", "still not it").await;
        assert!(browser.text(".error-summary").await.contains("not right"));
    }
    // The fifth failure in a row locks the account…
    sign_in(&browser, "mo@example.org", "still not it").await;
    let summary = browser.text(".error-summary").await;
    assert!(summary.contains("This account is locked"), "{summary}");
    // …so the right password is refused too, with the same message.
    sign_in(&browser, "mo@example.org", PASSWORD).await;
    assert_eq!(browser.path().await, "/sign-in");
    let summary = browser.text(".error-summary").await;
    assert!(summary.contains("This account is locked"), "{summary}");
    assert!(summary.contains("seconds"), "{summary}");
    browser.check_page("sign-in-locked").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accessibility_check_finds_a_violation_planted_in_a_page() {
    let app = spawn_app(Backend::Sqlite).await;
    let browser = Browser::start(&app.address).await;
    browser.goto("/sign-in").await;
    assert_eq!(browser.axe().await, Vec::<serde_json::Value>::new());
    // An image with no text alternative breaks WCAG 1.1.1.
    browser
        .client()
        .execute(
            "const img = document.createElement('img'); img.src = 'data:,'; \
             document.querySelector('main').appendChild(img);",
            vec![],
        )
        .await
        .unwrap();
    let rules: Vec<String> = browser
        .axe()
        .await
        .iter()
        .map(|v| v["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(rules, vec!["image-alt".to_string()]);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_tab_reaches_a_visible_skip_link_that_jumps_to_the_main_content() {
    let app = spawn_app(Backend::Sqlite).await;
    let browser = Browser::start(&app.address).await;
    browser.goto("/sign-in").await;
    browser.press("\u{E004}").await;
    assert_eq!(browser.focused_text().await, "Skip to main content");
    let left = browser
        .client()
        .execute(
            "return document.activeElement.getBoundingClientRect().left",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        left.as_f64().is_some_and(|x| x >= 0.0),
        "the focused skip link is off screen: {left}"
    );
    browser.screenshot("skip-link-focused").await;
    browser.press("\u{E007}").await;
    let hash = browser
        .client()
        .execute("return window.location.hash", vec![])
        .await
        .unwrap();
    assert_eq!(hash, serde_json::json!("#main"));
    let focused = browser
        .client()
        .execute("return document.activeElement.id", vec![])
        .await
        .unwrap();
    assert_eq!(focused, serde_json::json!("main"));
    // The next Tab goes to the first field of the form.
    browser.press("\u{E004}").await;
    let focused = browser
        .client()
        .execute("return document.activeElement.id", vec![])
        .await
        .unwrap();
    assert_eq!(focused, serde_json::json!("email"));
    browser.close().await;
}
