//! Everyone's own settings: language, time zone, password, and personal API tokens
//! (a new token is shown once).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use plotina_store::auth;

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

fn profile_page(web: &Web, status: StatusCode, message: String, error: String) -> WebResult {
    let ctx = web.ctx.clone().with_section("settings");
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
        ctx,
    };
    html_status(status, &page)
}

async fn show(web: Web) -> WebResult {
    profile_page(&web, StatusCode::OK, String::new(), String::new())
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
                &web,
                StatusCode::UNPROCESSABLE_ENTITY,
                String::new(),
                web.ctx.t(code),
            );
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
        .route("/settings/tokens", get(tokens).post(create_token))
        .route("/settings/tokens/{id}/revoke", post(revoke))
}
