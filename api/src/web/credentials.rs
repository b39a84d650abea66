//! Sign-in credentials: email addresses as sign-in names, Argon2 password hashes, the
//! lockout after repeated failures, and one-time set-password links. Shared by the users
//! API and the web pages, so both apply the same rules.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;

use crate::auth::{hash_token, new_token};
use crate::error::ApiError;
use casefile_store::web::{is_unique_violation, CredentialRow};
use casefile_store::Store;

/// Consecutive failures allowed before the account locks.
pub const FREE_FAILURES: i64 = 4;
/// The longest lock, whatever the number of failures.
pub const MAX_LOCK_SECONDS: i64 = 3600;
/// How long a set-password link works.
pub const LINK_HOURS: i64 = 72;
/// Shortest password accepted (NIST SP 800-63B asks for at least 8).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted, so hashing stays cheap.
pub const MAX_PASSWORD_CHARS: usize = 200;

/// Why a credential could not be set. Each maps to a field of the form or request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("enter an email address like name@example.org")]
    InvalidEmail,
    #[error("another user already signs in with this email address")]
    EmailTaken,
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    #[error("the password must be at most {MAX_PASSWORD_CHARS} characters")]
    PasswordTooLong,
}

impl CredentialError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidEmail => "invalid_email",
            Self::EmailTaken => "email_taken",
            Self::PasswordTooShort => "password_too_short",
            Self::PasswordTooLong => "password_too_long",
        }
    }

    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::InvalidEmail | Self::EmailTaken => "email",
            Self::PasswordTooShort | Self::PasswordTooLong => "password",
        }
    }
}

impl From<CredentialError> for ApiError {
    fn from(err: CredentialError) -> Self {
        let field = err.field();
        match err {
            CredentialError::EmailTaken => ApiError::Rejected {
                code: err.code(),
                message: err.to_string(),
            },
            _ => ApiError::Unprocessable {
                code: err.code(),
                message: format!("field `{field}`: {err}"),
                details: serde_json::json!({"field": field}),
            },
        }
    }
}

/// The sign-in name for an email address: trimmed and lower-cased, so `Sam@Example.org`
/// and `sam@example.org` are one account. Only the shape is checked; whether the address
/// receives mail is not ours to know.
pub fn normalise_email(raw: &str) -> Result<String, CredentialError> {
    let email = raw.trim().to_lowercase();
    let valid = email.chars().count() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        // And one a mail server can be given, for the alert emails sent to it.
        && email.parse::<lettre::Address>().is_ok();
    if valid {
        Ok(email)
    } else {
        Err(CredentialError::InvalidEmail)
    }
}

pub fn check_password(password: &str) -> Result<(), CredentialError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err(CredentialError::PasswordTooShort)
    } else if chars > MAX_PASSWORD_CHARS {
        Err(CredentialError::PasswordTooLong)
    } else {
        Ok(())
    }
}

/// An Argon2id hash of the password in PHC form. Hashing is deliberately slow, so it runs
/// off the async workers.
pub async fn hash_password(password: &str) -> Result<String, ApiError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|message| ApiError::Internal(message.into()))
}

/// Whether the password matches the stored hash. With no hash, a decoy is checked so that
/// an unknown user takes as long as a known one.
pub async fn verify_password(password: &str, hash: Option<&str>) -> Result<bool, ApiError> {
    let known = hash.is_some();
    let hash = hash.map(str::to_string);
    let password = password.to_string();
    let matched = tokio::task::spawn_blocking(move || {
        let hash = hash.as_deref().unwrap_or_else(|| decoy_hash());
        PasswordHash::new(hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(known && matched)
}

/// A hash of a random secret nobody knows, made once per process.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let salt = SaltString::encode_b64(&bytes[..16]);
        salt.ok()
            .and_then(|salt| {
                Argon2::default()
                    .hash_password(&bytes, &salt)
                    .ok()
                    .map(|hash| hash.to_string())
            })
            .unwrap_or_default()
    })
}

/// The lock earned by the `failures`-th consecutive failure: none for the first
/// [`FREE_FAILURES`], then 2^failures seconds (32 s, 64 s, …) up to [`MAX_LOCK_SECONDS`].
pub fn lock_after(failures: i64) -> Option<Duration> {
    if failures <= FREE_FAILURES {
        return None;
    }
    let seconds = 1i64
        .checked_shl(u32::try_from(failures).unwrap_or(u32::MAX))
        .filter(|s| *s > 0)
        .map_or(MAX_LOCK_SECONDS, |s| s.min(MAX_LOCK_SECONDS));
    Some(Duration::seconds(seconds))
}

/// What a sign-in attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInOutcome {
    /// The user id.
    SignedIn(String),
    /// Wrong name or password; the message never says which.
    Refused,
    /// Too many failures: no password is checked until then.
    Locked { until: DateTime<Utc> },
}

