//! The kanban of a pipeline: a column per stage with its count and sum (scope-aware
//! aggregates), the first cards of each, moves by drag and drop, keys or a plain form,
//! with the same rules as the API's move.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use plotina_core::schema::Entity;
use plotina_core::DomainError;
use plotina_store::{eq_filter, ListParams, StoreError};
use serde_json::{json, Map, Value as Json};

use super::fields::Opt;
use super::fmt;
use super::forms::parse_id;
use super::lookups::{id_of, str_of, Lookups, StageRef, Titles};
use super::{html, html_status, redirect, urls, Ctx, FormData, Web, WebError, WebResult};
use crate::state::AppState;
use plotina_store::Record;

const CARDS_PER_COLUMN: u64 = 20;

/// The fields a card shows (`card_view`), the only ones the board reads of each deal.
const CARD_FIELDS: &[&str] = &[
    "title",
    "company_id",
    "amount",
    "currency",
    "owner_id",
    "stage_changed_at",
    "created_at",
];

#[derive(Debug, Clone)]
pub struct CardView {
    pub id: i64,
    pub title: String,
    pub href: String,
    pub company: String,
    pub amount: String,
    pub owner: String,
    pub rotten: bool,
    pub days: i64,
}

#[derive(Debug, Clone)]
pub struct ColumnView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub count: i64,
    pub sums: Vec<String>,
    pub cards: Vec<CardView>,
    pub more_href: String,
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    ctx: Ctx,
    pipelines: Vec<Opt>,
    owners: Vec<Opt>,
    filter: String,
    pipeline_id: i64,
    message: String,
    board: BoardView,
}

#[derive(Template)]
#[template(path = "board_columns.html")]
struct BoardFragment {
    ctx: Ctx,
    board: BoardView,
}

#[derive(Debug, Clone, Default)]
pub struct BoardView {
    pub columns: Vec<ColumnView>,
    /// The board's query string, sent back with moves.
    pub qs: String,
    pub lost_reasons: Vec<String>,
    pub error: String,
}

#[derive(Debug, Clone, Default)]
struct BoardQuery {
    pipeline: Option<i64>,
    owner: Option<i64>,
    filter: String,
}

impl BoardQuery {
    fn parse(raw: &str) -> BoardQuery {
        let f = FormData::parse(raw.as_bytes());
        BoardQuery {
            pipeline: f.id("pipeline"),
            owner: f.id("owner"),
            filter: f.get("filter").unwrap_or("").to_string(),
        }
    }

    fn qs(&self, pipeline: i64) -> String {
        let (p, o) = (
            pipeline.to_string(),
            self.owner.map(|o| o.to_string()).unwrap_or_default(),
        );
        urls::query(&[("pipeline", &p), ("owner", &o), ("filter", &self.filter)])
            .trim_start_matches('?')
            .to_string()
    }
}

fn base_params(q: &BoardQuery, pipeline: i64) -> ListParams {
    let mut and = vec![eq_filter("pipeline_id", pipeline)];
    if let Some(o) = q.owner {
        and.push(eq_filter("owner_id", o));
    }
    ListParams {
        filter: Some(q.filter.clone()).filter(|f| !f.trim().is_empty()),
        and,
        ..Default::default()
    }
}

/// One deal on the board; "rotten" when it has stayed in an open stage too long.
fn card_view(
    ctx: &Ctx,
    lk: &Lookups,
    titles: &Titles,
    st: &StageRef,
    r: &Record,
    now: chrono::DateTime<chrono::Utc>,
) -> CardView {
    let since = Some(str_of(r, "stage_changed_at"))
        .filter(|s| !s.is_empty())
        .unwrap_or(str_of(r, "created_at"));
    let days = plotina_core::value::parse_datetime(since)
        .map(|t| (now - t).num_days())
        .unwrap_or(0);
    let amount = str_of(r, "amount");
    let currency = r.get("currency").and_then(Json::as_str).unwrap_or("RUB");
    let name = |field: &str, f: &dyn Fn(i64) -> Option<String>| {
        r.get(field)
            .and_then(Json::as_i64)
            .and_then(f)
            .unwrap_or_default()
    };
    CardView {
        id: id_of(r),
        title: str_of(r, "title").to_string(),
        href: urls::card(Entity::Deal, id_of(r)),
        company: name("company_id", &|c| {
            titles.get(Entity::Company, c).map(String::from)
        }),
        amount: if amount.is_empty() {
            String::new()
        } else {
            fmt::money_text(ctx.lang, amount, currency)
        },
        owner: name("owner_id", &|u| lk.user(u).map(String::from)),
        rotten: st.kind == "open" && st.rotten_days.is_some_and(|d| d > 0 && days > d),
        days,
    }
}

