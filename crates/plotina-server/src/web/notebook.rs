//! The notebook (home page): the user's open notebook items — overdue, today, the next
//! days and the inbox — each one click from its record and its actions; the user's
//! overdue and today's activities and deals with no next step; for a head of
//! department, the members' notebooks (read-only) with overdue counts. A gate refusal
//! anywhere in the web interface lands here with a one-line explanation and a link
//! back to what the user was doing.

use std::collections::BTreeSet;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use plotina_core::error::FieldError;
use plotina_core::policy::Action;
use plotina_core::schema::Entity;
use plotina_store::notebook::{Item, ItemAction, MemberCounts};
use plotina_store::{ListParams, Record};
use serde_json::Value as Json;

use super::cards::RelItem;
use super::lookups::{id_of, str_of, Lookups, Named};
use super::timeline::{activity_item, TimelineItem};
use super::{fmt, html, redirect, urls, Ctx, Web, WebError, WebResult};
use crate::state::AppState;

/// One notebook item as the page shows it.
#[derive(Clone)]
struct ItemView {
    id: i64,
    kind: String,
    text: String,
    href: String,
    when: String,
    overdue: bool,
}

struct Section {
    key: &'static str,
    title: String,
    items: Vec<ItemView>,
}

/// The gate explanation shown above the notebook.
struct Banner {
    text: String,
    back: String,
}

#[derive(Template)]
#[template(path = "notebook.html")]
struct NotebookPage {
    ctx: Ctx,
    banner: Option<Banner>,
    /// Another person's notebook, read-only.
    viewing: Option<String>,
    sections: Vec<Section>,
    users: Vec<Named>,
    snooze_default: String,
    overdue: Vec<TimelineItem>,
    today: Vec<TimelineItem>,
    idle: Vec<RelItem>,
    team: Vec<MemberCounts>,
    today_label: String,
}

async fn list(
    s: &AppState,
    web: &Web,
    entity: Entity,
    filter: String,
    sort: &str,
    limit: u64,
) -> Result<Vec<Record>, WebError> {
    if !web.actor.can(entity, Action::Read) {
        return Ok(Vec::new());
    }
    let params = ListParams {
        filter: Some(filter),
        sort: Some(sort.into()),
        limit: Some(limit),
        ..Default::default()
    };
    Ok(s.store.list(&web.actor, entity, &params).await?.data)
}

/// My open deals that have no open activity.
async fn idle_deals(s: &AppState, web: &Web, lk: &Lookups) -> Result<Vec<RelItem>, WebError> {
    let deals = list(
        s,
        web,
        Entity::Deal,
        "owner = me and stage.kind = \"open\"".into(),
        "-updated_at",
        200,
    )
    .await?;
    if deals.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = deals.iter().map(|d| id_of(d).to_string()).collect();
    let planned = list(
        s,
        web,
        Entity::Activity,
        format!("done = false and deal_id in ({})", ids.join(", ")),
        "-updated_at",
        500,
    )
    .await?;
    let busy: BTreeSet<i64> = planned
        .iter()
        .filter_map(|a| a.get("deal_id").and_then(Json::as_i64))
        .collect();
    Ok(deals
        .iter()
        .filter(|d| !busy.contains(&id_of(d)))
        .take(30)
        .map(|d| RelItem {
            text: str_of(d, "title").to_string(),
            href: urls::card(Entity::Deal, id_of(d)),
            meta: d
                .get("stage_id")
                .and_then(Json::as_i64)
                .and_then(|i| lk.stage(i))
                .map(|st| st.name.clone())
                .unwrap_or_default(),
        })
        .collect())
}

fn kind_label(ctx: &Ctx, kind: &str) -> String {
    let id = format!("ui-nb-kind-{kind}");
    if crate::i18n::I18n::get().has(ctx.lang, &id) {
        ctx.t(&id)
    } else {
        kind.replace('_', " ")
    }
}

