//! Files on record cards: the list (download links go to the JSON API's
//! `GET /api/v1/attachments/{id}`, which accepts the session cookie), the upload form
//! (`multipart/form-data`) and deleting a file.

use axum::body::Bytes;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use plotina_core::schema::Entity;
use plotina_store::attachments::{Attachment, NewAttachment};

use super::ctx::check_csrf;
use super::forms::parse_id;
use super::lookups::Lookups;
use super::{fmt, redirect, urls, Ctx, FormData, Web, WebError, WebResult};
use crate::i18n::Lang;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct FileView {
    pub id: i64,
    pub name: String,
    pub href: String,
    pub size: String,
    pub meta: String,
}

/// `532 Б`, `1,5 КБ`, `12,0 МБ` (or `1.5 KB` in English).
pub fn size_text(lang: Lang, bytes: i64) -> String {
    let (value, unit) = match bytes {
        b if b < 1024 => (b.to_string(), "ui-size-b"),
        b if b < 1024 * 1024 => (format!("{:.1}", b as f64 / 1024.0), "ui-size-kb"),
        b => (format!("{:.1}", b as f64 / (1024.0 * 1024.0)), "ui-size-mb"),
    };
    let value = match lang {
        Lang::Ru => value.replace('.', ","),
        _ => value,
    };
    crate::i18n::t_args(lang, unit, &[("n", value)])
}

/// The record's files as the card shows them.
pub async fn views(
    s: &AppState,
    web: &Web,
    ctx: &Ctx,
    lk: &Lookups,
    entity: Entity,
    id: i64,
) -> Result<Vec<FileView>, WebError> {
    let list = s.store.attachments(&web.actor, entity, id).await?;
    Ok(list
        .iter()
        .map(|a: &Attachment| {
            let when = fmt::datetime_text(ctx, &a.created_at);
            let who = a.created_by.and_then(|u| lk.user(u)).unwrap_or("");
            FileView {
                id: a.id,
                name: a.file_name.clone(),
                href: format!("/api/v1/attachments/{}", a.id),
                size: size_text(ctx.lang, a.size),
                meta: if who.is_empty() {
                    when
                } else {
                    format!("{when} · {who}")
                },
            }
        })
        .collect())
}

/// The uploaded file: name, content type and bytes.
struct Upload {
    name: String,
    content_type: String,
    bytes: Vec<u8>,
}

enum Read {
    Ok(Upload),
    /// Shown on the card: a `ui-file-…` text id.
    Problem(&'static str),
}

fn problem(e: &MultipartError) -> Read {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Read::Problem("ui-file-too-large")
    } else {
        Read::Problem("ui-file-unreadable")
    }
}

/// Reads the file field in chunks, stopping as soon as it is over `max` bytes.
async fn read_file(mut field: Field<'_>, max: usize) -> Result<Option<Vec<u8>>, MultipartError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await? {
        if bytes.len() + chunk.len() > max {
            return Ok(None);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Some(bytes))
}

/// Reads the form; the CSRF token must come (and match) before anything else counts.
async fn read_form(web: &Web, mut mp: Multipart, max: usize) -> Result<Read, WebError> {
    let mut csrf_ok = false;
    let mut upload = None;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if csrf_ok => return Ok(problem(&e)),
            Err(_) => return Err(WebError::Csrf),
        };
        match field.name() {
            Some("csrf") => {
                let value = field.text().await.map_err(|_| WebError::Csrf)?;
                let form = FormData(vec![("csrf".into(), value)]);
                check_csrf(&form, &web.ctx.csrf)?;
                csrf_ok = true;
            }
            Some("file") if csrf_ok => {
                let name = field.file_name().unwrap_or("file").to_string();
                let content_type = field
                    .content_type()
                    .filter(|v| v.len() < 200 && !v.contains(['\r', '\n']))
                    .unwrap_or("application/octet-stream")
                    .to_string();
                match read_file(field, max).await {
                    Ok(Some(bytes)) => {
                        upload = Some(Upload {
                            name,
                            content_type,
                            bytes,
                        })
                    }
                    Ok(None) => return Ok(Read::Problem("ui-file-too-large")),
                    Err(e) => return Ok(problem(&e)),
                }
            }
            _ => {}
        }
    }
    if !csrf_ok {
        return Err(WebError::Csrf);
    }
    Ok(match upload {
        Some(u) if !u.bytes.is_empty() => Read::Ok(u),
        _ => Read::Problem("ui-file-choose"),
    })
}

/// `POST /<plural>/{id}/attachments` (multipart: `csrf`, `file`).
async fn upload(entity: Entity, s: AppState, web: Web, id: String, mp: Multipart) -> WebResult {
    let id = parse_id(&id)?;
    // Permission first: a record the user cannot see does not exist.
    s.store.get(&web.actor, entity, id).await?;
    let max = s.config.max_upload_bytes;
    let up = match read_form(&web, mp, max).await? {
        Read::Ok(up) => up,
        Read::Problem(text) => {
            let status = if text == "ui-file-too-large" {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            let msg = web.ctx.ta(text, "max", size_text(web.ctx.lang, max as i64));
            let mut resp = super::cards::card(entity, s, web, id, msg).await?;
            *resp.status_mut() = status;
            return Ok(resp);
        }
    };
    // Checked before the file is stored; `add_attachment` checks again in its transaction.
    s.store.get_editable(&web.actor, entity, id).await?;
    let sha = crate::api::attachments::save_file(&s, &up.bytes).await?;
    let file = NewAttachment {
        file_name: &up.name,
        content_type: &up.content_type,
        size: up.bytes.len() as i64,
        sha256: &sha,
    };
    s.store.add_attachment(&web.actor, entity, id, file).await?;
    Ok(redirect(&format!("{}#files", urls::card(entity, id))))
}

/// `POST /attachments/{id}/delete`: back to the record's card.
async fn delete(s: AppState, web: Web, id: String, body: Bytes) -> WebResult {
    let id = parse_id(&id)?;
    web.form(&body)?;
    let att = s.store.attachment(&web.actor, id).await?;
    let entity = Entity::from_code(&att.entity).ok_or(WebError::NotFound)?;
    s.store.delete_attachment(&web.actor, id).await?;
    Ok(redirect(&format!(
        "{}#files",
        urls::card(entity, att.record_id)
    )))
}

pub fn router(max_upload: usize) -> Router<AppState> {
    // Room for the other form fields and multipart framing; the file itself is
    // checked against `max_upload` while it is read.
    let limit = DefaultBodyLimit::max(max_upload.saturating_add(64 * 1024));
    let mut r = Router::new().route(
        "/attachments/{id}/delete",
        post(
            |State(s): State<AppState>, w: Web, Path(id): Path<String>, b: Bytes| {
                delete(s, w, id, b)
            },
        ),
    );
    for &entity in Entity::BUSINESS {
        r = r.route(
            &format!("/{}/{{id}}/attachments", entity.plural()),
            post(
                move |State(s): State<AppState>, w: Web, Path(id): Path<String>, mp: Multipart| {
                    upload(entity, s, w, id, mp)
                },
            )
            .layer(limit),
        );
    }
    r
}
