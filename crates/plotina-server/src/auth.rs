//! Who is calling: a bearer API token or a browser session cookie (with a CSRF token on
//! every state-changing request).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use plotina_core::policy::Actor;
use plotina_core::DomainError;
use plotina_store::auth;

use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "plotina_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

#[derive(Debug, Clone)]
pub enum Credential {
    Token,
    Session { csrf_token: String },
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Auth {
    pub actor: Actor,
    pub credential: Credential,
}

pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

impl Auth {
    pub async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Auth>, ApiError> {
        let pool = state.store.pool();
        if let Some(value) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .unwrap_or("")
                .trim();
            if token.is_empty() || token.len() > 200 {
                return Err(ApiError::Unauthorized);
            }
            let actor = auth::token_actor(pool, token)
                .await?
                .ok_or(ApiError::Unauthorized)?;
            return Ok(Some(Auth {
                actor,
                credential: Credential::Token,
            }));
        }
        let Some(cookie) = cookie(parts, SESSION_COOKIE).filter(|c| c.len() <= 200) else {
            return Ok(None);
        };
        let Some((session, actor)) = auth::session_actor(pool, cookie).await? else {
            return Ok(None);
        };
        Ok(Some(Auth {
            actor,
            credential: Credential::Session {
                csrf_token: session.csrf_token,
            },
        }))
    }

    pub fn csrf_token(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session { csrf_token } => Some(csrf_token),
            Credential::Token => None,
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = Auth::resolve(parts, state)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if let Credential::Session { csrf_token } = &auth.credential {
            if !is_safe(&parts.method) {
                let sent = parts
                    .headers
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !constant_time_eq(sent.as_bytes(), csrf_token.as_bytes()) {
                    return Err(ApiError::Domain(DomainError::Forbidden("csrf_failed")));
                }
            }
        }
        Ok(auth)
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Settings endpoints are for administrators only.
pub fn require_admin(auth: &Auth) -> Result<(), ApiError> {
    if auth.actor.is_admin {
        Ok(())
    } else {
        Err(ApiError::Domain(DomainError::Forbidden(
            "forbidden_settings",
        )))
    }
}
