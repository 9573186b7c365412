//! The three-week planner: the user's open tasks, meetings and calls on a grid of days
//! (this week and the next two), dragged to another day to reschedule (static/app.js),
//! or moved with the small date form in each entry when scripts are off. A move keeps
//! the time of day and goes through the record engine like any edit (history written).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use plotina_core::policy::Action;
use plotina_core::schema::Entity;
use plotina_store::ListParams;
use serde_json::{json, Value as Json};

use super::lookups::{id_of, str_of};
use super::{fmt, html, redirect, urls, Ctx, Web, WebError, WebResult};
use crate::state::AppState;

struct Entry {
    id: i64,
    title: String,
    time: String,
    kind: String,
    href: String,
    date: String,
}

struct Day {
    date: String,
    label: String,
    today: bool,
    entries: Vec<Entry>,
}

#[derive(Template)]
#[template(path = "nb_planner.html")]
struct PlannerPage {
    ctx: Ctx,
    weeks: Vec<Vec<Day>>,
}

pub const DAYS: i64 = 21;

async fn planner(State(s): State<AppState>, web: Web) -> WebResult {
    let ctx = web.ctx.clone().with_section("notebook");
    let today = web.actor.today();
    let start = today - Duration::days(today.weekday().num_days_from_monday() as i64);
    let back = (today - start).num_days();
    let mut entries = Vec::new();
    if web.actor.can(Entity::Activity, Action::Read) {
        let params = ListParams {
            filter: Some(format!(
                "done = false and assignee = me and kind in (\"task\", \"meeting\", \"call\") and due_at >= today-{back}d and due_at < today+{}d",
                DAYS - back
            )),
            sort: Some("due_at".into()),
            limit: Some(500),
            ..Default::default()
        };
        entries = s
            .store
            .list(&web.actor, Entity::Activity, &params)
            .await?
            .data;
    }
    let mut days: Vec<Day> = (0..DAYS)
        .map(|i| {
            let d = start + Duration::days(i);
            Day {
                date: d.format("%Y-%m-%d").to_string(),
                label: fmt::date(ctx.lang, d),
                today: d == today,
                entries: Vec::new(),
            }
        })
        .collect();
    for a in &entries {
        let Some(due) = a
            .get("due_at")
            .and_then(Json::as_str)
            .and_then(|s| plotina_core::value::parse_datetime(s).ok())
        else {
            continue;
        };
        let local = due.with_timezone(&ctx.tz);
        let i = (local.date_naive() - start).num_days();
        if let Some(day) = usize::try_from(i).ok().and_then(|i| days.get_mut(i)) {
            let kind = str_of(a, "kind");
            day.entries.push(Entry {
                id: id_of(a),
                title: str_of(a, "subject").to_string(),
                time: local.format("%H:%M").to_string(),
                kind: ctx.t(&format!("ui-opt-kind-{kind}")),
                href: urls::card(Entity::Activity, id_of(a)),
                date: day.date.clone(),
            });
        }
    }
    let mut weeks = Vec::new();
    while !days.is_empty() {
        let rest = days.split_off(7.min(days.len()));
        weeks.push(days);
        days = rest;
    }
    html(&PlannerPage { ctx, weeks })
}

/// `POST /notebook/planner/{id}/move` with `date=YYYY-MM-DD`: the same time of day on
/// another date. Script requests get 204; forms go back to the planner.
async fn move_entry(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    let form = web.form(&body)?;
    let bad = || {
        WebError::Domain(plotina_core::DomainError::invalid(
            "due_at",
            "datetime_invalid",
        ))
    };
    let date =
        NaiveDate::parse_from_str(form.text("date").trim(), "%Y-%m-%d").map_err(|_| bad())?;
    let rec = s.store.get(&web.actor, Entity::Activity, id).await?;
    let due = rec
        .get("due_at")
        .and_then(Json::as_str)
        .and_then(|s| plotina_core::value::parse_datetime(s).ok())
        .ok_or_else(bad)?;
    let time = due.with_timezone(&web.ctx.tz).time();
    let moved = web
        .ctx
        .tz
        .from_local_datetime(&date.and_time(time))
        .earliest()
        .ok_or_else(bad)?
        .with_timezone(&Utc);
    let body = json!({"due_at": plotina_core::value::format_datetime(moved)});
    let body = body.as_object().cloned().unwrap_or_default();
    s.store
        .update(&web.actor, Entity::Activity, id, &body, None)
        .await?;
    if web.ctx.fetch {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(redirect("/notebook/planner"))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notebook/planner", get(planner))
        .route("/notebook/planner/{id}/move", post(move_entry))
}
