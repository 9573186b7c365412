//! Settings: pipelines and stages, custom fields, users, departments and roles (for
//! administrators), and everyone's own profile and API tokens.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use plotina_core::policy::{Action, Permissions, Scope};
use plotina_core::schema::{Entity, STAGE_KINDS};
use plotina_core::DomainError;
use plotina_store::{auth, Record, StoreError};
use serde_json::{json, Map, Value as Json};

use super::fields::{self, FieldView, FormErrors, Opt, Source};
use super::fmt::{self, field_label, option_label};
use super::form_input;
use super::forms::{
    form_errors, form_page, parse_id, show_form, FormSpec, MatrixCell, MatrixRow, StageRow,
};
use super::lookups::{all, id_of, title_of, Lookups, Titles};
use super::{html, redirect, urls, Ctx, FormData, Web, WebError, WebResult};
use crate::state::AppState;

const ORG: &[Entity] = &[
    Entity::Pipeline,
    Entity::CustomField,
    Entity::User,
    Entity::Department,
    Entity::Role,
];

pub struct Section {
    pub href: String,
    pub label: String,
    pub testid: String,
}

#[derive(Template)]
#[template(path = "settings_index.html")]
struct IndexPage {
    ctx: Ctx,
    sections: Vec<Section>,
}

pub struct OrgRow {
    pub href: String,
    pub cells: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "settings_list.html")]
struct ListPage {
    ctx: Ctx,
    title: String,
    plural: &'static str,
    headers: Vec<String>,
    rows: Vec<OrgRow>,
}

fn admin(web: &Web) -> Result<(), WebError> {
    if web.actor.is_admin {
        Ok(())
    } else {
        Err(WebError::Forbidden("forbidden_settings"))
    }
}

async fn index(web: Web) -> WebResult {
    let ctx = web.ctx.clone().with_section("settings");
    let mut sections = Vec::new();
    if web.actor.is_admin {
        for e in ORG {
            sections.push(Section {
                href: format!("/settings/{}", e.plural()),
                label: ctx.t(&format!("ui-settings-{}", e.plural())),
                testid: e.plural().into(),
            });
        }
        for (href, label, testid) in [
            ("/settings/gates", "ui-nb-gates", "gates"),
            ("/settings/handover", "ui-nb-handover", "handover"),
            ("/settings/automation", "ui-rule-rules", "automation"),
            ("/settings/exports", "ui-export-log", "exports"),
        ] {
            let (href, label, testid) = (href.into(), ctx.t(label), testid.into());
            sections.push(Section {
                href,
                label,
                testid,
            });
        }
    }
    if web.actor.is_admin || !super::imports::importable_for(&web.actor).is_empty() {
        sections.push(Section {
            href: "/imports".into(),
            label: ctx.t("importpage-nav"),
            testid: "imports".into(),
        });
    }
    if plotina_store::reports::schedules::may_schedule(&web.actor) || web.actor.is_admin {
        sections.push(Section {
            href: "/settings/report-schedules".into(),
            label: ctx.t("dashboard-schedules"),
            testid: "report-schedules".into(),
        });
    }
    sections.push(Section {
        href: "/settings/profile".into(),
        label: ctx.t("ui-profile"),
        testid: "profile".into(),
    });
    sections.push(Section {
        href: "/settings/tokens".into(),
        label: ctx.t("ui-settings-tokens"),
        testid: "tokens".into(),
    });
    html(&IndexPage { ctx, sections })
}

fn columns(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::User => &["name", "login", "role_id", "department_id", "active"],
        Entity::Department => &["name", "parent_id", "head_id"],
        Entity::Role => &["name", "code", "is_admin"],
        Entity::CustomField => &["label", "entity", "key", "kind", "required"],
        _ => &["name", "code", "department_id", "forbid_skip", "active"],
    }
}

