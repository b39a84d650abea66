//! What the staff web app keeps: sign-in credentials, sessions and one-time set-password
//! links. Secrets (session ids, link tokens) are stored only as SHA-256 hashes; passwords
//! only as Argon2 hashes. Times are RFC 3339 text in UTC, compared in Rust.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Row;

use crate::{on_pool, on_writer, Store};

/// A user's sign-in credentials and lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRow {
    pub user_id: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub failed_sign_ins: i64,
    pub locked_until: Option<DateTime<Utc>>,
}

/// A user with their sign-in name, for the admin page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub id: String,
    pub name: String,
    pub roles: String,
    pub email: Option<String>,
    pub has_password: bool,
    pub live_tokens: i64,
}

/// A live or expired session, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub user_id: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A set-password link, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordLinkRow {
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

/// Fixed width so that the text sorts as the time does.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

const CREDENTIAL_COLUMNS: &str = "user_id, email, password_hash, failed_sign_ins, locked_until";

fn credential_from_row<R: Row>(row: &R) -> Result<CredentialRow, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let locked_until: Option<String> = row.try_get("locked_until")?;
    Ok(CredentialRow {
        user_id: row.try_get("user_id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        failed_sign_ins: row.try_get("failed_sign_ins")?,
        locked_until: locked_until.as_deref().map(parse_time).transpose()?,
    })
}

/// Whether the error is the unique index on `email` refusing a second user.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

