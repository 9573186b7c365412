//! Sign-in for the browser (session cookie + CSRF token), the caller's profile,
//! password change, personal API tokens and global search.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use plotina_core::DomainError;
use plotina_store::auth;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::input;
use crate::auth::{require_admin, Auth, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn session_cookie(state: &AppState, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn field<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    obj.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 200)
        .ok_or_else(|| DomainError::invalid(name, "required").into())
}

/// Checks a login and password under the rate limit; the user id on success.
pub async fn check_login(
    state: &AppState,
    peer: Option<std::net::SocketAddr>,
    login: &str,
    password: &str,
) -> Result<Option<i64>, ApiError> {
    let keys = vec![
        format!("login:{}", login.to_lowercase()),
        format!(
            "ip:{}",
            peer.map(|p| p.ip().to_string()).unwrap_or_default()
        ),
    ];
    if state.login_limiter.blocked(&keys) {
        return Err(DomainError::Forbidden("too_many_requests").into());
    }
    let user = auth::verify_password(state.store.pool(), login, password).await?;
    match user {
        Some(_) => state.login_limiter.succeeded(&keys[..1]),
        None => state.login_limiter.failed(&keys),
    }
    Ok(user)
}

async fn login(
    State(s): State<AppState>,
    peer: ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let obj = input::json_object(&headers, &body)?;
    let (login, password) = (field(&obj, "login")?, field(&obj, "password")?);
    let Some(user) = check_login(&s, Some(peer.0), login, password).await? else {
        return Err(ApiError::Unauthorized);
    };
    let ttl = chrono::Duration::days(s.config.session_days);
    let (cookie, csrf) = auth::create_session(s.store.pool(), user, ttl).await?;
    let mut resp = Json(json!({"user_id": user, "csrf_token": csrf})).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&s, &cookie, ttl.num_seconds()),
    );
    Ok(resp)
}

async fn logout(State(s): State<AppState>, a: Auth, headers: HeaderMap) -> ApiResult<Response> {
    let _ = a;
    let parts = {
        let mut req = axum::http::Request::new(());
        *req.headers_mut() = headers;
        req.into_parts().0
    };
    if let Some(c) = crate::auth::cookie(&parts, SESSION_COOKIE) {
        auth::delete_session(s.store.pool(), c).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&s, "", 0));
    Ok(resp)
}

async fn me(a: Auth) -> Json<Value> {
    let actor = &a.actor;
    Json(json!({
        "id": actor.user_id,
        "login": actor.login,
        "name": actor.name,
        "is_admin": actor.is_admin,
        "language": actor.language,
        "time_zone": actor.time_zone.name(),
        "department_subtree": actor.department_subtree,
        "permissions": actor.permissions,
        "csrf_token": a.csrf_token(),
    }))
}

/// `POST /api/v1/users/{id}/password {"password": "…", "current_password": "…"}`: a user
/// changes their own (knowing the current one); an administrator sets anyone's.
async fn set_password(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let obj = input::json_object(&headers, &body)?;
    let password = field(&obj, "password")?;
    if password.chars().count() < 8 {
        return Err(DomainError::invalid("password", "password_too_short").into());
    }
    if id != a.actor.user_id {
        require_admin(&a)?;
        s.store
            .get(&a.actor, plotina_core::Entity::User, id)
            .await?;
    } else if !a.actor.is_admin {
        let current = field(&obj, "current_password")?;
        if auth::verify_password(s.store.pool(), &a.actor.login, current).await? != Some(id) {
            return Err(DomainError::invalid("current_password", "password_wrong").into());
        }
    }
    auth::set_password(s.store.pool(), id, password).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn create_token(
    State(s): State<AppState>,
    a: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let obj = input::json_object(&headers, &body)?;
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("API")
        .trim();
    let name = plotina_core::value::clean_text(name, 100, false)
        .map_err(|e| DomainError::invalid("name", e.code))?
        .unwrap_or_else(|| "API".into());
    let (id, token) = auth::create_token(s.store.pool(), a.actor.user_id, &name).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "name": name, "token": token})),
    )
        .into_response())
}

async fn list_tokens(State(s): State<AppState>, a: Auth) -> ApiResult<Response> {
    let tokens = auth::list_tokens(s.store.pool(), a.actor.user_id).await?;
    Ok(Json(json!({"data": tokens})).into_response())
}

async fn revoke_token(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let owner = auth::token_owner(s.store.pool(), id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if owner != a.actor.user_id && !a.actor.is_admin {
        return Err(ApiError::not_found());
    }
    auth::revoke_token(s.store.pool(), id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
    limit: Option<u64>,
}

async fn search(
    State(s): State<AppState>,
    a: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q: SearchQuery = input::query(raw.as_deref())?;
    let text = q.q.unwrap_or_default();
    let text = plotina_core::value::clean_text(&text, 200, false)
        .map_err(|e| DomainError::bad_request("q", e.code))?;
    let Some(text) = text else {
        return Ok(Json(json!({"data": []})).into_response());
    };
    let hits = s
        .store
        .search(&a.actor, &text, q.limit.unwrap_or(10).clamp(1, 50))
        .await?;
    Ok(Json(json!({"data": hits})).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/users/{id}/password", post(set_password))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/search", get(search))
}
