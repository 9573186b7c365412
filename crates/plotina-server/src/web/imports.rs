//! Imports in the browser: `/imports` (the batches), `/imports/new` (upload), the mapping
//! step `/imports/new/{file}`, the dry run's report and the batch page `/imports/{id}`
//! (progress while the import runs in the background, then the result and undo).
//!
//! The uploaded file waits between the steps in `<data_dir>/import-staging/` under the
//! user's id and a random token; the real import claims it (a rename, so a double click
//! cannot import twice), runs [`import::prepare`] in the request and [`import::execute`]
//! on a background task, whose progress the batch row carries (`rows_done`).

use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use plotina_core::policy::{Action, Actor};
use plotina_core::schema::Entity;
use plotina_store::import::pages::{self, Preview, Target};
use plotina_store::import::{self, Batch, ColumnMap, ImportRequest, OnDuplicate, Preset};
use serde::Deserialize;

use super::ctx::check_csrf;
use super::import_views::{
    self, BatchPage, ListPage, MapPage, MapRow, NewPage, Opt, ProblemRow, SampleRow,
};
use super::lookups::Lookups;
use super::{fmt, html, html_status, redirect, urls, Ctx, FormData, Web, WebError, WebResult};
use crate::api::imports::{importable, problem_text, rejects_csv, MAX_IMPORT_BYTES};
use crate::state::AppState;

/// Rows of the file shown on the mapping step.
const SAMPLE_ROWS: usize = 5;
/// Rejected rows per page of a report.
const REPORT_PAGE: u64 = 100;
/// Staged files older than this are removed at the next upload.
const STAGING_HOURS: u64 = 24;

/// The entities this user may import (create).
pub fn importable_for(actor: &Actor) -> Vec<Entity> {
    import::IMPORTABLE
        .iter()
        .copied()
        .filter(|e| actor.can(*e, Action::Create))
        .collect()
}

fn may_import(web: &Web) -> Result<(), WebError> {
    if importable_for(&web.actor).is_empty() {
        Err(WebError::Forbidden("forbidden_create"))
    } else {
        Ok(())
    }
}

fn entity_for(web: &Web, name: &str) -> Result<Entity, WebError> {
    let entity = importable(name).ok_or_else(|| {
        WebError::Domain(plotina_core::DomainError::bad_request(
            "entity",
            "import_entity_unknown",
        ))
    })?;
    if !web.actor.can(entity, Action::Create) {
        return Err(WebError::Forbidden("forbidden_create"));
    }
    Ok(entity)
}

// ---------------------------------------------------------------------------------------
// Staging

fn staging_dir(s: &AppState) -> PathBuf {
    s.config.data_dir.join("import-staging")
}

/// A staged file of this user: tokens are 32 hex digits, nothing else reaches a path.
fn staged(s: &AppState, web: &Web, token: &str) -> Result<PathBuf, WebError> {
    if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(WebError::NotFound);
    }
    Ok(staging_dir(s).join(format!(
        "{}-{}",
        web.actor.user_id,
        token.to_ascii_lowercase()
    )))
}

fn new_token() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Removes staged files nobody came back for.
fn sweep(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let max_age = std::time::Duration::from_secs(STAGING_HOURS * 3600);
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > max_age);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

// ---------------------------------------------------------------------------------------
// The list

/// `GET /imports`: the batches (the user's own; every one for an administrator).
async fn list(State(s): State<AppState>, web: Web) -> WebResult {
    if !web.actor.is_admin {
        may_import(&web)?;
    }
    let ctx = web.ctx.clone().with_section("settings");
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let rows = pages::batches(&s.store, &web.actor, 200)
        .await?
        .into_iter()
        .map(|b| import_views::row(&ctx, &lk, b))
        .collect();
    html(&ListPage {
        can_import: !importable_for(&web.actor).is_empty(),
        ctx,
        rows,
    })
}

// ---------------------------------------------------------------------------------------
// Upload

#[derive(Deserialize, Default)]
struct NewQuery {
    entity: Option<String>,
}

fn new_page(web: &Web, entity: &str, preset: &str, dup: &str, error: String) -> NewPage {
    let ctx = web.ctx.clone().with_section("settings");
    NewPage {
        entities: importable_for(&web.actor)
            .into_iter()
            .map(|e| Opt {
                value: e.plural().into(),
                label: ctx.t(&format!("ui-nav-{}", e.plural())),
                selected: e.plural() == entity,
            })
            .collect(),
        presets: import_views::preset_opts(&ctx, preset),
        policies: import_views::policy_opts(&ctx, dup),
        max: super::files::size_text(ctx.lang, MAX_IMPORT_BYTES as i64),
        error,
        ctx,
    }
}

