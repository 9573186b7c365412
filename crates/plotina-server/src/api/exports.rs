//! `POST /api/v1/exports`: a list (entity + filter + search + columns) as a CSV, XLSX
//! or JSON download; `GET /api/v1/exports`: the export log for administrators.
//!
//! The file is written to a temporary file while the store streams the rows, then sent
//! in chunks: neither side holds a large export in memory.

use std::io::{BufWriter, Seek, Write};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::stream::{self, StreamExt};
use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use plotina_store::export::{ExportFormat, ExportRequest, ExportSummary};
use plotina_store::{ListParams, Store, StoreError};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::io::AsyncReadExt;

use crate::api::input;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::i18n::{t, Lang};
use crate::state::AppState;
use crate::web::fmt::field_label;

/// What to export, as the API and the list pages send it.
pub struct ExportSpec {
    pub entity: Entity,
    pub filter: Option<String>,
    pub q: Option<String>,
    pub columns: Vec<String>,
    pub format: ExportFormat,
    pub delimiter: u8,
    pub source: &'static str,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportBody {
    entity: String,
    format: Option<String>,
    filter: Option<String>,
    q: Option<String>,
    columns: Option<Vec<String>>,
    delimiter: Option<String>,
}

pub fn parse_delimiter(d: Option<&str>) -> ApiResult<u8> {
    match d.unwrap_or(";") {
        ";" => Ok(b';'),
        "," => Ok(b','),
        "\t" | "tab" => Ok(b'\t'),
        _ => Err(ApiError::malformed("delimiter", "export_bad_delimiter")),
    }
}

pub fn parse_format(f: Option<&str>) -> ApiResult<ExportFormat> {
    ExportFormat::parse(f.unwrap_or("csv"))
        .ok_or_else(|| ApiError::malformed("format", "export_bad_format"))
}

/// Writes the export for `actor` into `out` with headers in `lang` (the API, the list
/// pages and `plotina export` all come here).
pub async fn write(
    store: &Store,
    notify_above: u64,
    actor: &Actor,
    lang: Lang,
    spec: &ExportSpec,
    out: &mut (dyn Write + Send),
) -> Result<ExportSummary, StoreError> {
    let defs = store.custom_defs(spec.entity).await?;
    let entity = spec.entity;
    let header = move |name: &str| -> String {
        if name == entity.plural() {
            return t(lang, &format!("ui-nav-{}", entity.plural()));
        }
        match name.strip_prefix("custom.") {
            Some(key) => defs
                .iter()
                .find(|d| d.key == key)
                .map(|d| d.label_for(lang.code()).to_string())
                .unwrap_or_else(|| key.to_string()),
            None => field_label(lang, entity, name),
        }
    };
    let yes = t(lang, "export-yes");
    let no = t(lang, "export-no");
    let req = ExportRequest {
        entity,
        params: ListParams {
            filter: spec.filter.clone().filter(|f| !f.trim().is_empty()),
            q: spec.q.clone().filter(|q| !q.trim().is_empty()),
            ..Default::default()
        },
        columns: spec.columns.clone(),
        format: spec.format,
        delimiter: spec.delimiter,
        source: spec.source,
        notify_above,
        header: &header,
        yes_no: (&yes, &no),
    };
    store.export(actor, &req, out).await
}

/// The file name of an export made today.
pub fn file_name(actor: &Actor, spec: &ExportSpec) -> String {
    format!(
        "{}-{}.{}",
        spec.entity.plural(),
        actor.today().format("%Y-%m-%d"),
        spec.format.code()
    )
}

/// Runs the export for `actor` and answers the file as a download.
pub async fn download(state: &AppState, actor: &Actor, spec: ExportSpec) -> ApiResult<Response> {
    let lang = Lang::from_code(&actor.language).unwrap_or_default();
    let file = tempfile::tempfile().map_err(anyhow::Error::from)?;
    let mut out = BufWriter::new(file);
    let summary = write(
        &state.store,
        state.config.export_notify_above_rows,
        actor,
        lang,
        &spec,
        &mut out,
    )
    .await?;
    let mut file = out
        .into_inner()
        .map_err(|e| anyhow::anyhow!("export flush failed: {e}"))?;
    file.rewind().map_err(anyhow::Error::from)?;
    let file = tokio::fs::File::from_std(file);
    let chunks = stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let name = file_name(actor, &spec);
    // Fused: the compression layer may poll again after the end of the stream.
    let mut resp = Body::from_stream(chunks.fuse()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(spec.format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert("x-export-rows", HeaderValue::from(summary.rows));
    h.insert("x-export-id", HeaderValue::from(summary.log_id));
    Ok(resp)
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let b: ExportBody = input::json_body(&headers, &body)?;
    let entity = Entity::from_plural(&b.entity)
        .or_else(|| Entity::from_code(&b.entity))
        .filter(|e| e.is_business())
        .ok_or_else(|| ApiError::malformed("entity", "export_bad_entity"))?;
    let spec = ExportSpec {
        entity,
        filter: b.filter,
        q: b.q,
        columns: b.columns.unwrap_or_default(),
        format: parse_format(b.format.as_deref())?,
        delimiter: parse_delimiter(b.delimiter.as_deref())?,
        source: "api",
    };
    download(&state, &auth.actor, spec).await
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    limit: Option<u64>,
}

async fn log(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<LogQuery>,
) -> ApiResult<Response> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::malformed("limit", "limit_range"));
    }
    let entries = state.store.export_log(&auth.actor, limit).await?;
    Ok(Json(json!({"data": entries})).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/exports", get(log).post(create))
}

pub fn openapi(paths: &mut Map<String, Value>) {
    let entities: Vec<&str> = Entity::BUSINESS.iter().map(|e| e.plural()).collect();
    let problem = json!({"description": "Problem (RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    paths.insert("/api/v1/exports".into(), json!({
        "post": {
            "summary": "Export a filtered list as CSV (UTF-8 with BOM, `;` by default), XLSX or JSON. Needs the export right; refused above the role's row limit (422) or behind a notebook gate (423); logged; cells starting with = + - @ are neutralised with a leading apostrophe in CSV and XLSX",
            "tags": ["exports"], "parameters": [],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
                "entity": {"type": "string", "enum": entities},
                "format": {"type": "string", "enum": ["csv", "xlsx", "json"], "default": "csv"},
                "filter": {"type": "string", "maxLength": 4000},
                "q": {"type": "string", "maxLength": 200},
                "columns": {"type": "array", "items": {"type": "string", "maxLength": 100}, "maxItems": 200,
                    "description": "Field names, `custom.<key>` for custom fields; empty: the visible fields"},
                "delimiter": {"type": "string", "enum": [";", ",", "tab"], "default": ";"}},
                "required": ["entity"], "additionalProperties": false}}}},
            "responses": {
                "200": {"description": "The file; headers X-Export-Rows and X-Export-Id", "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}},
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}},
                "default": problem}},
        "get": {
            "summary": "The export log, newest first (administrators)",
            "tags": ["exports"],
            "parameters": [{"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
            "responses": {
                "200": {"description": "Exports", "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "data": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "integer"}, "user_id": {"type": "integer"}, "entity": {"type": "string"},
                        "filter": {"type": ["string", "null"]}, "q": {"type": ["string", "null"]},
                        "columns": {}, "format": {"type": "string"}, "rows": {"type": "integer"},
                        "source": {"type": "string"}, "created_at": {"type": ["string", "null"]}},
                        "required": ["id", "user_id", "entity", "format", "rows", "source"]}}},
                    "required": ["data"]}}}},
                "default": problem}}
    }));
}