async fn list(entity: Entity, s: AppState, web: Web) -> WebResult {
    admin(&web)?;
    let ctx = web.ctx.clone().with_section("settings");
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let sort = if entity == Entity::CustomField {
        "entity,position"
    } else if entity == Entity::Pipeline {
        "position,name"
    } else {
        entity.title_field()
    };
    let recs = all(&s.store, &web.actor, entity, sort).await?;
    let titles = Titles::default();
    let rows = recs
        .iter()
        .map(|r| OrgRow {
            href: urls::card(entity, id_of(r)),
            cells: columns(entity)
                .iter()
                .map(|c| {
                    let kind = entity
                        .field(c)
                        .map(|f| f.kind)
                        .unwrap_or(plotina_core::schema::FieldKind::LongText);
                    let text = if *c == entity.title_field() {
                        title_of(entity, r)
                    } else {
                        fmt::show(
                            &ctx,
                            &lk,
                            &titles,
                            c,
                            kind,
                            r.get(*c).unwrap_or(&Json::Null),
                            "RUB",
                        )
                        .text
                    };
                    (field_label(ctx.lang, entity, c), text)
                })
                .collect(),
        })
        .collect();
    let page = ListPage {
        title: ctx.t(&format!("ui-settings-{}", entity.plural())),
        plural: entity.plural(),
        headers: columns(entity)
            .iter()
            .map(|c| field_label(ctx.lang, entity, c))
            .collect(),
        rows,
        ctx,
    };
    html(&page)
}

fn password_field(ctx: &Ctx, required: bool) -> FieldView {
    FieldView {
        name: "password".into(),
        id: "f-password".into(),
        label: ctx.t(if required {
            "field-password"
        } else {
            "ui-new-password"
        }),
        widget: "password",
        required,
        ..Default::default()
    }
}

fn scope_label(ctx: &Ctx, s: &str) -> String {
    option_label(ctx.lang, "scope", s)
}

fn matrix(ctx: &Ctx, perms: &Permissions, form: Option<&FormData>) -> Vec<MatrixRow> {
    let scopes = ["none", "own", "department", "all"];
    Entity::BUSINESS
        .iter()
        .map(|e| MatrixRow {
            label: ctx.t(&format!("ui-nav-{}", e.plural())),
            cells: Action::ALL
                .iter()
                .map(|a| {
                    let action = serde_json::to_value(a)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default();
                    let name = format!("perm.{}.{action}", e.code());
                    let current = match form {
                        Some(f) => f.text(&name).to_string(),
                        None => serde_json::to_value(perms.scope(*e, *a))
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default(),
                    };
                    MatrixCell {
                        label: option_label(ctx.lang, "action", &action),
                        options: scopes
                            .iter()
                            .map(|s| Opt {
                                value: s.to_string(),
                                label: scope_label(ctx, s),
                                selected: current == *s,
                                ..Default::default()
                            })
                            .collect(),
                        name,
                    }
                })
                .collect(),
        })
        .collect()
}

fn permissions_from(form: &FormData) -> Json {
    let mut out = Map::new();
    for e in Entity::BUSINESS {
        let mut actions = Map::new();
        for a in Action::ALL {
            let action = serde_json::to_value(a)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let v = form.text(&format!("perm.{}.{action}", e.code()));
            let scope: Option<Scope> = serde_json::from_value(json!(v)).ok();
            actions.insert(action, json!(scope.unwrap_or(Scope::None)));
        }
        out.insert(e.code().into(), Json::Object(actions));
    }
    Json::Object(out)
}