/// `GET /imports/new`: the upload form.
async fn new_form(web: Web, Query(q): Query<NewQuery>) -> WebResult {
    may_import(&web)?;
    let entity = q.entity.unwrap_or_default();
    html(&new_page(&web, &entity, "", "skip", String::new()))
}

struct UploadForm {
    entity: String,
    preset: String,
    on_duplicate: String,
    file_name: String,
    /// Bytes written to the staged file; `None` when no file was sent.
    size: Option<usize>,
    too_large: bool,
    unreadable: bool,
}

/// Reads the upload form into the staged file; the CSRF token must come first.
async fn read_upload(web: &Web, mut mp: Multipart, path: &PathBuf) -> Result<UploadForm, WebError> {
    use tokio::io::AsyncWriteExt;
    let mut form = UploadForm {
        entity: String::new(),
        preset: String::new(),
        on_duplicate: String::new(),
        file_name: String::new(),
        size: None,
        too_large: false,
        unreadable: false,
    };
    let mut csrf_ok = false;
    loop {
        let mut field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if csrf_ok => {
                form.too_large = e.status() == StatusCode::PAYLOAD_TOO_LARGE;
                form.unreadable = !form.too_large;
                return Ok(form);
            }
            Err(_) => return Err(WebError::Csrf),
        };
        let name = field.name().unwrap_or("").to_string();
        if name == "csrf" {
            let value = field.text().await.map_err(|_| WebError::Csrf)?;
            check_csrf(&FormData(vec![("csrf".into(), value)]), &web.ctx.csrf)?;
            csrf_ok = true;
            continue;
        }
        if !csrf_ok {
            return Err(WebError::Csrf);
        }
        if name == "file" {
            form.file_name = field
                .file_name()
                .unwrap_or("import")
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            let mut out = tokio::fs::File::create(path)
                .await
                .map_err(anyhow::Error::from)?;
            let mut size = 0usize;
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        size += chunk.len();
                        if size > MAX_IMPORT_BYTES {
                            form.too_large = true;
                            return Ok(form);
                        }
                        out.write_all(&chunk).await.map_err(anyhow::Error::from)?;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        form.too_large = e.status() == StatusCode::PAYLOAD_TOO_LARGE;
                        form.unreadable = !form.too_large;
                        return Ok(form);
                    }
                }
            }
            out.flush().await.map_err(anyhow::Error::from)?;
            form.size = Some(size);
        } else {
            let value: String = field
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            match name.as_str() {
                "entity" => form.entity = value,
                "preset" => form.preset = value,
                "on_duplicate" => form.on_duplicate = value,
                _ => {}
            }
        }
    }
    if !csrf_ok {
        return Err(WebError::Csrf);
    }
    Ok(form)
}

/// A look at a staged file (`whole`: all of it, checked), off the async threads.
async fn look(path: PathBuf, whole: bool) -> Result<Preview, WebError> {
    tokio::task::spawn_blocking(move || pages::preview(&path, SAMPLE_ROWS, whole))
        .await
        .map_err(anyhow::Error::from)?
        .map_err(|e| WebError::from(pages::file_problem(e)))
}

/// The message of a refusal in the user's language, with its status.
fn refusal(ctx: &Ctx, e: WebError) -> Result<(StatusCode, String), WebError> {
    match e {
        WebError::Domain(d) => {
            let parts = crate::error::ApiError::Domain(d).parts();
            let text = parts
                .errors
                .first()
                .map(|fe| crate::i18n::I18n::get().text(ctx.lang, fe.code, &fe.args))
                .unwrap_or_else(|| ctx.t("ui-error-bad-request"));
            Ok((parts.status, text))
        }
        other => Err(other),
    }
}