impl Store {
    pub async fn credentials(&self, user_id: &str) -> Result<Option<CredentialRow>, sqlx::Error> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM user_credentials WHERE user_id = $1");
        on_pool!(self, |pool| {
            let row = sqlx::query(&sql).bind(user_id).fetch_optional(pool).await?;
            row.map(|row| credential_from_row(&row)).transpose()
        })
    }

    /// The credentials whose sign-in name is `email` (already lower-cased).
    pub async fn credentials_by_email(
        &self,
        email: &str,
    ) -> Result<Option<CredentialRow>, sqlx::Error> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM user_credentials WHERE email = $1");
        on_pool!(self, |pool| {
            let row = sqlx::query(&sql).bind(email).fetch_optional(pool).await?;
            row.map(|row| credential_from_row(&row)).transpose()
        })
    }

    /// Sets or clears a user's sign-in name. Fails with a unique violation (see
    /// [`is_unique_violation`]) when another user has it.
    pub async fn set_email(&self, user_id: &str, email: Option<&str>) -> Result<(), sqlx::Error> {
        let sql = "INSERT INTO user_credentials (user_id, email, updated_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, \
                   updated_at = excluded.updated_at";
        let now = timestamp(Utc::now());
        on_writer!(self, |pool| sqlx::query(sql)
            .bind(user_id)
            .bind(email)
            .bind(&now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Sets a user's password hash and lifts any lock.
    pub async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<(), sqlx::Error> {
        let sql = "INSERT INTO user_credentials (user_id, password_hash, updated_at) \
                   VALUES ($1, $2, $3) \
                   ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, \
                   failed_sign_ins = 0, locked_until = NULL, updated_at = excluded.updated_at";
        let now = timestamp(Utc::now());
        on_writer!(self, |pool| sqlx::query(sql)
            .bind(user_id)
            .bind(hash)
            .bind(&now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Counts one more failed sign-in and returns the count, in one statement so that
    /// concurrent attempts each count.
    pub async fn count_failed_sign_in(&self, user_id: &str) -> Result<i64, sqlx::Error> {
        let sql = "UPDATE user_credentials SET failed_sign_ins = failed_sign_ins + 1 \
                   WHERE user_id = $1 RETURNING failed_sign_ins";
        on_writer!(self, |pool| sqlx::query_scalar::<_, i64>(sql)
            .bind(user_id)
            .fetch_optional(pool)
            .await)
        .map(Option::unwrap_or_default)
    }

    pub async fn lock_sign_in(
        &self,
        user_id: &str,
        until: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let sql = "UPDATE user_credentials SET locked_until = $2 WHERE user_id = $1";
        let until = timestamp(until);
        on_writer!(self, |pool| sqlx::query(sql)
            .bind(user_id)
            .bind(&until)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forgets failed attempts after a successful sign-in.
    pub async fn clear_failed_sign_ins(&self, user_id: &str) -> Result<(), sqlx::Error> {
        let sql = "UPDATE user_credentials SET failed_sign_ins = 0, locked_until = NULL \
                   WHERE user_id = $1";
        on_writer!(self, |pool| sqlx::query(sql)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Whether any administrator can sign in to the web app with a password.
    pub async fn admin_has_password(&self) -> Result<bool, sqlx::Error> {
        let sql = "SELECT COUNT(*) FROM user_credentials c JOIN users u ON u.id = c.user_id \
                   WHERE c.password_hash IS NOT NULL AND c.email IS NOT NULL \
                   AND (',' || u.roles || ',') LIKE '%,admin,%'";
        let count = on_pool!(self, |pool| sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await)?;
        Ok(count > 0)
    }

    /// Every user with their sign-in name and how many live tokens they hold.
    pub async fn accounts(&self) -> Result<Vec<AccountRow>, sqlx::Error> {
        let sql = "SELECT u.id, u.name, u.roles, c.email, \
                   CASE WHEN c.password_hash IS NULL THEN 0 ELSE 1 END AS has_password, \
                   (SELECT COUNT(*) FROM tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL) \
                   AS live_tokens \
                   FROM users u LEFT JOIN user_credentials c ON c.user_id = u.id \
                   ORDER BY u.created_at, u.id";
        on_pool!(self, |pool| {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    let has_password: i32 = row.try_get("has_password")?;
                    Ok(AccountRow {
                        id: row.try_get("id")?,
                        name: row.try_get("name")?,
                        roles: row.try_get("roles")?,
                        email: row.try_get("email")?,
                        has_password: has_password == 1,
                        live_tokens: row.try_get("live_tokens")?,
                    })
                })
                .collect()
        })
    }

    pub async fn insert_session(
        &self,
        id_hash: &str,
        user_id: &str,
        csrf_token: &str,
        method: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let sql =
            "INSERT INTO sessions (id_hash, user_id, csrf_token, method, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        let now = timestamp(Utc::now());
        let expires_at = timestamp(expires_at);
        on_writer!(self, |pool| sqlx::query(sql)
            .bind(id_hash)
            .bind(user_id)
            .bind(csrf_token)
            .bind(method)
            .bind(&now)
            .bind(&expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>, sqlx::Error> {
        let sql = "SELECT user_id, csrf_token, expires_at FROM sessions WHERE id_hash = $1";
        on_pool!(self, |pool| {
            let row = sqlx::query(sql).bind(id_hash).fetch_optional(pool).await?;
            row.map(|row| {
                let expires_at: String = row.try_get("expires_at")?;
                Ok(SessionRow {
                    user_id: row.try_get("user_id")?,
                    csrf_token: row.try_get("csrf_token")?,
                    expires_at: parse_time(&expires_at)?,
                })
            })
            .transpose()
        })
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<(), sqlx::Error> {
        on_writer!(self, |pool| sqlx::query(
            "DELETE FROM sessions WHERE id_hash = $1"
        )
        .bind(id_hash)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Signs a user out everywhere; returns how many sessions ended.
    pub async fn delete_sessions_of(&self, user_id: &str) -> Result<u64, sqlx::Error> {
        on_writer!(self, |pool| sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1"
        )
        .bind(user_id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
    }

    /// Removes sessions that expired before `now`.
    pub async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        let now = timestamp(now);
        on_writer!(self, |pool| sqlx::query(
            "DELETE FROM sessions WHERE expires_at < $1"
        )
        .bind(&now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
    }

    pub async fn insert_password_link(
        &self,
        token_hash: &str,
        user_id: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let sql = "INSERT INTO password_links (token_hash, user_id, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4)";
        let now = timestamp(Utc::now());
        let expires_at = timestamp(expires_at);
        on_writer!(self, |pool| sqlx::query(sql)
            .bind(token_hash)
            .bind(user_id)
            .bind(&now)
            .bind(&expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn password_link(
        &self,
        token_hash: &str,
    ) -> Result<Option<PasswordLinkRow>, sqlx::Error> {
        let sql = "SELECT user_id, expires_at, used_at FROM password_links WHERE token_hash = $1";
        on_pool!(self, |pool| {
            let row = sqlx::query(sql)
                .bind(token_hash)
                .fetch_optional(pool)
                .await?;
            row.map(|row| {
                let expires_at: String = row.try_get("expires_at")?;
                let used_at: Option<String> = row.try_get("used_at")?;
                Ok(PasswordLinkRow {
                    user_id: row.try_get("user_id")?,
                    expires_at: parse_time(&expires_at)?,
                    used: used_at.is_some(),
                })
            })
            .transpose()
        })
    }

    /// Marks a link used, once: true only for the one caller that used it.
    pub async fn use_password_link(&self, token_hash: &str) -> Result<bool, sqlx::Error> {
        let sql =
            "UPDATE password_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL";
        let now = timestamp(Utc::now());
        let done = on_writer!(self, |pool| sqlx::query(sql)
            .bind(token_hash)
            .bind(&now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }
}