async fn stage_rows(
    s: &AppState,
    web: &Web,
    ctx: &Ctx,
    pipeline: i64,
) -> Result<Vec<StageRow>, WebError> {
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let mut stages: Vec<_> = lk
        .stages
        .iter()
        .filter(|st| st.pipeline_id == pipeline)
        .cloned()
        .collect();
    stages.sort_by_key(|st| (st.position, st.id));
    let n = stages.len();
    Ok(stages
        .iter()
        .enumerate()
        .map(|(i, st)| StageRow {
            id: st.id,
            name: st.name.clone(),
            probability: st.probability.to_string(),
            rotten_days: st.rotten_days.map(|d| d.to_string()).unwrap_or_default(),
            kinds: STAGE_KINDS
                .iter()
                .map(|k| Opt {
                    value: k.to_string(),
                    label: option_label(ctx.lang, "kind", k),
                    selected: st.kind == *k,
                    ..Default::default()
                })
                .collect(),
            first: i == 0,
            last: i + 1 == n,
        })
        .collect())
}

/// "New role", or "Role: Менеджер".
fn org_title(ctx: &Ctx, entity: Entity, id: Option<i64>, src: &Source<'_>) -> String {
    let kind = ctx.t(&format!(
        "ui-{}-{}",
        if id.is_none() { "new" } else { "edit" },
        entity.code()
    ));
    match (id, src) {
        (Some(_), Source::Record(r)) => format!("{kind}: {}", title_of(entity, r)),
        _ => kind,
    }
}

/// The settings form of an organisation record, with what each kind adds.
async fn org_form(
    s: &AppState,
    web: &Web,
    entity: Entity,
    id: Option<i64>,
    src: Source<'_>,
    version: Option<i64>,
    errors: FormErrors,
) -> WebResult {
    let ctx = &web.ctx;
    let perms = match &src {
        Source::Record(r) => r
            .get("permissions")
            .and_then(|p| serde_json::from_value::<Permissions>(p.clone()).ok())
            .unwrap_or_default(),
        Source::Form(_) => Permissions::default(),
    };
    let form = match &src {
        Source::Form(f) => Some((*f).clone()),
        Source::Record(_) => None,
    };
    let mut extra = Vec::new();
    if entity == Entity::User {
        let mut pw = password_field(ctx, id.is_none());
        pw.error = errors.fields.get("password").cloned().unwrap_or_default();
        extra.push(pw);
    }
    let spec = FormSpec {
        entity,
        create: id.is_none(),
        title: org_title(ctx, entity, id, &src),
        action: id
            .map(|i| urls::card(entity, i))
            .unwrap_or_else(|| format!("/settings/{}/new", entity.plural())),
        cancel: format!("/settings/{}", entity.plural()),
        version,
        src,
        errors,
        extra,
    };
    let mut page = form_page(s, web, spec).await?;
    page.ctx = page.ctx.with_section("settings");
    if entity == Entity::Role {
        page.matrix = matrix(ctx, &perms, form.as_ref());
    }
    if let (Entity::Pipeline, Some(pid)) = (entity, id) {
        page.stages = stage_rows(s, web, ctx, pid).await?;
        page.stage_kinds = STAGE_KINDS
            .iter()
            .map(|k| Opt {
                value: k.to_string(),
                label: option_label(ctx.lang, "kind", k),
                ..Default::default()
            })
            .collect();
        page.stage_add = format!("/settings/pipelines/{pid}/stages");
    }
    show_form(&page)
}

async fn new_form(entity: Entity, s: AppState, web: Web) -> WebResult {
    admin(&web)?;
    let mut rec = Record::new();
    if entity == Entity::User {
        rec.insert("active".into(), json!(true));
        rec.insert("language".into(), json!("ru"));
        rec.insert("time_zone".into(), json!("Europe/Moscow"));
    }
    if entity == Entity::Pipeline {
        rec.insert("active".into(), json!(true));
    }
    org_form(
        &s,
        &web,
        entity,
        None,
        Source::Record(&rec),
        None,
        FormErrors::default(),
    )
    .await
}

fn body_of(
    ctx: &Ctx,
    entity: Entity,
    create: bool,
    form: &FormData,
    old: Option<&Record>,
) -> Map<String, Json> {
    let defs = fields::form_fields(entity, create);
    let mut body = form_input::body_from_form(ctx, &defs, &[], form, old);
    if entity == Entity::Role {
        body.insert("permissions".into(), permissions_from(form));
    }
    body
}

