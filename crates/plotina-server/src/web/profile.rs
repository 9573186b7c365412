//! Everyone's own settings: language, time zone, password, the personal calendar feed
//! (its secret URL is shown once, when created or rotated) and personal API tokens
//! (a new token is shown once).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use plotina_store::{auth, calendar};

use super::fields::{Opt, TIME_ZONES};
use super::fmt::{self, option_label};
use super::forms::parse_id;
use super::{html, html_status, redirect, Ctx, Web, WebError, WebResult};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    ctx: Ctx,
    languages: Vec<Opt>,
    zones: Vec<Opt>,
    message: String,
    error: String,
    /// When the calendar feed was created ("" when there is none).
    feed_created: String,
    /// The feed's absolute URL, right after it was created or rotated.
    feed_url: String,
}

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub revoked: String,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    ctx: Ctx,
    tokens: Vec<TokenRow>,
    new_token: String,
}

async fn profile_page(
    s: &AppState,
    web: &Web,
    status: StatusCode,
    message: String,
    error: String,
    feed_url: String,
) -> WebResult {
    let ctx = web.ctx.clone().with_section("settings");
    let feed_created = calendar::created_at(s.store.pool(), web.actor.user_id)
        .await?
        .map(|t| fmt::datetime(&ctx, t))
        .unwrap_or_default();
    let zone = web.actor.time_zone.name();
    let mut zones: Vec<&str> = TIME_ZONES.to_vec();
    if !zones.contains(&zone) {
        zones.push(zone);
    }
    let page = ProfilePage {
        languages: ["ru", "en"]
            .iter()
            .map(|l| Opt {
                value: l.to_string(),
                label: option_label(ctx.lang, "language", l),
                selected: ctx.lang.code() == *l,
                ..Default::default()
            })
            .collect(),
        zones: zones
            .iter()
            .map(|z| Opt {
                value: z.to_string(),
                label: z.to_string(),
                selected: *z == zone,
                ..Default::default()
            })
            .collect(),
        message,
        error,
        feed_created,
        feed_url,
        ctx,
    };
    html_status(status, &page)
}

async fn show(State(s): State<AppState>, web: Web) -> WebResult {
    profile_page(
        &s,
        &web,
        StatusCode::OK,
        String::new(),
        String::new(),
        String::new(),
    )
    .await
}

/// This site's address as the browser reached it (`X-Forwarded-Proto` and `Host`, as a
/// reverse proxy passes them), so the feed URL works when pasted into a phone.
fn site_base(headers: &HeaderMap) -> String {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let host = value(header::HOST.as_str())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or_else(|| "localhost".into());
    let scheme = match value("x-forwarded-proto").as_deref() {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// Creates the calendar feed or replaces its URL (the old one stops working), and shows
/// the new URL once.
async fn rotate_feed(
    State(s): State<AppState>,
    web: Web,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult {
    web.form(&body)?;
    let token = calendar::rotate(s.store.pool(), web.actor.user_id).await?;
    let url = format!("{}/calendar/{token}.ics", site_base(&headers));
    profile_page(
        &s,
        &web,
        StatusCode::OK,
        web.ctx.t("ui-calendar-created"),
        String::new(),
        url,
    )
    .await
}

async fn revoke_feed(State(s): State<AppState>, web: Web, body: Bytes) -> WebResult {
    web.form(&body)?;
    let had = calendar::revoke(s.store.pool(), web.actor.user_id).await?;
    let message = if had {
        web.ctx.t("ui-calendar-revoked")
    } else {
        String::new()
    };
    profile_page(
        &s,
        &web,
        StatusCode::OK,
        message,
        String::new(),
        String::new(),
    )
    .await
}

async fn save(State(s): State<AppState>, web: Web, body: Bytes) -> WebResult {
    let form = web.form(&body)?;
    let lang = form.text("language");
    s.store
        .set_own_language(
            &web.actor,
            if lang.is_empty() {
                &web.actor.language
            } else {
                lang
            },
        )
        .await?;
    if !form.text("time_zone").is_empty() {
        s.store
            .set_own_time_zone(&web.actor, form.text("time_zone"))
            .await?;
    }
    let new = form.get("new_password").unwrap_or("");
    if !new.is_empty() {
        let err = if new.chars().count() < 8 {
            Some("password_too_short")
        } else if auth::verify_password(
            s.store.pool(),
            &web.actor.login,
            form.get("current_password").unwrap_or(""),
        )
        .await?
            != Some(web.actor.user_id)
        {
            Some("password_wrong")
        } else {
            None
        };
        if let Some(code) = err {
            return profile_page(
                &s,
                &web,
                StatusCode::UNPROCESSABLE_ENTITY,
                String::new(),
                web.ctx.t(code),
                String::new(),
            )
            .await;
        }
        auth::set_password(s.store.pool(), web.actor.user_id, new).await?;
        return Ok(redirect("/login"));
    }
    Ok(redirect("/settings/profile"))
}

async fn tokens_page(s: &AppState, web: &Web, new_token: String) -> WebResult {
    let ctx = web.ctx.clone().with_section("settings");
    let tokens = auth::list_tokens(s.store.pool(), web.actor.user_id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            created: fmt::datetime_text(&ctx, &t.created_at),
            revoked: t
                .revoked_at
                .map(|r| fmt::datetime_text(&ctx, &r))
                .unwrap_or_default(),
        })
        .collect();
    html(&TokensPage {
        ctx,
        tokens,
        new_token,
    })
}

async fn tokens(State(s): State<AppState>, web: Web) -> WebResult {
    tokens_page(&s, &web, String::new()).await
}

async fn create_token(State(s): State<AppState>, web: Web, body: Bytes) -> WebResult {
    let form = web.form(&body)?;
    let name = plotina_core::value::clean_text(form.text("name"), 100, false)
        .map_err(|e| WebError::Domain(plotina_core::DomainError::invalid("name", e.code)))?
        .unwrap_or_else(|| "API".into());
    let (_, token) = auth::create_token(s.store.pool(), web.actor.user_id, &name).await?;
    tokens_page(&s, &web, token).await
}

async fn revoke(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    let id = parse_id(&id)?;
    web.form(&body)?;
    let owner = auth::token_owner(s.store.pool(), id)
        .await?
        .ok_or(WebError::NotFound)?;
    if owner != web.actor.user_id {
        return Err(WebError::NotFound);
    }
    auth::revoke_token(s.store.pool(), id).await?;
    Ok(redirect("/settings/tokens"))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/profile", get(show).post(save))
        .route("/settings/profile/calendar", post(rotate_feed))
        .route("/settings/profile/calendar/revoke", post(revoke_feed))
        .route("/settings/tokens", get(tokens).post(create_token))
        .route("/settings/tokens/{id}/revoke", post(revoke))
}