/// `POST /imports/new` (multipart: `csrf`, `entity`, `preset`, `on_duplicate`, `file`):
/// the file is staged and checked as a whole, then on to the mapping step.
async fn upload(State(s): State<AppState>, web: Web, mp: Multipart) -> WebResult {
    may_import(&web)?;
    let dir = staging_dir(&s);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(anyhow::Error::from)?;
    sweep(&dir);
    let token = new_token();
    let path = staged(&s, &web, &token)?;
    let form = read_upload(&web, mp, &path).await;
    let form = match form {
        Ok(f) => f,
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e);
        }
    };
    let fail = |status: StatusCode, text: String| {
        let page = new_page(&web, &form.entity, &form.preset, &form.on_duplicate, text);
        html_status(status, &page)
    };
    let problem = if form.too_large {
        Some((
            StatusCode::PAYLOAD_TOO_LARGE,
            web.ctx.ta(
                "importpage-too-large",
                "max",
                super::files::size_text(web.ctx.lang, MAX_IMPORT_BYTES as i64),
            ),
        ))
    } else if form.unreadable {
        Some((StatusCode::BAD_REQUEST, web.ctx.t("import_file_unreadable")))
    } else if form.size.is_none() {
        Some((StatusCode::BAD_REQUEST, web.ctx.t("importpage-choose-file")))
    } else {
        None
    };
    if let Some((status, text)) = problem {
        let _ = tokio::fs::remove_file(&path).await;
        return fail(status, text);
    }
    let entity = match entity_for(&web, &form.entity) {
        Ok(e) => e,
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e);
        }
    };
    if !form.preset.is_empty() && Preset::parse(&form.preset).is_none() {
        let _ = tokio::fs::remove_file(&path).await;
        return fail(StatusCode::BAD_REQUEST, web.ctx.t("import_preset_unknown"));
    }
    let dup = if form.on_duplicate.is_empty() {
        "skip"
    } else {
        &form.on_duplicate
    };
    if OnDuplicate::parse(dup).is_none() {
        let _ = tokio::fs::remove_file(&path).await;
        return fail(
            StatusCode::BAD_REQUEST,
            web.ctx.t("import_on_duplicate_unknown"),
        );
    }
    let rows = match look(path.clone(), true).await {
        Ok(p) => p.rows,
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            let (status, text) = refusal(&web.ctx, e)?;
            return fail(status, text);
        }
    };
    Ok(redirect(&format!(
        "/imports/new/{token}{}",
        urls::query(&[
            ("entity", entity.plural()),
            ("preset", &form.preset),
            ("on_duplicate", dup),
            ("name", &form.file_name),
            ("rows", &rows.to_string()),
        ])
    )))
}

// ---------------------------------------------------------------------------------------
// Mapping

#[derive(Deserialize, Default)]
struct MapQuery {
    entity: Option<String>,
    preset: Option<String>,
    on_duplicate: Option<String>,
    name: Option<String>,
    /// A saved mapping to apply.
    mapping: Option<String>,
    /// A dry run whose mapping to start from (back from its report).
    from: Option<String>,
    /// Data rows in the file (counted at the upload).
    rows: Option<String>,
}

/// Matches saved columns to the file's headers by name.
fn by_header(headers: &[String], saved: &[ColumnMap]) -> Vec<ColumnMap> {
    headers
        .iter()
        .map(|h| ColumnMap {
            header: h.clone(),
            target: saved
                .iter()
                .find(|c| c.header.trim() == h.trim())
                .and_then(|c| c.target.clone()),
        })
        .collect()
}

struct MapState {
    entity: Entity,
    preset: String,
    on_duplicate: String,
    file_name: String,
    mapping_name: String,
    save_as: String,
}

