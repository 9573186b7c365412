//! Attachments: `POST /api/v1/<type>/{id}/attachments?name=file.pdf` with the raw file as
//! the body, `GET` the list, `GET /api/v1/attachments/{id}` to download (only for users
//! who may read the record), `DELETE` to remove. Files live under `<data_dir>/files`,
//! named by their SHA-256, so identical uploads share one file.

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use plotina_core::schema::Entity;
use plotina_store::attachments::NewAttachment;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::api::input;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize, Default)]
struct UploadQuery {
    name: Option<String>,
}

fn file_path(state: &AppState, sha: &str) -> std::path::PathBuf {
    state
        .config
        .data_dir
        .join("files")
        .join(&sha[..2])
        .join(sha)
}

/// Writes `bytes` under `<data_dir>/files` named by their SHA-256 (unless that file is
/// already there) and returns the hash. Shared by the API and the web upload form.
pub async fn save_file(s: &AppState, bytes: &[u8]) -> anyhow::Result<String> {
    let sha = hex::encode(Sha256::digest(bytes));
    let path = file_path(s, &sha);
    if !path.exists() {
        let dir = path
            .parent()
            .ok_or_else(|| anyhow::anyhow!("bad attachment path"))?;
        tokio::fs::create_dir_all(dir).await?;
        let tmp = path.with_extension("part");
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
    }
    Ok(sha)
}

fn entity(plural: &str) -> ApiResult<Entity> {
    Entity::from_plural(plural)
        .filter(|e| e.is_business())
        .ok_or_else(ApiError::not_found)
}

async fn upload(
    State(s): State<AppState>,
    a: Auth,
    Path((plural, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let entity = entity(&plural)?;
    let id = input::id(&id)?;
    let q: UploadQuery = input::query(raw.as_deref())?;
    if body.len() > s.config.max_upload_bytes {
        return Err(ApiError::PayloadTooLarge);
    }
    if body.is_empty() {
        return Err(plotina_core::DomainError::invalid("body", "file_empty").into());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() < 200 && !v.contains(['\r', '\n']))
        .unwrap_or("application/octet-stream");
    // Check the edit permission before touching the disk, so a reader cannot leave
    // unreferenced files behind; `add_attachment` checks again inside its transaction.
    s.store.get_editable(&a.actor, entity, id).await?;
    let sha = save_file(&s, &body).await?;
    let name = q.name.unwrap_or_else(|| "file".into());
    let file = NewAttachment {
        file_name: &name,
        content_type,
        size: body.len() as i64,
        sha256: &sha,
    };
    let att = s.store.add_attachment(&a.actor, entity, id, file).await?;
    Ok((StatusCode::CREATED, Json(att)).into_response())
}

async fn list(
    State(s): State<AppState>,
    a: Auth,
    Path((plural, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let entity = entity(&plural)?;
    let list = s
        .store
        .attachments(&a.actor, entity, input::id(&id)?)
        .await?;
    Ok(Json(json!({"data": list})).into_response())
}

async fn download(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let att = s.store.attachment(&a.actor, input::id(&id)?).await?;
    let bytes = tokio::fs::read(file_path(&s, &att.sha256))
        .await
        .map_err(|e| anyhow::anyhow!("attachment file missing: {e}"))?;
    let mut resp = Response::new(Body::from(bytes));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&att.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    // RFC 5987 encoding keeps Cyrillic file names intact.
    let encoded: String = att
        .file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{encoded}")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(resp)
}

async fn remove(State(s): State<AppState>, a: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    s.store.delete_attachment(&a.actor, input::id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub fn router(max_upload: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/{plural}/{id}/attachments",
            post(upload)
                .get(list)
                .layer(DefaultBodyLimit::max(max_upload)),
        )
        .route("/api/v1/attachments/{id}", get(download).delete(remove))
}
