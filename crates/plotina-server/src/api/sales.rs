//! Deal and lead flows: stage moves, stage history, child deals, lead conversion.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use plotina_core::schema::Entity;
use plotina_core::DomainError;
use plotina_store::sales::ConvertRequest;
use plotina_store::{eq_filter, ListParams};
use serde_json::{json, Map, Value};

use crate::api::input;
use crate::api::records::{record_response, ListQuery};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;

/// `POST /api/v1/deals/{id}/move {"stage_id": 5, "lost_reason": "…"}`: the kanban's move,
/// the same rules as a PATCH of `stage_id`.
async fn move_deal(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let obj = input::json_object(&headers, &body)?;
    let mut changes = Map::new();
    for (k, v) in obj {
        match k.as_str() {
            "stage_id" | "lost_reason" => {
                changes.insert(k, v);
            }
            other => {
                return Err(DomainError::Invalid(vec![plotina_core::FieldError::new(
                    other,
                    "unknown_field",
                )
                .with("name", other)])
                .into())
            }
        }
    }
    if !changes.contains_key("stage_id") {
        return Err(DomainError::invalid("stage_id", "required").into());
    }
    let rec = s
        .store
        .update(
            &auth.actor,
            Entity::Deal,
            id,
            &changes,
            input::if_match(&headers)?,
        )
        .await?;
    Ok(record_response(StatusCode::OK, rec))
}

async fn stage_history(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let steps = s.store.stage_history(&auth.actor, input::id(&id)?).await?;
    Ok(Json(json!({"data": steps})).into_response())
}

/// Child deals of a deal (in other departments' pipelines), within the caller's scope.
async fn children(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    s.store.get(&auth.actor, Entity::Deal, id).await?;
    let q: ListQuery = input::query(raw.as_deref())?;
    let mut params: ListParams = q.params();
    params.and.push(eq_filter("parent_id", id));
    let page = s.store.list(&auth.actor, Entity::Deal, &params).await?;
    Ok(Json(page).into_response())
}

async fn convert_lead(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let obj = input::json_object(&headers, &body)?;
    let req: ConvertRequest = serde_json::from_value(Value::Object(obj)).map_err(|e| {
        DomainError::BadRequest(
            plotina_core::FieldError::new("body", "bad_json").with("detail", e.to_string()),
        )
    })?;
    let out = s.store.convert_lead(&auth.actor, id, req).await?;
    Ok((StatusCode::OK, Json(out)).into_response())
}

#[derive(serde::Deserialize)]
struct BoardQuery {
    pipeline: i64,
    filter: Option<String>,
    q: Option<String>,
    cards: Option<u64>,
    fields: Option<String>,
}

/// The deal fields each card carries: [`plotina_store::board::CARD_FIELDS`] and the
/// built-in fields named in `fields` (comma-separated); `None` (whole records, custom
/// fields too) when `fields` has `*`. An unknown name answers 400.
fn card_fields(fields: Option<&str>) -> ApiResult<Option<Vec<&'static str>>> {
    let mut out: Vec<&'static str> = plotina_store::board::CARD_FIELDS.to_vec();
    for name in fields.unwrap_or("").split(',').map(str::trim) {
        match name {
            "" => {}
            "*" => return Ok(None),
            _ => {
                let Some(f) = Entity::Deal.field(name) else {
                    return Err(DomainError::BadRequest(
                        plotina_core::FieldError::new("fields", "unknown_field").with("name", name),
                    )
                    .into());
                };
                if !out.contains(&f.name) {
                    out.push(f.name);
                }
            }
        }
    }
    Ok(Some(out))
}

/// One column of the board as the API answers it.
#[derive(serde::Serialize)]
struct BoardColumn {
    stage: Value,
    count: i64,
    totals: Vec<Value>,
    deals: Vec<plotina_store::Record>,
    next_cursor: Option<String>,
}

#[derive(serde::Serialize)]
struct BoardBody {
    pipeline: Value,
    columns: Vec<BoardColumn>,
}

/// `GET /api/v1/deals/board?pipeline=ID`: the kanban in one request: each stage with the
/// count and sum of its deals (per currency) and its first cards, newest first, each card
/// with the fields of [`card_fields`] only; one transaction (`Store::pipeline_board`).
async fn board(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q: BoardQuery = input::query(raw.as_deref())?;
    let cards = q.cards.unwrap_or(20);
    if cards == 0 || cards > 100 {
        return Err(crate::error::ApiError::malformed("cards", "limit_range"));
    }
    let columns = card_fields(q.fields.as_deref())?;
    let base = ListParams {
        filter: q.filter.clone(),
        q: q.q.clone(),
        and: vec![eq_filter("pipeline_id", q.pipeline)],
        ..Default::default()
    };
    let whole = s
        .store
        .pipeline_board(&auth.actor, q.pipeline, &base, cards, columns.as_deref())
        .await?;
    let (pipeline, stages, board) = (whole.pipeline, whole.stages, whole.board);
    let totals = board.totals;
    let mut columns = Vec::with_capacity(stages.len());
    for (stage, page) in stages.into_iter().zip(board.columns) {
        let stage_id = stage.get("id").and_then(Value::as_i64).unwrap_or_default();
        let mine = || totals.iter().filter(|t| t.stage_id == stage_id);
        columns.push(BoardColumn {
            stage: Value::Object(stage),
            count: mine().map(|t| t.count).sum(),
            totals: mine()
                .map(|t| json!({"currency": t.currency, "count": t.count, "sum": plotina_core::types::Money::from_minor(t.sum_minor).to_string()}))
                .collect(),
            deals: page.data,
            next_cursor: page.next_cursor,
        });
    }
    Ok(Json(BoardBody {
        pipeline: Value::Object(pipeline),
        columns,
    })
    .into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/deals/board", get(board))
        .route("/api/v1/deals/{id}/move", post(move_deal))
        .route("/api/v1/deals/{id}/stage-history", get(stage_history))
        .route("/api/v1/deals/{id}/children", get(children))
        .route("/api/v1/leads/{id}/convert", post(convert_lead))
}
