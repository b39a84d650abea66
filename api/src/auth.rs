//! Bearer-token authentication and role checks.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::startup::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Advisor,
    Officer,
    Reviewer,
    Manager,
    Compliance,
    Auditor,
    Admin,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Advisor => "advisor",
            Self::Officer => "officer",
            Self::Reviewer => "reviewer",
            Self::Manager => "manager",
            Self::Compliance => "compliance",
            Self::Auditor => "auditor",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("unknown role `{s}`"))
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
}

impl Principal {
    /// The first of `allowed` the caller holds (admin may do everything), or 403.
    pub fn require(&self, allowed: &[Role]) -> Result<Role, ApiError> {
        if let Some(role) = allowed.iter().find(|r| self.roles.contains(r)) {
            return Ok(*role);
        }
        if self.roles.contains(&Role::Admin) {
            return Ok(Role::Admin);
        }
        let names: Vec<&str> = allowed.iter().map(Role::as_str).collect();
        Err(ApiError::Forbidden(format!(
            "this action needs one of the roles: {}, admin",
            names.join(", ")
        )))
    }

    pub fn actor(&self) -> casefile_domain::Actor {
        casefile_domain::Actor {
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }
}

pub fn parse_roles(text: &str) -> Vec<Role> {
    text.split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect()
}

/// A new random bearer token: `cf_` and 32 random bytes in hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("cf_{}", hex::encode(bytes))
}

/// Tokens are stored only as this hash.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// How long a resolved token is trusted without asking the store again: the longest a
/// revocation made on another instance takes to be effective here.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(4);
/// Tokens remembered at most; past that the cache starts again empty.
const TOKEN_CACHE_MAX: usize = 10_000;

/// Recently resolved tokens, so a request costs no database round trip to authenticate.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl TokenCache {
    fn get(&self, token_hash: &str) -> Option<Principal> {
        let entries = self.entries.lock().ok()?;
        let (principal, at) = entries.get(token_hash)?;
        (at.elapsed() < TOKEN_CACHE_TTL).then(|| principal.clone())
    }

    fn put(&self, token_hash: String, principal: Principal) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= TOKEN_CACHE_MAX {
                entries.clear();
            }
            entries.insert(token_hash, (principal, Instant::now()));
        }
    }

    /// Forgets every token of a user: revocations here take effect at once.
    pub fn forget_user(&self, user_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (principal, _)| principal.id != user_id);
        }
    }
}

/// Resolves the bearer token into a [`Principal`] request extension, or answers 401.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    let token_hash = hash_token(token);
    let principal = match state.tokens.get(&token_hash) {
        Some(principal) => principal,
        None => {
            let user = state
                .store
                .user_by_token(&token_hash)
                .await?
                .ok_or(ApiError::Unauthorized)?;
            let principal = Principal {
                roles: parse_roles(&user.roles),
                id: user.id,
                name: user.name,
            };
            state.tokens.put(token_hash, principal.clone());
            principal
        }
    };
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}