fn view(ctx: &Ctx, it: &Item) -> ItemView {
    let href = match (
        it.entity.as_deref().and_then(Entity::from_code),
        it.record_id,
    ) {
        (Some(e), Some(id)) => urls::card(e, id),
        _ => String::new(),
    };
    ItemView {
        id: it.id,
        kind: kind_label(ctx, &it.kind),
        text: it.text.clone(),
        href,
        when: it.due_at.map(|d| fmt::datetime(ctx, d)).unwrap_or_default(),
        overdue: it.overdue,
    }
}

/// Overdue, today, the next seven days, and the inbox (undated or later).
fn sections(ctx: &Ctx, items: &[Item], now: DateTime<Utc>) -> Vec<Section> {
    let today = now.with_timezone(&ctx.tz).date_naive();
    let mut out: Vec<Section> = [
        ("overdue", "ui-nb-items-overdue"),
        ("today", "ui-nb-items-today"),
        ("next", "ui-nb-items-next"),
        ("inbox", "ui-nb-items-inbox"),
    ]
    .into_iter()
    .map(|(key, title)| Section {
        key,
        title: ctx.t(title),
        items: Vec::new(),
    })
    .collect();
    for it in items {
        let slot = match it.due_at {
            Some(d) if d < now => 0,
            Some(d) => {
                let day = d.with_timezone(&ctx.tz).date_naive();
                if day == today {
                    1
                } else if day <= today + Duration::days(7) {
                    2
                } else {
                    3
                }
            }
            None => 3,
        };
        out[slot].items.push(view(ctx, it));
    }
    out
}

#[derive(serde::Deserialize, Default)]
struct HomeQuery {
    user: Option<i64>,
    gate: Option<String>,
    action: Option<String>,
    #[serde(rename = "return")]
    back: Option<String>,
}

async fn notebook(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    let q: HomeQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let ctx = web.ctx.clone().with_section("notebook");
    let now = plotina_core::value::now();
    let other = q.user.filter(|u| *u != web.actor.user_id);
    let items = s.store.notebook(&web.actor, other, 500).await?;
    let banner = q.gate.as_ref().map(|gate| {
        let action = q.action.clone().unwrap_or_default();
        let action_label = ctx.t(&format!("ui-nb-action-{action}"));
        Banner {
            text: crate::i18n::I18n::get().text(
                ctx.lang,
                "ui-nb-gate-banner",
                &[("gate", gate.clone()), ("action", action_label)],
            ),
            back: urls::safe_next(q.back.as_deref().unwrap_or("/")),
        }
    });
    let (overdue, today, idle, team) = if other.is_some() {
        (Vec::new(), Vec::new(), Vec::new(), Vec::new())
    } else {
        let mine = "done = false and (assignee = me or owner = me)";
        let overdue = list(
            &s,
            &web,
            Entity::Activity,
            format!("{mine} and due_at < now"),
            "due_at",
            100,
        )
        .await?;
        let today = list(
            &s,
            &web,
            Entity::Activity,
            format!("{mine} and due_at >= now and due_at < today+1d"),
            "due_at",
            100,
        )
        .await?;
        (
            overdue
                .iter()
                .map(|a| activity_item(&ctx, &lk, a))
                .collect(),
            today.iter().map(|a| activity_item(&ctx, &lk, a)).collect(),
            idle_deals(&s, &web, &lk).await?,
            s.store.notebook_team(&web.actor).await?,
        )
    };
    let tomorrow = (now.with_timezone(&ctx.tz).date_naive() + Duration::days(1))
        .and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default());
    let page = NotebookPage {
        banner,
        viewing: other.map(|u| lk.user(u).unwrap_or("").to_string()),
        sections: sections(&ctx, &items, now),
        users: lk
            .users
            .iter()
            .filter(|u| u.active && u.id != web.actor.user_id)
            .cloned()
            .collect(),
        snooze_default: tomorrow.format("%Y-%m-%dT%H:%M").to_string(),
        overdue,
        today,
        idle,
        team,
        today_label: fmt::date(ctx.lang, web.actor.today()),
        ctx,
    };
    html(&page)
}