#[allow(clippy::too_many_arguments)]
async fn map_page(
    s: &AppState,
    web: &Web,
    token: &str,
    st: MapState,
    preview: Preview,
    mapping: Vec<ColumnMap>,
    status: StatusCode,
    error: String,
) -> WebResult {
    let ctx = web.ctx.clone().with_section("settings");
    let targets = pages::targets(&s.store, st.entity).await?;
    let target_label = |t: &Target| match t {
        Target::Field(f) => fmt::field_label(ctx.lang, st.entity, f),
        Target::Pseudo(p) => ctx.t(&format!("importpage-target-{p}")),
        Target::Custom(d) => fmt::custom_label(ctx.lang, d),
    };
    let rows = mapping
        .iter()
        .enumerate()
        .map(|(i, c)| MapRow {
            index: i,
            header: c.header.clone(),
            example: preview
                .sample
                .iter()
                .filter_map(|(_, cells)| cells.get(i).map(|v| v.trim()))
                .find(|v| !v.is_empty())
                .unwrap_or("")
                .chars()
                .take(80)
                .collect(),
            options: targets
                .iter()
                .map(|t| Opt {
                    value: t.code(),
                    label: target_label(t),
                    selected: c.target.as_deref() == Some(t.code().as_str()),
                })
                .collect(),
        })
        .collect();
    let saved = pages::mapping_names(&s.store, st.entity).await?;
    let page = MapPage {
        token: token.to_string(),
        entity: st.entity.plural().to_string(),
        entity_label: ctx.t(&format!("ui-nav-{}", st.entity.plural())),
        preset: st.preset,
        file_name: st.file_name,
        format: preview.format.code().to_uppercase(),
        total: preview.rows,
        headers: preview.headers.clone(),
        sample: preview
            .sample
            .iter()
            .map(|(row, cells)| SampleRow {
                row: *row,
                cells: (0..preview.headers.len())
                    .map(|i| cells.get(i).cloned().unwrap_or_default())
                    .collect(),
            })
            .collect(),
        rows,
        policies: import_views::policy_opts(&ctx, &st.on_duplicate),
        saved: saved
            .into_iter()
            .map(|n| Opt {
                selected: n == st.mapping_name,
                label: n.clone(),
                value: n,
            })
            .collect(),
        on_duplicate: st.on_duplicate,
        save_as: st.save_as,
        error,
        ctx,
    };
    html_status(status, &page)
}

/// `GET /imports/new/{file}`: the file's columns with the automatic (or a saved, or the
/// last dry run's) mapping pre-selected, and its first rows.
async fn map_form(
    State(s): State<AppState>,
    web: Web,
    Path(token): Path<String>,
    Query(q): Query<MapQuery>,
) -> WebResult {
    may_import(&web)?;
    let path = staged(&s, &web, &token)?;
    if !path.exists() {
        return Err(gone());
    }
    let entity = entity_for(&web, q.entity.as_deref().unwrap_or(""))?;
    // The file was checked as a whole at the upload: the first rows are enough here.
    let mut preview = look(path, false).await?;
    if let Some(rows) = q.rows.as_deref().and_then(|r| r.parse::<u64>().ok()) {
        preview.rows = rows;
    }
    let preset = q.preset.unwrap_or_default();
    let mut error = String::new();
    let mut mapping_name = q.mapping.unwrap_or_default();
    let mapping = if let Some(from) = q.from.as_deref().and_then(|f| f.parse::<i64>().ok()) {
        // Only a batch this user may see.
        preview.rows = import::batch(&s.store, &web.actor, from).await?.rows_total as u64;
        by_header(
            &preview.headers,
            &import::batch_mapping(&s.store, from).await?,
        )
    } else if !mapping_name.trim().is_empty() {
        match import::load_mapping(&s.store, entity, &mapping_name).await? {
            Some(saved) => by_header(&preview.headers, &saved),
            None => {
                error = web.ctx.t("import_mapping_unknown");
                mapping_name.clear();
                pages::auto_mapping(&s.store, entity, &preview.headers, Preset::parse(&preset))
                    .await?
            }
        }
    } else {
        pages::auto_mapping(&s.store, entity, &preview.headers, Preset::parse(&preset)).await?
    };
    let st = MapState {
        entity,
        preset,
        on_duplicate: q
            .on_duplicate
            .filter(|d| OnDuplicate::parse(d).is_some())
            .unwrap_or_else(|| "skip".into()),
        file_name: q.name.unwrap_or_default().chars().take(200).collect(),
        mapping_name,
        save_as: String::new(),
    };
    map_page(
        &s,
        &web,
        &token,
        st,
        preview,
        mapping,
        StatusCode::OK,
        error,
    )
    .await
}

fn gone() -> WebError {
    WebError::Domain(plotina_core::DomainError::bad_request(
        "file",
        "importpage-file-gone",
    ))
}

