//! Users, their roles and their tokens. Only a token's SHA-256 hash is stored.

use chrono::Utc;
use sqlx::Row;

use crate::{on_pool, on_writer, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    /// Comma-separated role names.
    pub roles: String,
}

impl Store {
    /// Creates the user unless one with the id exists (several instances may start at
    /// once and seed the same administrator).
    pub async fn insert_user(&self, user: &UserRow) -> Result<(), sqlx::Error> {
        let sql = "INSERT INTO users (id, name, roles, created_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (id) DO NOTHING";
        let now = Utc::now().to_rfc3339();
        on_writer!(self, |pool| sqlx::query(sql)
            .bind(&user.id)
            .bind(&user.name)
            .bind(&user.roles)
            .bind(&now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = "SELECT id, name, roles FROM users WHERE id = $1";
        on_pool!(self, |pool| {
            let row = sqlx::query(sql).bind(id).fetch_optional(pool).await?;
            row.map(|row| user_from_row(&row)).transpose()
        })
    }

    pub async fn users(&self) -> Result<Vec<UserRow>, sqlx::Error> {
        let sql = "SELECT id, name, roles FROM users ORDER BY created_at, id";
        on_pool!(self, |pool| {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            rows.iter().map(user_from_row).collect()
        })
    }

    pub async fn insert_token(&self, user_id: &str, token_hash: &str) -> Result<(), sqlx::Error> {
        let sql = "INSERT INTO tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (token_hash) DO NOTHING";
        let now = Utc::now().to_rfc3339();
        on_writer!(self, |pool| sqlx::query(sql)
            .bind(token_hash)
            .bind(user_id)
            .bind(&now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Revokes every live token of a user; returns how many.
    pub async fn revoke_tokens(&self, user_id: &str) -> Result<u64, sqlx::Error> {
        let sql = "UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL";
        let now = Utc::now().to_rfc3339();
        let done = on_writer!(self, |pool| sqlx::query(sql)
            .bind(&now)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    /// The user a live token belongs to.
    pub async fn user_by_token(&self, token_hash: &str) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = "SELECT u.id, u.name, u.roles FROM tokens t JOIN users u ON u.id = t.user_id \
                   WHERE t.token_hash = $1 AND t.revoked_at IS NULL";
        on_pool!(self, |pool| {
            let row = sqlx::query(sql)
                .bind(token_hash)
                .fetch_optional(pool)
                .await?;
            row.map(|row| user_from_row(&row)).transpose()
        })
    }

    /// Sets (or with `None` clears) the user's team leader, who is emailed with them.
    /// Returns whether the user exists.
    pub async fn set_team_leader(
        &self,
        user_id: &str,
        team_leader: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let sql = "UPDATE users SET team_leader = $1 WHERE id = $2";
        let done = on_writer!(self, |pool| sqlx::query(sql)
            .bind(team_leader)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// The user's team leader, if one is set.
    pub async fn team_leader(&self, user_id: &str) -> Result<Option<String>, sqlx::Error> {
        let sql = "SELECT team_leader FROM users WHERE id = $1";
        let found: Option<Option<String>> = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(user_id)
            .fetch_optional(pool)
            .await)?;
        Ok(found.flatten())
    }

    /// Whether any administrator holds a live token.
    pub async fn admin_has_token(&self) -> Result<bool, sqlx::Error> {
        Ok(self.admins_with_tokens().await? > 0)
    }

    /// How many administrators hold a live token.
    pub async fn admins_with_tokens(&self) -> Result<i64, sqlx::Error> {
        let sql = "SELECT COUNT(DISTINCT u.id) FROM tokens t JOIN users u ON u.id = t.user_id \
                   WHERE t.revoked_at IS NULL AND (',' || u.roles || ',') LIKE '%,admin,%'";
        on_pool!(self, |pool| sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await)
    }
}

fn user_from_row<R: Row>(row: &R) -> Result<UserRow, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(UserRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        roles: row.try_get("roles")?,
    })
}