/// Checks an email and password, counting failures and locking the account after too
/// many. A locked account is refused without looking at the password.
pub async fn sign_in_with_password(
    store: &Store,
    email: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<SignInOutcome, ApiError> {
    // Looked up in its stored form alone, not checked as a new address is: an address
    // stored before a check was added still signs in.
    let email = email.trim().to_lowercase();
    let credentials = if email.is_empty() {
        None
    } else {
        store.credentials_by_email(&email).await?
    };
    if let Some(until) = credentials
        .as_ref()
        .and_then(|c| c.locked_until)
        .filter(|until| *until > now)
    {
        return Ok(SignInOutcome::Locked { until });
    }
    let hash = credentials
        .as_ref()
        .and_then(|c: &CredentialRow| c.password_hash.as_deref());
    if verify_password(password, hash).await? {
        let Some(credentials) = credentials else {
            return Ok(SignInOutcome::Refused);
        };
        store.clear_failed_sign_ins(&credentials.user_id).await?;
        return Ok(SignInOutcome::SignedIn(credentials.user_id));
    }
    let Some(credentials) = credentials else {
        return Ok(SignInOutcome::Refused);
    };
    let failures = store.count_failed_sign_in(&credentials.user_id).await?;
    match lock_after(failures) {
        Some(lock) => {
            let until = now + lock;
            store.lock_sign_in(&credentials.user_id, until).await?;
            Ok(SignInOutcome::Locked { until })
        }
        None => Ok(SignInOutcome::Refused),
    }
}

/// Sets a user's sign-in name; `None` or blank clears it.
pub async fn set_email(
    store: &Store,
    user_id: &str,
    email: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let email = email
        .filter(|e| !e.trim().is_empty())
        .map(normalise_email)
        .transpose()?;
    match store.set_email(user_id, email.as_deref()).await {
        Err(err) if is_unique_violation(&err) => Err(CredentialError::EmailTaken.into()),
        other => other.map_err(ApiError::from).map(|()| email),
    }
}

/// Sets a user's password and ends their sessions, so an old password's sessions stop.
pub async fn set_password(store: &Store, user_id: &str, password: &str) -> Result<(), ApiError> {
    check_password(password)?;
    let hash = hash_password(password).await?;
    store.set_password_hash(user_id, &hash).await?;
    store.delete_sessions_of(user_id).await?;
    Ok(())
}

/// A new one-time set-password link's token, stored by its hash, and when it expires.
pub async fn new_password_link(
    store: &Store,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let token = new_token();
    let expires_at = now + Duration::hours(LINK_HOURS);
    store
        .insert_password_link(&hash_token(&token), user_id, expires_at)
        .await?;
    Ok((token, expires_at))
}

/// The path of the page a set-password link opens.
pub fn password_link_path(token: &str) -> String {
    format!("/set-password?token={token}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_first_four_failures_lock_nothing() {
        assert_eq!((1..=4).map(lock_after).collect::<Vec<_>>(), vec![None; 4]);
    }

    #[test]
    fn each_failure_from_the_fifth_doubles_the_lock() {
        let seconds: Vec<i64> = (5..=8)
            .map(|n| lock_after(n).unwrap().num_seconds())
            .collect();
        assert_eq!(seconds, vec![32, 64, 128, 256]);
    }

    #[test]
    fn the_lock_never_exceeds_an_hour() {
        for failures in [12, 13, 63, 64, 1000, i64::MAX] {
            assert_eq!(
                lock_after(failures).map(|d| d.num_seconds()),
                Some(MAX_LOCK_SECONDS),
                "{failures} failures"
            );
        }
    }

    #[test]
    fn an_email_is_its_trimmed_lower_case_form() {
        assert_eq!(
            normalise_email("  Sam.Patel@Example.ORG "),
            Ok("sam.patel@example.org".to_string())
        );
    }

    #[test]
    fn text_that_is_not_an_email_address_is_refused() {
        for raw in [
            "",
            "sam",
            "sam@",
            "@example.org",
            "sam@example",
            "a b@example.org",
            // Ones a mail server cannot be given (alerts are emailed to them).
            "bob,jim@example.org",
            "a..b@example.org",
        ] {
            assert_eq!(
                normalise_email(raw),
                Err(CredentialError::InvalidEmail),
                "{raw}"
            );
        }
    }

    #[test]
    fn passwords_shorter_than_twelve_characters_are_refused() {
        assert_eq!(
            check_password("elevenchars"),
            Err(CredentialError::PasswordTooShort)
        );
        assert_eq!(check_password("twelve chars"), Ok(()));
    }

    #[tokio::test]
    async fn a_hashed_password_verifies_and_another_does_not() {
        let hash = hash_password("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&hash))
            .await
            .unwrap());
        assert!(!verify_password("correct horse battery!", Some(&hash))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn no_password_matches_a_user_without_one() {
        assert!(!verify_password("", None).await.unwrap());
    }
}