/// `POST /imports/new/{file}`: the edited mapping (`col` per column, in order; `""`
/// skips it), optionally saved by name, and a dry run; on to its report.
async fn dry_run(
    State(s): State<AppState>,
    web: Web,
    Path(token): Path<String>,
    body: Bytes,
) -> WebResult {
    let form = web.form(&body)?;
    may_import(&web)?;
    let path = staged(&s, &web, &token)?;
    if !path.exists() {
        return Err(gone());
    }
    let entity = entity_for(&web, form.text("entity"))?;
    let on_duplicate = OnDuplicate::parse(form.text("on_duplicate")).ok_or_else(|| {
        WebError::Domain(plotina_core::DomainError::bad_request(
            "on_duplicate",
            "import_on_duplicate_unknown",
        ))
    })?;
    let mut preview = look(path.clone(), false).await?;
    if let Ok(rows) = form.text("rows").parse::<u64>() {
        preview.rows = rows;
    }
    let cols = form.all("col");
    let columns: Vec<ColumnMap> = preview
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| ColumnMap {
            header: h.clone(),
            target: cols
                .get(i)
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        })
        .collect();
    let file_name: String = form.text("file_name").chars().take(200).collect();
    let save_as = form.text("save_as").to_string();
    let st = MapState {
        entity,
        preset: form.text("preset").to_string(),
        on_duplicate: on_duplicate.code().to_string(),
        file_name: file_name.clone(),
        mapping_name: String::new(),
        save_as: save_as.clone(),
    };
    let req = ImportRequest {
        entity,
        file_name,
        dry_run: true,
        on_duplicate,
        preset: None,
        columns: Some(columns.clone()),
        per_row: false,
    };
    let mut outcome = Ok(());
    if !save_as.is_empty() {
        outcome = import::save_mapping(&s.store, &web.actor, entity, &save_as, &columns)
            .await
            .map_err(WebError::from);
    }
    let report = match outcome {
        Ok(()) => import::run(&s.store, &web.actor, &path, &req, &|_| {})
            .await
            .map_err(WebError::from),
        Err(e) => Err(e),
    };
    match report {
        Ok(r) => Ok(redirect(&format!("/imports/{}?file={token}", r.batch_id))),
        Err(e) => {
            let (status, text) = refusal(&web.ctx, e)?;
            map_page(&s, &web, &token, st, preview, columns, status, text).await
        }
    }
}

/// `POST /imports/new/{file}/run` (`dry`: the dry run whose settings to import with):
/// the file is claimed, checked and its batch created here; the rows are written by a
/// background task. On to the batch page, which shows the progress.
async fn start(
    State(s): State<AppState>,
    web: Web,
    Path(token): Path<String>,
    body: Bytes,
) -> WebResult {
    let form = web.form(&body)?;
    may_import(&web)?;
    let path = staged(&s, &web, &token)?;
    let dry_id = form.id("dry").ok_or(WebError::NotFound)?;
    let dry = import::batch(&s.store, &web.actor, dry_id).await?;
    if !dry.dry_run {
        return Err(WebError::NotFound);
    }
    if !web.actor.can(dry.entity, Action::Create) {
        return Err(WebError::Forbidden("forbidden_create"));
    }
    let columns = import::batch_mapping(&s.store, dry_id).await?;
    // The claim: whoever renames the staged file runs the import.
    let claimed = path.with_extension("running");
    if tokio::fs::rename(&path, &claimed).await.is_err() {
        return Err(gone());
    }
    let req = ImportRequest {
        entity: dry.entity,
        file_name: dry.file_name.clone(),
        dry_run: false,
        on_duplicate: OnDuplicate::parse(&dry.on_duplicate).unwrap_or(OnDuplicate::Skip),
        preset: None,
        columns: Some(columns),
        per_row: false,
    };
    let prepared = match import::prepare(&s.store, &web.actor, &claimed, &req, &|_| {}).await {
        Ok(p) => p,
        Err(e) => {
            // Nothing was written; the file may be mapped again.
            let _ = tokio::fs::rename(&claimed, &path).await;
            return Err(e.into());
        }
    };
    let id = prepared.batch_id;
    let store = s.store.clone();
    let actor = web.actor.clone();
    tokio::spawn(async move {
        if let Err(e) = import::execute(&store, &actor, &claimed, &req, prepared, &|_| {}).await {
            tracing::warn!(batch = id, error = ?e, "background import failed");
        }
        let _ = tokio::fs::remove_file(&claimed).await;
    });
    Ok(redirect(&format!("/imports/{id}")))
}

// ---------------------------------------------------------------------------------------
// A batch

#[derive(Deserialize, Default)]
struct BatchQuery {
    file: Option<String>,
    after: Option<String>,
    notice: Option<String>,
}

fn batch_id(id: &str) -> Result<i64, WebError> {
    id.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or(WebError::NotFound)
}

