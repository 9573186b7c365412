//! The notebook (home page): what needs the user's reaction now — overdue and today's
//! open activities, and open deals with no next step planned.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use plotina_core::policy::Action;
use plotina_core::schema::Entity;
use plotina_store::{ListParams, Record};
use serde_json::Value as Json;

use super::cards::RelItem;
use super::lookups::{id_of, str_of, Lookups};
use super::timeline::{activity_item, TimelineItem};
use super::{fmt, html, urls, Ctx, Web, WebError, WebResult};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "notebook.html")]
struct NotebookPage {
    ctx: Ctx,
    overdue: Vec<TimelineItem>,
    today: Vec<TimelineItem>,
    idle: Vec<RelItem>,
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

async fn notebook(State(s): State<AppState>, web: Web) -> WebResult {
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let ctx = web.ctx.clone().with_section("notebook");
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
    let idle = idle_deals(&s, &web, &lk).await?;
    let page = NotebookPage {
        overdue: overdue
            .iter()
            .map(|a| activity_item(&ctx, &lk, a))
            .collect(),
        today: today.iter().map(|a| activity_item(&ctx, &lk, a)).collect(),
        idle,
        today_label: fmt::date(ctx.lang, web.actor.today()),
        ctx,
    };
    html(&page)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(notebook))
}
