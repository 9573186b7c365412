//! Create and edit forms of business records. A rejected form comes back with every
//! typed value kept and each error next to its field, in the user's language.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use plotina_core::record::CustomFieldDef;
use plotina_core::schema::{Entity, FieldDef};
use plotina_core::DomainError;
use plotina_store::duplicates::{self, Candidate, Checked};
use plotina_store::{Record, StoreError};
use serde_json::{json, Value as Json};

use super::fields::{
    self, attach_errors, builtin_view, custom_view, FieldView, FormErrors, Source,
};
use super::form_input;
use super::lookups::{id_of, Lookups, Titles};
use super::{html_status, redirect, urls, Ctx, Web, WebError, WebResult};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "record_form.html")]
pub struct FormPage {
    pub ctx: Ctx,
    pub title: String,
    pub back_label: String,
    pub entity: &'static str,
    pub action: String,
    pub cancel: String,
    pub fields: Vec<FieldView>,
    pub custom: Vec<FieldView>,
    pub errors: Vec<String>,
    pub version: String,
    pub hidden: Vec<(String, String)>,
    /// Roles: the permissions matrix (inside the form).
    pub matrix: Vec<MatrixRow>,
    /// Pipelines: the stage editor (after the form).
    pub stages: Vec<StageRow>,
    pub stage_kinds: Vec<fields::Opt>,
    pub stage_add: String,
    /// Possible duplicates of what was typed: shown with links, saved only when confirmed.
    pub duplicates: Vec<DupView>,
}

/// A record the input looks like.
#[derive(Debug, Clone)]
pub struct DupView {
    pub title: String,
    /// Empty when the user may not open it.
    pub href: String,
    pub reasons: String,
    pub owner: String,
}