/// `GET /imports/{id}`: a dry run's report (with the button to import), or an import's
/// progress, result, rejected rows and undo.
async fn show(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    Query(q): Query<BatchQuery>,
) -> WebResult {
    let id = batch_id(&id)?;
    let b = import::batch(&s.store, &web.actor, id).await?;
    let ctx = web.ctx.clone().with_section("settings");
    let after = q
        .after
        .as_deref()
        .and_then(|a| a.parse::<i64>().ok())
        .filter(|a| *a >= 0)
        .unwrap_or(0);
    let rejected = import::rejects(&s.store, &web.actor, id, after, REPORT_PAGE).await?;
    let next_after = (rejected.len() as u64 == REPORT_PAGE)
        .then(|| rejected.last().map(|r| r.0))
        .flatten();
    let mapping = import::batch_mapping(&s.store, id).await?;
    let problems: Vec<ProblemRow> = rejected
        .iter()
        .flat_map(|(row, _, problems)| {
            problems.iter().map(|p| {
                let (column, message) = problem_text(ctx.lang, p);
                ProblemRow {
                    row: *row,
                    column: column.unwrap_or_default(),
                    message,
                }
            })
        })
        .collect();
    // The import button, while the staged file is there.
    let file = q
        .file
        .filter(|t| b.dry_run && staged(&s, &web, t).is_ok_and(|p| p.exists()))
        .unwrap_or_default();
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let notice = match q.notice.as_deref() {
        Some("undone") => ctx.ta("import-undone", "id", id),
        _ => String::new(),
    };
    let page = BatchPage {
        row: import_views::row(&ctx, &lk, b.clone()),
        percent: import_views::percent(&b),
        running: b.status == "running",
        failed: b.status == "failed",
        undone: b.status == "undone",
        interrupted: if b.status == "interrupted" {
            ctx.ta2(
                "importpage-interrupted",
                ("done", b.rows_done.to_string()),
                ("total", b.rows_total.to_string()),
            )
        } else {
            String::new()
        },
        dry_run: b.dry_run,
        undoable: import_views::undoable(&b),
        mapping: mapping
            .iter()
            .map(|c| {
                (
                    c.header.clone(),
                    c.target
                        .as_deref()
                        .map(|t| import_views::target_text(&ctx, b.entity, t))
                        .unwrap_or_else(|| ctx.t("importpage-skip")),
                )
            })
            .collect(),
        back: if file.is_empty() {
            String::new()
        } else {
            format!(
                "/imports/new/{file}{}",
                urls::query(&[
                    ("entity", b.entity.plural()),
                    ("on_duplicate", &b.on_duplicate),
                    ("name", &b.file_name),
                    ("from", &id.to_string()),
                ])
            )
        },
        next: next_after
            .map(|a| {
                format!(
                    "/imports/{id}{}",
                    urls::query(&[("after", &a.to_string()), ("file", &file)])
                )
            })
            .unwrap_or_default(),
        file,
        problems,
        notice,
        batch: b,
        ctx,
    };
    html(&page)
}

/// `GET /imports/{id}/rejects`: the rejected rows as CSV, problems in the user's language.
async fn rejects(State(s): State<AppState>, web: Web, Path(id): Path<String>) -> WebResult {
    let id = batch_id(&id)?;
    let bytes = rejects_csv(&s.store, &web.actor, id, web.ctx.lang).await?;
    let mut resp = Response::new(axum::body::Body::from(bytes));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"rejected-{id}.csv\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp.into_response())
}

/// `POST /imports/{id}/undo`: the whole batch taken back; a running one is refused.
async fn undo(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    web.form(&body)?;
    let id = batch_id(&id)?;
    let b: Batch = import::batch(&s.store, &web.actor, id).await?;
    if b.status == "running" {
        return Err(WebError::Domain(plotina_core::DomainError::conflict(
            "batch",
            "importpage-still-running",
        )));
    }
    import::undo(&s.store, &web.actor, id).await?;
    Ok(redirect(&format!("/imports/{id}?notice=undone")))
}

pub fn router() -> Router<AppState> {
    // Room for the other fields and the multipart framing around the largest file.
    let limit = DefaultBodyLimit::max(MAX_IMPORT_BYTES.saturating_add(64 * 1024));
    Router::new()
        .route("/imports", get(list))
        .route("/imports/new", get(new_form).post(upload).layer(limit))
        .route("/imports/new/{token}", get(map_form).post(dry_run))
        .route("/imports/new/{token}/run", post(start))
        .route("/imports/{id}", get(show))
        .route("/imports/{id}/rejects", get(rejects))
        .route("/imports/{id}/undo", post(undo))
}
