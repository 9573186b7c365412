//! Imports over HTTP: `POST /api/v1/imports` (multipart: the file in field `file`,
//! options as query parameters) checks the file and starts an import or a dry run in the
//! background, answering `202 Accepted` with the batch and its `Location`;
//! `GET /api/v1/imports/{id}` is the batch's status and progress (`rows_done`), polled
//! until it is no longer `checking` or `running`; `…/report` its row problems in the
//! caller's language, `…/rejects` the rejected rows as CSV, `POST …/undo` undoes it.
//!
//! Dry runs go to the background too: a dry run reads and checks every row against the
//! database like the import itself, so on a large file it takes as long, and one way of
//! following a batch is simpler for clients than two.

use std::io::Write;

use axum::extract::{DefaultBodyLimit, Multipart, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use plotina_core::schema::Entity;
use plotina_core::DomainError;
use plotina_store::import::{self, ColumnMap, ImportRequest, OnDuplicate, Preset, RowProblem};
use plotina_store::Store;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::input;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::i18n::{I18n, Lang};
use crate::state::AppState;

/// The largest import file taken over HTTP (the CLI has no limit).
pub const MAX_IMPORT_BYTES: usize = 512 << 20;

#[derive(Deserialize, Default)]
struct ImportQuery {
    entity: Option<String>,
    dry_run: Option<bool>,
    preset: Option<String>,
    on_duplicate: Option<String>,
    mapping: Option<String>,
    save_mapping: Option<String>,
}

/// `companies|contacts|leads|deals|activities` (or the singular) → entity.
pub fn importable(name: &str) -> Option<Entity> {
    let e = Entity::from_plural(name).or_else(|| {
        import::IMPORTABLE
            .iter()
            .copied()
            .find(|e| e.code() == name)
    })?;
    import::IMPORTABLE.contains(&e).then_some(e)
}

fn lang(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map_or(Lang::Ru, Lang::from_accept_language)
}

/// A row problem as a sentence in `lang`.
pub fn problem_message(lang: Lang, p: &RowProblem) -> String {
    let args: Vec<(&str, String)> = p
        .args
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    I18n::get().text(lang, &p.code, &args)
}

/// A stored problem (as `import_rejects` keeps it) as its column and its sentence in `lang`.
pub fn problem_text(lang: Lang, p: &Value) -> (Option<String>, String) {
    let j = problem_json(lang, p);
    (
        j["column"].as_str().map(String::from),
        j["message"].as_str().unwrap_or_default().to_string(),
    )
}

fn problem_json(lang: Lang, p: &Value) -> Value {
    let args: Vec<(String, String)> = p["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|kv| Some((kv[0].as_str()?.to_string(), kv[1].as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let rp = RowProblem {
        row: p["row"].as_u64().unwrap_or_default(),
        column: p["column"].as_str().map(String::from),
        field: p["field"].as_str().unwrap_or_default().to_string(),
        code: p["code"].as_str().unwrap_or_default().to_string(),
        args,
    };
    json!({"row": rp.row, "column": rp.column, "field": rp.field, "code": rp.code, "message": problem_message(lang, &rp)})
}

/// The rejected rows of a batch as CSV: the file's header plus a column of problems, so
/// the file can be fixed and imported again.
pub async fn rejects_csv(
    store: &Store,
    actor: &plotina_core::policy::Actor,
    id: i64,
    lang: Lang,
) -> Result<Vec<u8>, plotina_store::StoreError> {
    let mapping = import::batch_mapping(store, id).await?;
    let mut out = Vec::new();
    out.write_all(b"\xEF\xBB\xBF")
        .map_err(anyhow::Error::from)?;
    {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(&mut out);
        let mut header: Vec<String> = mapping.iter().map(|c| c.header.clone()).collect();
        header.push(I18n::get().text(lang, "import-rejects-column", &[]));
        w.write_record(&header).map_err(anyhow::Error::from)?;
        let mut after = 0;
        loop {
            let rows = import::rejects(store, actor, id, after, 1000).await?;
            if rows.is_empty() {
                break;
            }
            for (row, mut cells, problems) in rows {
                after = row;
                cells.resize(mapping.len().max(cells.len()), String::new());
                let msgs: Vec<String> = problems
                    .iter()
                    .map(|p| {
                        let j = problem_json(lang, p);
                        match j["column"].as_str() {
                            Some(c) => format!("{c}: {}", j["message"].as_str().unwrap_or("")),
                            None => j["message"].as_str().unwrap_or("").to_string(),
                        }
                    })
                    .collect();
                cells.push(msgs.join("; "));
                w.write_record(&cells).map_err(anyhow::Error::from)?;
            }
        }
        w.flush().map_err(anyhow::Error::from)?;
    }
    Ok(out)
}

fn bad(field: &str, code: &'static str) -> ApiError {
    DomainError::bad_request(field, code).into()
}

async fn create(
    State(s): State<AppState>,
    a: Auth,
    RawQuery(raw): RawQuery,
    mut multipart: Multipart,
) -> ApiResult<Response> {
    let q: ImportQuery = input::query(raw.as_deref())?;
    let entity = q
        .entity
        .as_deref()
        .and_then(importable)
        .ok_or_else(|| bad("entity", "import_entity_unknown"))?;
    let preset = match q.preset.as_deref().filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => Some(Preset::parse(p).ok_or_else(|| bad("preset", "import_preset_unknown"))?),
    };
    let on_duplicate = match q.on_duplicate.as_deref().filter(|p| !p.is_empty()) {
        None => OnDuplicate::Skip,
        Some(p) => OnDuplicate::parse(p)
            .ok_or_else(|| bad("on_duplicate", "import_on_duplicate_unknown"))?,
    };
    let mut columns: Option<Vec<ColumnMap>> = match q.mapping.as_deref().filter(|m| !m.is_empty()) {
        None => None,
        Some(name) => Some(
            import::load_mapping(&s.store, entity, name)
                .await?
                .ok_or_else(|| bad("mapping", "import_mapping_unknown"))?,
        ),
    };
    // The file goes to a temporary file as it arrives; never whole in memory.
    let mut tmp = tempfile::NamedTempFile::new().map_err(anyhow::Error::from)?;
    let mut file_name = String::from("import");
    let mut got_file = false;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| bad("file", "import_file_unreadable"))?
    {
        match field.name() {
            Some("file") => {
                if let Some(n) = field.file_name() {
                    file_name = n.chars().take(200).collect();
                }
                let mut size = 0usize;
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|_| bad("file", "import_file_unreadable"))?
                {
                    size += chunk.len();
                    if size > MAX_IMPORT_BYTES {
                        return Err(ApiError::PayloadTooLarge);
                    }
                    tmp.write_all(&chunk).map_err(anyhow::Error::from)?;
                }
                got_file = true;
            }
            Some("columns") => {
                let text = field
                    .text()
                    .await
                    .map_err(|_| bad("columns", "expected_object"))?;
                columns = Some(
                    serde_json::from_str(&text).map_err(|_| bad("columns", "expected_object"))?,
                );
            }
            _ => {}
        }
    }
    if !got_file {
        return Err(DomainError::invalid("file", "required").into());
    }
    tmp.flush().map_err(anyhow::Error::from)?;
    if let (Some(name), Some(cols)) = (q.save_mapping.as_deref(), columns.as_ref()) {
        import::save_mapping(&s.store, &a.actor, entity, name, cols).await?;
    }
    let req = ImportRequest {
        entity,
        file_name,
        dry_run: q.dry_run.unwrap_or(false),
        on_duplicate,
        preset,
        columns,
        per_row: false,
    };
    // The check pass (the whole file, no database) runs in the request, so a broken file
    // or request is refused with a 4xx and nothing written; the write pass runs in the
    // background and the client follows the batch (`Location`) until it is finished.
    let prepared = import::prepare(&s.store, &a.actor, tmp.path(), &req, &|_| {}).await?;
    let id = prepared.batch_id;
    let batch = import::batch(&s.store, &a.actor, id).await?;
    let store = s.store.clone();
    let actor = a.actor.clone();
    let path = tmp.into_temp_path();
    tokio::spawn(async move {
        if let Err(e) = import::execute(&store, &actor, &path, &req, prepared, &|_| {}).await {
            tracing::warn!(batch = id, error = ?e, "background import failed");
        }
        // The temporary file goes when `path` is dropped, after the write pass.
        drop(path);
    });
    let mut resp = (StatusCode::ACCEPTED, Json(batch)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/imports/{id}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// The batch with the file's columns as mapped (what the sync report used to carry).
async fn status(State(s): State<AppState>, a: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let b = import::batch(&s.store, &a.actor, id).await?;
    let mapping = import::batch_mapping(&s.store, id).await?;
    let mut body = serde_json::to_value(&b).map_err(anyhow::Error::from)?;
    body["mapping"] = serde_json::to_value(&mapping).map_err(anyhow::Error::from)?;
    Ok(Json(body).into_response())
}

async fn report(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let lang = lang(&headers);
    let rows = import::rejects(&s.store, &a.actor, id, 0, 1000).await?;
    let data: Vec<Value> = rows
        .iter()
        .flat_map(|(_, _, problems)| problems.iter().map(|p| problem_json(lang, p)))
        .collect();
    Ok(Json(json!({"data": data})).into_response())
}

async fn rejects(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = input::id(&id)?;
    let bytes = rejects_csv(&s.store, &a.actor, id, lang(&headers)).await?;
    let mut resp = Response::new(axum::body::Body::from(bytes));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"rejected-{id}.csv\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

async fn undo(State(s): State<AppState>, a: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let b = import::undo(&s.store, &a.actor, input::id(&id)?).await?;
    Ok(Json(b).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/imports",
            post(create).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/api/v1/imports/{id}", get(status))
        .route("/api/v1/imports/{id}/report", get(report))
        .route("/api/v1/imports/{id}/rejects", get(rejects))
        .route("/api/v1/imports/{id}/undo", post(undo))
}

/// The OpenAPI entries of the import endpoints.
pub fn openapi_paths(paths: &mut serde_json::Map<String, Value>) {
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}});
    let qp = |name: &str, schema: Value, d: &str| json!({"name": name, "in": "query", "required": false, "schema": schema, "description": d});
    let problem = json!({"description": "Problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let batch = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "entity": {"type": "string"}, "file_name": {"type": "string"}, "format": {"type": "string"},
        "status": {"type": "string", "enum": ["checking", "running", "dry_run", "done", "failed", "undone", "interrupted"],
            "description": "checking: a dry run in progress; running: an import in progress; dry_run / done: finished; failed: an error stopped it and what it wrote was taken back; interrupted: the server stopped while it ran, what it committed is kept and can be undone; undone"}, "dry_run": {"type": "boolean"},
        "on_duplicate": {"type": "string"}, "rows_total": {"type": "integer"}, "rows_created": {"type": "integer"}, "rows_updated": {"type": "integer"},
        "rows_skipped": {"type": "integer"}, "rows_rejected": {"type": "integer"},
        "rows_done": {"type": "integer", "description": "Rows written so far (progress of a running import)"}, "error": {"type": ["string", "null"]},
        "created_by": {"type": "integer"}, "created_at": {"type": "string"}, "finished_at": {"type": ["string", "null"]}, "undone_at": {"type": ["string", "null"]}},
        "required": ["id", "entity", "status", "rows_total"]});
    let problem_item = json!({"type": "object", "properties": {"row": {"type": "integer"}, "column": {"type": ["string", "null"]}, "field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}, "required": ["row", "field", "code", "message"]});
    let mapping = json!({"type": "array", "items": {"type": "object", "properties": {"header": {"type": "string"}, "target": {"type": ["string", "null"]}}, "required": ["header"]}});
    let mut status = batch.clone();
    status["properties"]["mapping"] = mapping;
    status["required"] = json!(["id", "entity", "status", "rows_total", "mapping"]);
    let ok = |schema: Value, d: &str| json!({"description": d, "content": {"application/json": {"schema": schema}}});
    let responses = |main: (&str, Value)| {
        let mut r = serde_json::Map::new();
        r.insert(main.0.to_string(), main.1);
        for code in ["400", "401", "403", "404", "409", "413", "422"] {
            r.insert(code.into(), problem.clone());
        }
        Value::Object(r)
    };
    paths.insert("/api/v1/imports".into(), json!({"post": {
        "summary": "Import (or dry-run) a CSV/XLSX/XLS file", "tags": ["imports"],
        "parameters": [
            qp("entity", json!({"type": "string", "enum": ["companies", "contacts", "leads", "deals", "activities"]}), "What the rows are"),
            qp("dry_run", json!({"type": "boolean"}), "Check and report, write nothing"),
            qp("preset", json!({"type": "string", "enum": ["bitrix24", "amocrm"]}), "Column names of a Bitrix24 or amoCRM export"),
            qp("on_duplicate", json!({"type": "string", "enum": ["skip", "update", "create"]}), "What to do with rows matching a record (INN, e-mail, phone, company name)"),
            qp("mapping", json!({"type": "string", "maxLength": 100}), "A saved mapping by name"),
            qp("save_mapping", json!({"type": "string", "maxLength": 100}), "Save the sent columns under this name")],
        "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}, "columns": {"type": "string", "description": "JSON: [{header, target}]"}}, "required": ["file"]}}}},
        "description": "Checks the file and the options (a refusal is a 4xx and nothing is written), then runs the import or the dry run in the background. The answer is the new batch (status `running`, or `checking` for a dry run) with its address in `Location`: poll `GET /api/v1/imports/{id}` until the status is no longer `running` or `checking`, then read the counts there and the row problems at `/api/v1/imports/{id}/report`.",
        "responses": responses(("202", json!({"description": "Accepted: the batch, running in the background", "headers": {"Location": {"description": "The batch to poll", "schema": {"type": "string"}}}, "content": {"application/json": {"schema": batch.clone()}}})))}}));
    paths.insert("/api/v1/imports/{id}".into(), json!({"get": {"summary": "Status and progress of an import batch, with its column mapping", "tags": ["imports"], "parameters": [id.clone()],
        "responses": responses(("200", ok(status, "The batch")))}}));
    paths.insert("/api/v1/imports/{id}/report".into(), json!({"get": {"summary": "Row problems of an import", "tags": ["imports"], "parameters": [id.clone()],
        "responses": responses(("200", ok(json!({"type": "object", "properties": {"data": {"type": "array", "items": problem_item}}, "required": ["data"]}), "Problems")))}}));
    paths.insert("/api/v1/imports/{id}/rejects".into(), json!({"get": {"summary": "Rejected rows as CSV", "tags": ["imports"], "parameters": [id.clone()],
        "responses": responses(("200", json!({"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}})))}}));
    paths.insert("/api/v1/imports/{id}/undo".into(), json!({"post": {"summary": "Undo an import as a whole", "tags": ["imports"], "parameters": [id],
        "responses": responses(("200", ok(batch, "The undone batch")))}}));
}