fn shown(entity: Entity, create: bool) -> Vec<String> {
    let mut v: Vec<String> = fields::form_fields(entity, create)
        .iter()
        .map(|d| d.name.to_string())
        .collect();
    v.push("password".into());
    v
}

async fn create(entity: Entity, s: AppState, web: Web, body: Bytes) -> WebResult {
    admin(&web)?;
    let form = web.form(&body)?;
    let password = form.get("password").unwrap_or("").to_string();
    if entity == Entity::User && password.chars().count() < 8 {
        let errors = FormErrors::from_domain(
            &web.ctx,
            entity,
            &DomainError::invalid("password", "password_too_short"),
            &shown(entity, true),
        );
        return org_form(&s, &web, entity, None, Source::Form(&form), None, errors).await;
    }
    let data = body_of(&web.ctx, entity, true, &form, None);
    match s.store.create(&web.actor, entity, &data, None).await {
        Ok((rec, _)) => {
            if entity == Entity::User {
                auth::set_password(s.store.pool(), id_of(&rec), &password).await?;
            }
            Ok(redirect(&format!("/settings/{}", entity.plural())))
        }
        Err(e) => {
            let errors = form_errors(&web.ctx, entity, e, &shown(entity, true))?;
            org_form(&s, &web, entity, None, Source::Form(&form), None, errors).await
        }
    }
}

async fn edit_form(entity: Entity, s: AppState, web: Web, id: String) -> WebResult {
    admin(&web)?;
    let id = parse_id(&id)?;
    let rec = s.store.get(&web.actor, entity, id).await?;
    let version = rec.get("version").and_then(Json::as_i64);
    org_form(
        &s,
        &web,
        entity,
        Some(id),
        Source::Record(&rec),
        version,
        FormErrors::default(),
    )
    .await
}

async fn update(entity: Entity, s: AppState, web: Web, id: String, body: Bytes) -> WebResult {
    admin(&web)?;
    let id = parse_id(&id)?;
    let form = web.form(&body)?;
    let old = s.store.get(&web.actor, entity, id).await?;
    let version = form.text("version").parse::<i64>().ok();
    let password = form.get("password").unwrap_or("").to_string();
    if entity == Entity::User && !password.is_empty() && password.chars().count() < 8 {
        let errors = FormErrors::from_domain(
            &web.ctx,
            entity,
            &DomainError::invalid("password", "password_too_short"),
            &shown(entity, false),
        );
        return org_form(
            &s,
            &web,
            entity,
            Some(id),
            Source::Form(&form),
            version,
            errors,
        )
        .await;
    }
    let data = body_of(&web.ctx, entity, false, &form, Some(&old));
    match s.store.update(&web.actor, entity, id, &data, version).await {
        Ok(_) => {
            if entity == Entity::User && !password.is_empty() {
                auth::set_password(s.store.pool(), id, &password).await?;
            }
            Ok(redirect(&urls::card(entity, id)))
        }
        Err(e) => {
            let errors = form_errors(&web.ctx, entity, e, &shown(entity, false))?;
            org_form(
                &s,
                &web,
                entity,
                Some(id),
                Source::Form(&form),
                version,
                errors,
            )
            .await
        }
    }
}

fn stage_body(form: &FormData) -> Map<String, Json> {
    let mut b = Map::new();
    for k in ["name", "kind", "probability", "rotten_days"] {
        let v = form.text(k);
        b.insert(k.into(), if v.is_empty() { Json::Null } else { json!(v) });
    }
    b
}

