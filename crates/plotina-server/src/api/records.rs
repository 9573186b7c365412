//! The generic record endpoints, registered for every entity:
//! `GET/POST /api/v1/<plural>`, `GET/PATCH/DELETE /api/v1/<plural>/{id}`,
//! `POST …/{id}/restore`, `GET …/{id}/history`, `GET /api/v1/<plural>/count`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use plotina_core::schema::Entity;
use plotina_store::{IdempotencyKey, ListParams, Record};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::input;
use crate::auth::{require_admin, Auth};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    #[serde(default)]
    pub trash: bool,
    pub q: Option<String>,
}

impl ListQuery {
    pub fn params(self) -> ListParams {
        ListParams {
            filter: self.filter,
            sort: self.sort,
            limit: self.limit,
            cursor: self.cursor,
            trash: self.trash,
            q: self.q,
            and: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
struct CountQuery {
    filter: Option<String>,
    q: Option<String>,
    cap: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
struct HistoryQuery {
    before: Option<i64>,
    limit: Option<u64>,
}

fn version(rec: &Record) -> i64 {
    rec.get("version").and_then(Value::as_i64).unwrap_or(1)
}

/// A record with its ETag.
pub fn record_response(status: StatusCode, rec: Record) -> Response {
    let etag = input::etag(version(&rec));
    let mut resp = (status, Json(Value::Object(rec))).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// Organisation records are managed in Settings by administrators.
fn guard_write(entity: Entity, auth: &Auth) -> ApiResult<()> {
    if entity.is_business() {
        Ok(())
    } else {
        require_admin(auth)
    }
}

async fn list(
    entity: Entity,
    state: AppState,
    auth: Auth,
    raw: Option<String>,
) -> ApiResult<Response> {
    let q: ListQuery = input::query(raw.as_deref())?;
    let page = state.store.list(&auth.actor, entity, &q.params()).await?;
    Ok(Json(page).into_response())
}

async fn count(
    entity: Entity,
    state: AppState,
    auth: Auth,
    raw: Option<String>,
) -> ApiResult<Response> {
    let q: CountQuery = input::query(raw.as_deref())?;
    let cap = q.cap.unwrap_or(10_000).clamp(1, 1_000_000);
    let params = ListParams {
        filter: q.filter,
        q: q.q,
        ..Default::default()
    };
    let n = state.store.count(&auth.actor, entity, &params, cap).await?;
    Ok(Json(json!({"count": n, "capped": n >= cap})).into_response())
}

async fn create(
    entity: Entity,
    state: AppState,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    guard_write(entity, &auth)?;
    let obj = input::json_object(&headers, &body)?;
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::trim).unwrap_or(""))
        .map(|k| {
            if k.is_empty() || k.len() > 200 {
                Err(ApiError::malformed("Idempotency-Key", "bad_request"))
            } else {
                Ok(IdempotencyKey {
                    key: k.to_string(),
                    body: Value::Object(obj.clone()),
                })
            }
        })
        .transpose()?;
    let (rec, replayed) =
        match crate::api::duplicates::create(&state, &auth, entity, &obj, key.as_ref(), &headers)
            .await?
        {
            Ok(out) => out,
            Err(conflict) => return Ok(conflict),
        };
    let id = rec.get("id").and_then(Value::as_i64).unwrap_or_default();
    let mut resp = record_response(
        if replayed {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        rec,
    );
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/{}/{id}", entity.plural())) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    if replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

async fn get_one(
    entity: Entity,
    state: AppState,
    auth: Auth,
    id: String,
    raw: Option<String>,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    #[derive(Deserialize, Default)]
    struct GetQuery {
        #[serde(default)]
        trash: bool,
    }
    let q: GetQuery = input::query(raw.as_deref())?;
    let rec = state.store.get_in(&auth.actor, entity, id, q.trash).await?;
    Ok(record_response(StatusCode::OK, rec))
}

async fn update(
    entity: Entity,
    state: AppState,
    auth: Auth,
    id: String,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    guard_write(entity, &auth)?;
    let if_match = input::if_match(&headers)?;
    let obj = input::json_object(&headers, &body)?;
    let rec =
        match crate::api::duplicates::update(&state, &auth, entity, id, &obj, if_match, &headers)
            .await?
        {
            Ok(rec) => rec,
            Err(conflict) => return Ok(conflict),
        };
    Ok(record_response(StatusCode::OK, rec))
}

async fn delete(
    entity: Entity,
    state: AppState,
    auth: Auth,
    id: String,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    guard_write(entity, &auth)?;
    let if_match = input::if_match(&headers)?;
    state
        .store
        .delete(&auth.actor, entity, id, if_match)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn restore(entity: Entity, state: AppState, auth: Auth, id: String) -> ApiResult<Response> {
    let id = input::id(&id)?;
    guard_write(entity, &auth)?;
    let rec = state.store.restore(&auth.actor, entity, id).await?;
    Ok(record_response(StatusCode::OK, rec))
}

async fn history(
    entity: Entity,
    state: AppState,
    auth: Auth,
    id: String,
    raw: Option<String>,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let q: HistoryQuery = input::query(raw.as_deref())?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 500 {
        return Err(ApiError::malformed("limit", "limit_range"));
    }
    let page = state
        .store
        .history_page(&auth.actor, entity, id, q.before, limit)
        .await?;
    Ok(Json(json!({"data": page.entries, "next_before": page.next_before})).into_response())
}

/// Routes for one entity. Handlers are closures over the entity, so each route has its
/// own template (`/api/v1/deals/{id}`) in traces and metrics.
pub fn entity_router(entity: Entity) -> Router<AppState> {
    let base = format!("/api/v1/{}", entity.plural());
    Router::new()
        .route(
            &base,
            get(
                move |State(s): State<AppState>, a: Auth, RawQuery(q): RawQuery| {
                    list(entity, s, a, q)
                },
            )
            .post(
                move |State(s): State<AppState>, a: Auth, h: HeaderMap, b: Bytes| {
                    create(entity, s, a, h, b)
                },
            ),
        )
        .route(
            &format!("{base}/count"),
            get(
                move |State(s): State<AppState>, a: Auth, RawQuery(q): RawQuery| {
                    count(entity, s, a, q)
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}"),
            get(
                move |State(s): State<AppState>,
                      a: Auth,
                      Path(id): Path<String>,
                      RawQuery(q): RawQuery| { get_one(entity, s, a, id, q) },
            )
            .patch(
                move |State(s): State<AppState>,
                      a: Auth,
                      Path(id): Path<String>,
                      h: HeaderMap,
                      b: Bytes| { update(entity, s, a, id, h, b) },
            )
            .delete(
                move |State(s): State<AppState>, a: Auth, Path(id): Path<String>, h: HeaderMap| {
                    delete(entity, s, a, id, h)
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}/restore"),
            post(
                move |State(s): State<AppState>, a: Auth, Path(id): Path<String>| {
                    restore(entity, s, a, id)
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}/history"),
            get(
                move |State(s): State<AppState>,
                      a: Auth,
                      Path(id): Path<String>,
                      RawQuery(q): RawQuery| { history(entity, s, a, id, q) },
            ),
        )
}

pub fn router() -> Router<AppState> {
    Entity::ALL
        .iter()
        .fold(Router::new(), |r, e| r.merge(entity_router(*e)))
}
