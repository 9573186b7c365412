//! Signing in and out through forms, and the language switch.

use std::net::SocketAddr;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use plotina_store::auth;
use serde::Deserialize;

use super::ctx::{check_csrf, guest_lang, Ctx, FormData, LANG_COOKIE};
use super::{html_status, redirect, urls, Web, WebError, WebResult};
use crate::api::session::{check_login, session_cookie};
use crate::auth::{cookie, SESSION_COOKIE};
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::state::AppState;

/// Before there is a session, the login form is protected by a double-submit token: a
/// random value in a cookie that the form must repeat.
const LOGIN_CSRF_COOKIE: &str = "plotina_login_csrf";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: Ctx,
    login: String,
    next: String,
    error: String,
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
    lang: Option<String>,
}

fn parts_of(headers: &HeaderMap) -> Parts {
    let mut req = axum::http::Request::new(());
    *req.headers_mut() = headers.clone();
    req.into_parts().0
}

fn cookie_header(name: &str, value: &str, max_age: i64, state: &AppState) -> HeaderValue {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn login_page(
    state: &AppState,
    mut ctx: Ctx,
    status: StatusCode,
    login: String,
    next: String,
    error: String,
) -> WebResult {
    let token = random_token();
    ctx.csrf = token.clone();
    let mut resp = html_status(
        status,
        &LoginPage {
            ctx,
            login,
            next,
            error,
        },
    )?;
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(LOGIN_CSRF_COOKIE, &token, 3600, state),
    );
    Ok(resp)
}

async fn show_login(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> WebResult {
    let q: LoginQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let parts = parts_of(&headers);
    let chosen = q.lang.as_deref().and_then(Lang::from_code);
    let lang = chosen.unwrap_or_else(|| guest_lang(&parts));
    let next = urls::safe_next(q.next.as_deref().unwrap_or("/"));
    let mut resp = login_page(
        &s,
        Ctx::anonymous(lang),
        StatusCode::OK,
        String::new(),
        next,
        String::new(),
    )?;
    if let Some(l) = chosen {
        resp.headers_mut().append(
            header::SET_COOKIE,
            cookie_header(LANG_COOKIE, l.code(), 365 * 86400, &s),
        );
    }
    Ok(resp)
}

async fn do_login(
    State(s): State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult {
    let parts = parts_of(&headers);
    let form = FormData::parse(&body);
    check_csrf(&form, cookie(&parts, LOGIN_CSRF_COOKIE).unwrap_or(""))?;
    let lang = guest_lang(&parts);
    let (login, password) = (
        form.text("login").to_string(),
        form.get("password").unwrap_or("").to_string(),
    );
    let next = urls::safe_next(form.text("next"));
    let ctx = Ctx::anonymous(lang);
    if login.is_empty() || password.is_empty() || login.len() > 200 || password.len() > 200 {
        let msg = ctx.t("ui-login-failed");
        return login_page(&s, ctx, StatusCode::UNAUTHORIZED, login, next, msg);
    }
    let user = match check_login(&s, Some(peer.0), &login, &password).await {
        Ok(u) => u,
        Err(ApiError::Domain(plotina_core::DomainError::Forbidden("too_many_requests"))) => {
            let msg = ctx.t("problem-too_many_requests");
            return login_page(&s, ctx, StatusCode::TOO_MANY_REQUESTS, login, next, msg);
        }
        Err(e) => return Err(e.into()),
    };
    let Some(user) = user else {
        let msg = ctx.t("ui-login-failed");
        return login_page(&s, ctx, StatusCode::UNAUTHORIZED, login, next, msg);
    };
    let ttl = chrono::Duration::days(s.config.session_days);
    let (session, _) = auth::create_session(s.store.pool(), user, ttl).await?;
    let mut resp = redirect(&next);
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        session_cookie(&s, &session, ttl.num_seconds()),
    );
    h.append(
        header::SET_COOKIE,
        cookie_header(LOGIN_CSRF_COOKIE, "", 0, &s),
    );
    if let Some(actor) = auth::actor_for(s.store.pool(), user).await? {
        h.append(
            header::SET_COOKIE,
            cookie_header(LANG_COOKIE, &actor.language, 365 * 86400, &s),
        );
    }
    Ok(resp)
}

async fn logout(State(s): State<AppState>, web: Web, headers: HeaderMap, body: Bytes) -> WebResult {
    web.form(&body)?;
    if let Some(c) = cookie(&parts_of(&headers), SESSION_COOKIE) {
        auth::delete_session(s.store.pool(), c).await?;
    }
    let mut resp = redirect("/login");
    resp.headers_mut()
        .append(header::SET_COOKIE, session_cookie(&s, "", 0));
    Ok(resp)
}

/// The user menu's ru/en switch: stored on the user, mirrored in a cookie for the
/// login page.
async fn language(State(s): State<AppState>, web: Web, body: Bytes) -> Result<Response, WebError> {
    let form = web.form(&body)?;
    let lang = Lang::from_code(form.text("language")).ok_or(WebError::NotFound)?;
    s.store.set_own_language(&web.actor, lang.code()).await?;
    let mut resp = redirect(&urls::safe_next(form.text("back")));
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(LANG_COOKIE, lang.code(), 365 * 86400, &s),
    );
    Ok(resp)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(show_login).post(do_login))
        .route("/logout", post(logout))
        .route("/language", post(language))
}