async fn build(
    s: &AppState,
    web: &Web,
    lk: &Lookups,
    q: &BoardQuery,
    pipeline: i64,
) -> Result<BoardView, WebError> {
    let ctx = &web.ctx;
    let params = base_params(q, pipeline);
    let mut view = BoardView {
        qs: q.qs(pipeline),
        lost_reasons: lk
            .pipeline(pipeline)
            .map(|p| p.lost_reasons.clone())
            .unwrap_or_default(),
        ..Default::default()
    };
    let stages: Vec<StageRef> = lk.stages_of(pipeline).cloned().collect();
    let ids: Vec<i64> = stages.iter().map(|st| st.id).collect();
    let (totals, pages) = match s
        .store
        .board(
            &web.actor,
            &params,
            &ids,
            CARDS_PER_COLUMN,
            Some(CARD_FIELDS),
        )
        .await
    {
        Ok(b) => (b.totals, b.columns),
        Err(StoreError::Domain(d @ DomainError::BadFilter(_))) => {
            view.error = super::fields::FormErrors::from_domain(ctx, Entity::Deal, &d, &[])
                .general
                .join(" ");
            (Vec::new(), Vec::new())
        }
        Err(e) => return Err(e.into()),
    };
    let now = chrono::Utc::now();
    let mut pages = pages.into_iter().map(|p| p.data);
    let per_stage: Vec<(StageRef, Vec<Record>)> = stages
        .into_iter()
        .map(|st| (st, pages.next().unwrap_or_default()))
        .collect();
    let mut wanted: BTreeMap<Entity, BTreeSet<i64>> = BTreeMap::new();
    for (_, recs) in &per_stage {
        wanted.entry(Entity::Company).or_default().extend(
            recs.iter()
                .filter_map(|r| r.get("company_id").and_then(Json::as_i64)),
        );
    }
    let titles = Titles::load(&s.store, &web.actor, &wanted).await?;
    for (st, recs) in per_stage {
        let mine: Vec<_> = totals.iter().filter(|t| t.stage_id == st.id).collect();
        let cards = recs
            .iter()
            .map(|r| card_view(ctx, lk, &titles, &st, r, now))
            .collect();
        let count: i64 = mine.iter().map(|t| t.count).sum();
        let more = format!("pipeline = {pipeline} and stage = {}", st.id);
        let more_filter = if q.filter.trim().is_empty() {
            more
        } else {
            format!("{more} and ({})", q.filter)
        };
        view.columns.push(ColumnView {
            id: st.id,
            name: st.name.clone(),
            kind: st.kind.clone(),
            count,
            sums: mine
                .iter()
                .filter(|t| t.sum_minor > 0)
                .map(|t| fmt::money_minor(ctx.lang, t.sum_minor, &t.currency))
                .collect(),
            cards,
            more_href: if count > CARDS_PER_COLUMN as i64 {
                format!("/deals{}", urls::query(&[("filter", &more_filter)]))
            } else {
                String::new()
            },
        });
    }
    Ok(view)
}

async fn board_page(s: &AppState, web: &Web, q: BoardQuery, message: String) -> WebResult {
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let pipeline = q
        .pipeline
        .filter(|p| lk.pipeline(*p).is_some())
        .or_else(|| lk.pipelines.iter().find(|p| p.active).map(|p| p.id));
    let Some(pipeline) = pipeline else {
        return Err(WebError::NotFound);
    };
    let board = build(s, web, &lk, &q, pipeline).await?;
    let ctx = web.ctx.clone().with_section("board");
    if ctx.fetch {
        return html(&BoardFragment { ctx, board });
    }
    let page = BoardPage {
        pipelines: lk
            .pipelines
            .iter()
            .filter(|p| p.active || p.id == pipeline)
            .map(|p| Opt {
                value: p.id.to_string(),
                label: p.name.clone(),
                selected: p.id == pipeline,
                ..Default::default()
            })
            .collect(),
        owners: lk
            .users
            .iter()
            .filter(|u| u.active)
            .map(|u| Opt {
                value: u.id.to_string(),
                label: u.name.clone(),
                selected: Some(u.id) == q.owner,
                ..Default::default()
            })
            .collect(),
        filter: q.filter.clone(),
        pipeline_id: pipeline,
        message,
        board,
        ctx,
    };
    let status = if page.message.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    html_status(status, &page)
}

async fn show(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    board_page(
        &s,
        &web,
        BoardQuery::parse(raw.as_deref().unwrap_or("")),
        String::new(),
    )
    .await
}

/// `POST /deals/{id}/move`: `stage_id` (+ `lost_reason`). The script gets the redrawn
/// board back; a plain form goes back to where it came from.
async fn move_deal(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    let id = parse_id(&id)?;
    let form = web.form(&body)?;
    let mut changes = Map::new();
    changes.insert("stage_id".into(), json!(form.text("stage_id")));
    if !form.text("lost_reason").is_empty() {
        changes.insert("lost_reason".into(), json!(form.text("lost_reason")));
    }
    let back = urls::safe_next(form.text("back"));
    let board_q = back
        .strip_prefix("/deals/board")
        .map(|r| BoardQuery::parse(r.trim_start_matches('?')));
    match s
        .store
        .update(&web.actor, Entity::Deal, id, &changes, None)
        .await
    {
        Ok(_) if web.ctx.fetch => {
            board_page(&s, &web, board_q.unwrap_or_default(), String::new()).await
        }
        Ok(_) => Ok(redirect(&back)),
        Err(StoreError::Domain(d @ (DomainError::Invalid(_) | DomainError::Conflict(_))))
            if !web.ctx.fetch && board_q.is_some() =>
        {
            let msg = super::fields::FormErrors::from_domain(&web.ctx, Entity::Deal, &d, &[])
                .general
                .join(" ");
            board_page(&s, &web, board_q.unwrap_or_default(), msg).await
        }
        Err(e) => Err(e.into()),
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/deals/board", get(show))
        .route("/deals/{id}/move", post(move_deal))
}