/// A `datetime-local` value in the user's zone; a wrong one is the field's error.
fn local_time(web: &Web, field: &str, value: &str) -> Result<DateTime<Utc>, WebError> {
    let bad = || {
        WebError::Domain(plotina_core::DomainError::Invalid(vec![FieldError::new(
            field,
            "datetime_invalid",
        )]))
    };
    let naive =
        chrono::NaiveDateTime::parse_from_str(value.trim(), "%Y-%m-%dT%H:%M").map_err(|_| bad())?;
    web.ctx
        .tz
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(bad)
}

async fn act(
    State(s): State<AppState>,
    web: Web,
    Path((id, verb)): Path<(String, String)>,
    body: Bytes,
) -> WebResult {
    let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    let form = web.form(&body)?;
    let action = match verb.as_str() {
        "done" => ItemAction::Done,
        "dismiss" => ItemAction::Dismiss,
        "snooze" => ItemAction::Snooze(local_time(&web, "until", form.text("until"))?),
        "reschedule" => ItemAction::Reschedule(local_time(&web, "due_at", form.text("due_at"))?),
        "delegate" => ItemAction::Delegate(form.id("user_id").ok_or_else(|| {
            WebError::Domain(plotina_core::DomainError::invalid("user_id", "required"))
        })?),
        _ => return Err(WebError::NotFound),
    };
    s.store.act_on_item(&web.actor, id, action).await?;
    Ok(redirect(&urls::safe_next(form.get("back").unwrap_or("/"))))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(notebook))
        .route("/notebook/items/{id}/{action}", post(act))
}

// ---------------------------------------------------------------------------------------
// Gate refusals in the web interface.

/// Marks a response as a gate refusal on its way to the web layer.
#[derive(Clone)]
pub struct GateRedirect {
    gate: String,
    action: String,
}

/// The response a page handler's gate refusal becomes: the web layer turns it into a
/// redirect to the notebook (see [`finish_gate_redirect`]).
pub fn gate_refusal(reason: &FieldError) -> Response {
    let arg = |k: &str| {
        reason
            .args
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut resp = axum::http::StatusCode::LOCKED.into_response();
    resp.extensions_mut().insert(GateRedirect {
        gate: arg("gate"),
        action: arg("action"),
    });
    resp
}

/// Where "return" should lead: the page itself for a GET, the page the form was on
/// (the Referer, when it is this site's) for a POST.
pub fn return_to(parts: &axum::http::request::Parts) -> String {
    if parts.method == axum::http::Method::GET {
        return parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
    }
    let referer = parts
        .headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/");
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let path = ["http://", "https://"]
        .iter()
        .find_map(|scheme| referer.strip_prefix(scheme))
        .and_then(|rest| rest.strip_prefix(host).filter(|_| !host.is_empty()))
        .unwrap_or(referer);
    urls::safe_next(path)
}

/// Turns a gate refusal into "see the notebook" (303 with the explanation and the way
/// back); script requests get 423 with the target in `x-redirect`.
pub fn finish_gate_redirect(resp: Response, back: &str, fetch: bool) -> Response {
    let Some(g) = resp.extensions().get::<GateRedirect>().cloned() else {
        return resp;
    };
    let to = format!(
        "/{}",
        urls::query(&[("gate", &g.gate), ("action", &g.action), ("return", back)])
    );
    if fetch {
        let mut r = (axum::http::StatusCode::LOCKED, "").into_response();
        if let Ok(v) = axum::http::HeaderValue::from_str(&to) {
            r.headers_mut().insert("x-redirect", v);
        }
        return r;
    }
    redirect(&to)
}