fn dup_views(ctx: &Ctx, candidates: &[Candidate]) -> Vec<DupView> {
    candidates
        .iter()
        .map(|c| DupView {
            title: match (&c.title, c.visible) {
                (Some(t), true) => t.clone(),
                _ => ctx.t("ui-dup-hidden"),
            },
            href: if c.visible {
                urls::card(c.entity, c.id)
            } else {
                String::new()
            },
            reasons: c
                .reasons
                .iter()
                .map(|r| ctx.t(&format!("duplicates-reason-{r}")))
                .collect::<Vec<_>>()
                .join(", "),
            owner: c.owner_name.clone().unwrap_or_default(),
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct MatrixRow {
    pub label: String,
    pub cells: Vec<MatrixCell>,
}

#[derive(Debug, Clone)]
pub struct MatrixCell {
    pub name: String,
    pub label: String,
    pub options: Vec<fields::Opt>,
}

#[derive(Debug, Clone)]
pub struct StageRow {
    pub id: i64,
    pub name: String,
    pub probability: String,
    pub rotten_days: String,
    pub kinds: Vec<fields::Opt>,
    pub first: bool,
    pub last: bool,
}

/// Everything needed to render a record form.
pub struct FormSpec<'a> {
    pub entity: Entity,
    pub create: bool,
    pub title: String,
    pub action: String,
    pub cancel: String,
    pub version: Option<i64>,
    pub src: Source<'a>,
    pub errors: FormErrors,
    /// Fields the generic metadata does not give (a new user's password).
    pub extra: Vec<FieldView>,
}

pub fn section_of(entity: Entity) -> &'static str {
    match entity {
        Entity::Company => "companies",
        Entity::Contact => "contacts",
        Entity::Lead => "leads",
        Entity::Deal => "deals",
        Entity::Activity => "activities",
        _ => "settings",
    }
}

pub async fn customs_of(s: &AppState, entity: Entity) -> Result<Vec<CustomFieldDef>, WebError> {
    if !entity.is_business() {
        return Ok(Vec::new());
    }
    Ok(s.store
        .custom_defs(entity)
        .await?
        .into_iter()
        .filter(|d| !d.hidden)
        .collect())
}

pub async fn render_form(s: &AppState, web: &Web, spec: FormSpec<'_>) -> WebResult {
    let page = form_page(s, web, spec).await?;
    show_form(&page)
}

pub fn show_form(page: &FormPage) -> WebResult {
    let status = if !page.duplicates.is_empty() {
        StatusCode::CONFLICT
    } else if page.errors.is_empty()
        && !page
            .fields
            .iter()
            .chain(&page.custom)
            .any(|f| f.has_error())
    {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    html_status(status, page)
}

pub async fn form_page(s: &AppState, web: &Web, spec: FormSpec<'_>) -> Result<FormPage, WebError> {
    let entity = spec.entity;
    let customs = customs_of(s, entity).await?;
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let mut wanted: BTreeMap<Entity, BTreeSet<i64>> = BTreeMap::new();
    match &spec.src {
        Source::Record(r) => form_input::wanted_links(entity, &customs, &[*r], &mut wanted),
        Source::Form(f) => form_input::wanted_from_form(entity, &customs, f, &mut wanted),
    }
    let titles = Titles::load(&s.store, &web.actor, &wanted).await?;
    let ctx = &web.ctx;
    let mut views: Vec<FieldView> = fields::form_fields(entity, spec.create)
        .iter()
        .map(|d| builtin_view(ctx, &lk, &titles, entity, d, &spec.src))
        .collect();
    views.extend(spec.extra);
    let mut custom: Vec<FieldView> = customs
        .iter()
        .map(|d| custom_view(ctx, &titles, d, &spec.src))
        .collect();
    attach_errors(&mut views, &spec.errors);
    attach_errors(&mut custom, &spec.errors);
    let page = FormPage {
        ctx: ctx.clone().with_section(section_of(entity)),
        title: spec.title,
        back_label: ctx.t("ui-back"),
        entity: entity.code(),
        action: spec.action,
        cancel: spec.cancel,
        fields: views,
        custom,
        errors: spec.errors.general,
        version: spec.version.map(|v| v.to_string()).unwrap_or_default(),
        hidden: Vec::new(),
        matrix: Vec::new(),
        stages: Vec::new(),
        stage_kinds: Vec::new(),
        stage_add: String::new(),
        duplicates: Vec::new(),
    };
    Ok(page)
}

/// The names a form shows, for placing errors.
pub fn shown_names(entity: Entity, create: bool, customs: &[CustomFieldDef]) -> Vec<String> {
    let mut names: Vec<String> = fields::form_fields(entity, create)
        .iter()
        .map(|d| d.name.to_string())
        .collect();
    names.extend(customs.iter().map(|d| format!("custom.{}", d.key)));
    names
}

/// A store error as form errors when it is about the input; other errors go on.
pub fn form_errors(
    ctx: &Ctx,
    entity: Entity,
    e: StoreError,
    shown: &[String],
) -> Result<FormErrors, WebError> {
    match e {
        StoreError::Domain(
            d @ (DomainError::Invalid(_)
            | DomainError::Conflict(_)
            | DomainError::BadRequest(_)
            | DomainError::Stale { .. }),
        ) => Ok(FormErrors::from_domain(ctx, entity, &d, shown)),
        other => Err(other.into()),
    }
}

fn title_new(ctx: &Ctx, entity: Entity) -> String {
    ctx.t(&format!("ui-new-{}", entity.code()))
}

fn title_edit(ctx: &Ctx, entity: Entity) -> String {
    ctx.t(&format!("ui-edit-{}", entity.code()))
}

/// Defaults of a new record: the query string may preset fields (`?company_id=5`).
async fn defaults(
    s: &AppState,
    web: &Web,
    entity: Entity,
    raw: Option<&str>,
) -> Result<Record, WebError> {
    let mut rec = Record::new();
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
    for (k, v) in pairs {
        if let Some(def) = entity.field(&k) {
            let val = match def.kind {
                plotina_core::schema::FieldKind::Ref(_) => {
                    v.parse::<i64>().map(Json::from).unwrap_or(Json::Null)
                }
                plotina_core::schema::FieldKind::RefList(_) => json!(v
                    .split(',')
                    .filter_map(|x| x.trim().parse::<i64>().ok())
                    .collect::<Vec<_>>()),
                plotina_core::schema::FieldKind::CompanyLinks => json!(v
                    .split(',')
                    .filter_map(|x| x.trim().parse::<i64>().ok())
                    .map(|i| json!({"company_id": i}))
                    .collect::<Vec<_>>()),
                plotina_core::schema::FieldKind::MultiSelect(_) => json!([v]),
                _ => Json::String(v),
            };
            rec.insert(k, val);
        }
    }
    rec.entry("owner_id").or_insert(json!(web.actor.user_id));
    match entity {
        Entity::Deal => {
            if !rec.contains_key("pipeline_id") {
                let lk = Lookups::load(&s.store, &web.actor).await?;
                if let Some(p) = lk.pipelines.iter().find(|p| p.active) {
                    rec.insert("pipeline_id".into(), json!(p.id));
                }
            }
            rec.entry("currency").or_insert(json!("RUB"));
        }
        Entity::Activity => {
            rec.entry("kind").or_insert(json!("task"));
            rec.entry("assignee_id").or_insert(json!(web.actor.user_id));
        }
        Entity::Company => {
            rec.entry("roles").or_insert(json!(["prospect"]));
        }
        _ => {}
    }
    Ok(rec)
}

async fn new_form(entity: Entity, s: AppState, web: Web, raw: Option<String>) -> WebResult {
    if !web.actor.can(entity, plotina_core::policy::Action::Create) {
        return Err(WebError::Forbidden("forbidden_create"));
    }
    let rec = defaults(&s, &web, entity, raw.as_deref()).await?;
    let spec = FormSpec {
        entity,
        create: true,
        title: title_new(&web.ctx, entity),
        action: urls::new(entity),
        cancel: urls::list(entity),
        version: None,
        src: Source::Record(&rec),
        errors: FormErrors::default(),
        extra: Vec::new(),
    };
    render_form(&s, &web, spec).await
}

async fn create(entity: Entity, s: AppState, web: Web, body: Bytes) -> WebResult {
    let form = web.form(&body)?;
    let customs = customs_of(&s, entity).await?;
    let defs: Vec<&FieldDef> = fields::form_fields(entity, true);
    let body = form_input::body_from_form(&web.ctx, &defs, &customs, &form, None);
    let confirm = form.text("confirm_duplicates") == "1";
    let mut candidates = Vec::new();
    let result = if duplicates::ENTITIES.contains(&entity) {
        match s
            .store
            .create_checked(&web.actor, entity, &body, None, confirm)
            .await
        {
            Ok(Checked::Done(out)) => Ok(out),
            Ok(Checked::Duplicates(c)) => {
                candidates = c;
                Err(None)
            }
            Err(e) => Err(Some(e)),
        }
    } else {
        s.store
            .create(&web.actor, entity, &body, None)
            .await
            .map_err(Some)
    };
    match result {
        Ok((rec, _)) => Ok(redirect(&urls::card(entity, id_of(&rec)))),
        Err(e) => {
            let errors = match e {
                Some(e) => form_errors(&web.ctx, entity, e, &shown_names(entity, true, &customs))?,
                None => FormErrors::default(),
            };
            let spec = FormSpec {
                entity,
                create: true,
                title: title_new(&web.ctx, entity),
                action: urls::new(entity),
                cancel: urls::list(entity),
                version: None,
                src: Source::Form(&form),
                errors,
                extra: Vec::new(),
            };
            let mut page = form_page(&s, &web, spec).await?;
            page.duplicates = dup_views(&web.ctx, &candidates);
            show_form(&page)
        }
    }
}

fn record_id(raw: &str) -> Result<i64, WebError> {
    raw.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or(WebError::NotFound)
}

async fn edit_form(entity: Entity, s: AppState, web: Web, id: String) -> WebResult {
    let id = record_id(&id)?;
    let rec = s.store.get(&web.actor, entity, id).await?;
    let spec = FormSpec {
        entity,
        create: false,
        title: title_edit(&web.ctx, entity),
        action: urls::edit(entity, id),
        cancel: urls::card(entity, id),
        version: rec.get("version").and_then(Json::as_i64),
        src: Source::Record(&rec),
        errors: FormErrors::default(),
        extra: Vec::new(),
    };
    render_form(&s, &web, spec).await
}

async fn update(entity: Entity, s: AppState, web: Web, id: String, body: Bytes) -> WebResult {
    let id = record_id(&id)?;
    let form = web.form(&body)?;
    let old = s.store.get(&web.actor, entity, id).await?;
    let customs = customs_of(&s, entity).await?;
    let defs = fields::form_fields(entity, false);
    let body = form_input::body_from_form(&web.ctx, &defs, &customs, &form, Some(&old));
    let version = form.text("version").parse::<i64>().ok();
    let confirm = form.text("confirm_duplicates") == "1";
    let mut candidates = Vec::new();
    let result = if duplicates::ENTITIES.contains(&entity) {
        match s
            .store
            .update_checked(&web.actor, entity, id, &body, version, confirm)
            .await
        {
            Ok(Checked::Done(_)) => Ok(()),
            Ok(Checked::Duplicates(c)) => {
                candidates = c;
                Err(None)
            }
            Err(e) => Err(Some(e)),
        }
    } else {
        s.store
            .update(&web.actor, entity, id, &body, version)
            .await
            .map(|_| ())
            .map_err(Some)
    };
    match result {
        Ok(()) => Ok(redirect(&urls::card(entity, id))),
        Err(e) => {
            let errors = match e {
                Some(e) => form_errors(&web.ctx, entity, e, &shown_names(entity, false, &customs))?,
                None => FormErrors::default(),
            };
            let spec = FormSpec {
                entity,
                create: false,
                title: title_edit(&web.ctx, entity),
                action: urls::edit(entity, id),
                cancel: urls::card(entity, id),
                version,
                src: Source::Form(&form),
                errors,
                extra: Vec::new(),
            };
            let mut page = form_page(&s, &web, spec).await?;
            page.duplicates = dup_views(&web.ctx, &candidates);
            show_form(&page)
        }
    }
}

async fn delete(entity: Entity, s: AppState, web: Web, id: String, body: Bytes) -> WebResult {
    let id = record_id(&id)?;
    web.form(&body)?;
    s.store.delete(&web.actor, entity, id, None).await?;
    Ok(redirect(&urls::list(entity)))
}

fn entity_router(entity: Entity) -> Router<AppState> {
    let base = format!("/{}", entity.plural());
    Router::new()
        .route(
            &format!("{base}/new"),
            get(
                move |State(s): State<AppState>, w: Web, RawQuery(q): RawQuery| {
                    new_form(entity, s, w, q)
                },
            )
            .post(move |State(s): State<AppState>, w: Web, b: Bytes| create(entity, s, w, b)),
        )
        .route(
            &format!("{base}/{{id}}/edit"),
            get(
                move |State(s): State<AppState>, w: Web, Path(id): Path<String>| {
                    edit_form(entity, s, w, id)
                },
            )
            .post(
                move |State(s): State<AppState>, w: Web, Path(id): Path<String>, b: Bytes| {
                    update(entity, s, w, id, b)
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}/delete"),
            post(
                move |State(s): State<AppState>, w: Web, Path(id): Path<String>, b: Bytes| {
                    delete(entity, s, w, id, b)
                },
            ),
        )
}

pub fn router() -> Router<AppState> {
    Entity::BUSINESS
        .iter()
        .fold(Router::new(), |r, e| r.merge(entity_router(*e)))
}

/// Parses an id from a path segment.
pub fn parse_id(raw: &str) -> Result<i64, WebError> {
    record_id(raw)
}