async fn add_stage(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    admin(&web)?;
    let pid = parse_id(&id)?;
    let form = web.form(&body)?;
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let next = lk
        .stages_of(pid)
        .map(|st| st.position + 1)
        .max()
        .unwrap_or(0);
    let mut b = stage_body(&form);
    b.insert("pipeline_id".into(), json!(pid));
    b.insert("position".into(), json!(next));
    s.store.create(&web.actor, Entity::Stage, &b, None).await?;
    Ok(redirect(&urls::card(Entity::Pipeline, pid)))
}

async fn stage_op(s: AppState, web: Web, id: String, body: Bytes, op: &'static str) -> WebResult {
    admin(&web)?;
    let id = parse_id(&id)?;
    let form = web.form(&body)?;
    let stage = s.store.get(&web.actor, Entity::Stage, id).await?;
    let pid = stage
        .get("pipeline_id")
        .and_then(Json::as_i64)
        .unwrap_or_default();
    match op {
        "save" => {
            s.store
                .update(&web.actor, Entity::Stage, id, &stage_body(&form), None)
                .await?;
        }
        "delete" => s.store.delete(&web.actor, Entity::Stage, id, None).await?,
        _ => reorder(&s, &web, pid, id, op == "up").await?,
    }
    Ok(redirect(&urls::card(Entity::Pipeline, pid)))
}

/// Moves a stage one place up or down and renumbers the pipeline's stages.
async fn reorder(
    s: &AppState,
    web: &Web,
    pipeline: i64,
    id: i64,
    up: bool,
) -> Result<(), StoreError> {
    let params = plotina_store::ListParams {
        and: vec![plotina_store::eq_filter("pipeline_id", pipeline)],
        sort: Some("position,id".into()),
        limit: Some(500),
        ..Default::default()
    };
    let mut ids: Vec<(i64, i64)> = s
        .store
        .list(&web.actor, Entity::Stage, &params)
        .await?
        .data
        .iter()
        .map(|r| {
            (
                id_of(r),
                r.get("position").and_then(Json::as_i64).unwrap_or(-1),
            )
        })
        .collect();
    let Some(i) = ids.iter().position(|(x, _)| *x == id) else {
        return Ok(());
    };
    let j = if up {
        i.checked_sub(1)
    } else {
        Some(i + 1).filter(|j| *j < ids.len())
    };
    if let Some(j) = j {
        ids.swap(i, j);
    }
    for (pos, (sid, old)) in ids.iter().enumerate() {
        if *old != pos as i64 {
            s.store
                .update(
                    &web.actor,
                    Entity::Stage,
                    *sid,
                    json!({"position": pos}).as_object().unwrap_or(&Map::new()),
                    None,
                )
                .await?;
        }
    }
    Ok(())
}

fn org_router(entity: Entity) -> Router<AppState> {
    let base = format!("/settings/{}", entity.plural());
    Router::new()
        .route(
            &base,
            get(move |State(s): State<AppState>, w: Web| list(entity, s, w)),
        )
        .route(
            &format!("{base}/new"),
            get(move |State(s): State<AppState>, w: Web| new_form(entity, s, w))
                .post(move |State(s): State<AppState>, w: Web, b: Bytes| create(entity, s, w, b)),
        )
        .route(
            &format!("{base}/{{id}}"),
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
}

pub fn router() -> Router<AppState> {
    let stage = |op: &'static str| {
        post(
            move |State(s): State<AppState>, w: Web, Path(id): Path<String>, b: Bytes| {
                stage_op(s, w, id, b, op)
            },
        )
    };
    ORG.iter()
        .fold(Router::new(), |r, e| r.merge(org_router(*e)))
        .route("/settings", get(index))
        .route("/settings/exports", get(super::exports::log_page))
        .route("/settings/pipelines/{id}/stages", post(add_stage))
        .route("/settings/stages/{id}", stage("save"))
        .route("/settings/stages/{id}/up", stage("up"))
        .route("/settings/stages/{id}/down", stage("down"))
        .route("/settings/stages/{id}/delete", stage("delete"))
        .merge(super::profile::router())
}
