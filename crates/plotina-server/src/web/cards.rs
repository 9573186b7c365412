//! Record cards: the fields (custom ones too), related records, one timeline of
//! activities, stage changes and field history, and a quick-add of activities.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use plotina_core::policy::Action;
use plotina_core::record::CustomFieldDef;
use plotina_core::schema::{Entity, ACTIVITY_KINDS};
use plotina_store::{eq_filter, ListParams, Record, StoreError};
use serde_json::{json, Value as Json};

use super::fields::{self, FieldView, FormErrors, Opt, Source};
use super::files::{self, FileView};
use super::fmt::{self, field_label, Shown};
use super::form_input;
use super::forms::{customs_of, form_errors, parse_id, render_form, section_of, FormSpec};
use super::lists::display_title;
use super::lookups::{id_of, str_of, Lookups, Titles};
use super::timeline::{self, TimelineItem};
use super::{html, redirect, urls, Ctx, Web, WebResult};
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct FieldRow {
    pub name: String,
    pub label: String,
    pub value: Shown,
}

#[derive(Debug, Clone)]
pub struct RelItem {
    pub text: String,
    pub href: String,
    pub meta: String,
}

#[derive(Debug, Clone)]
pub struct Related {
    pub key: &'static str,
    pub title: String,
    pub add_href: String,
    pub items: Vec<RelItem>,
    /// The item that is this card's own record (an activity in its chain), if any.
    pub current_href: String,
}

#[derive(Debug, Clone)]
pub struct StageDot {
    pub id: i64,
    pub name: String,
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardPage {
    ctx: Ctx,
    entity: &'static str,
    plural: &'static str,
    id: i64,
    title: String,
    kind_label: String,
    chips: Vec<String>,
    fields: Vec<FieldRow>,
    custom: Vec<FieldRow>,
    meta: String,
    can_edit: bool,
    can_delete: bool,
    edit_href: String,
    convert_href: String,
    related: Vec<Related>,
    timeline: Vec<TimelineItem>,
    quick_kinds: Vec<Opt>,
    stages: Vec<StageDot>,
    lost_reasons: Vec<String>,
    files: Vec<FileView>,
    /// Why the last upload was refused (shown next to the upload form).
    file_error: String,
    /// A deal's requests waiting for a decision.
    approvals: Vec<super::approvals::ApprovalRow>,
    /// A company's stored ABC/XYZ class.
    customer_class: Option<super::customer_classes::ClassPanel>,
}

const NOT_SHOWN: &[&str] = &[
    "id",
    "version",
    "deleted_at",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "payload",
    "full_name",
];

async fn related_list(
    s: &AppState,
    web: &Web,
    entity: Entity,
    field: &str,
    id: i64,
    sort: &str,
) -> Result<Vec<Record>, StoreError> {
    if !web.actor.can(entity, Action::Read) {
        return Ok(Vec::new());
    }
    let params = ListParams {
        and: vec![eq_filter(field, id)],
        sort: Some(sort.into()),
        limit: Some(50),
        ..Default::default()
    };
    Ok(s.store.list(&web.actor, entity, &params).await?.data)
}

fn rel_items(ctx: &Ctx, lk: &Lookups, entity: Entity, recs: &[Record]) -> Vec<RelItem> {
    recs.iter()
        .map(|r| {
            let meta = match entity {
                Entity::Deal => {
                    let stage = r
                        .get("stage_id")
                        .and_then(Json::as_i64)
                        .and_then(|i| lk.stage(i));
                    let pipeline = stage
                        .and_then(|st| lk.pipeline(st.pipeline_id))
                        .map(|p| p.name.as_str())
                        .unwrap_or("");
                    let amount = fmt::money_text(
                        ctx.lang,
                        str_of(r, "amount"),
                        r.get("currency").and_then(Json::as_str).unwrap_or("RUB"),
                    );
                    let amount = if str_of(r, "amount").is_empty() {
                        String::new()
                    } else {
                        format!(" · {amount}")
                    };
                    format!(
                        "{pipeline} · {}{amount}",
                        stage.map(|st| st.name.as_str()).unwrap_or("")
                    )
                }
                Entity::Contact => str_of(r, "position").to_string(),
                Entity::Activity => fmt::datetime_text(
                    ctx,
                    if str_of(r, "due_at").is_empty() {
                        str_of(r, "created_at")
                    } else {
                        str_of(r, "due_at")
                    },
                ),
                _ => String::new(),
            };
            RelItem {
                text: display_title(ctx, entity, r),
                href: urls::card(entity, id_of(r)),
                meta,
            }
        })
        .collect()
}

/// How far up an activity's chain the card looks (a chain is a conversation, not a tree
/// of thousands; parent cycles are refused when written).
const CHAIN_DEPTH: usize = 20;

/// An activity's chain: the activities it follows up (oldest first), itself, and its
/// follow-ups. Links the actor cannot read end the chain there.
async fn activity_chain(s: &AppState, web: &Web, rec: &Record) -> Result<Vec<Record>, StoreError> {
    let mut up = Vec::new();
    let mut parent = rec.get("parent_id").and_then(Json::as_i64);
    while let Some(pid) = parent {
        if up.len() >= CHAIN_DEPTH {
            break;
        }
        match s.store.get(&web.actor, Entity::Activity, pid).await {
            Ok(p) => {
                parent = p.get("parent_id").and_then(Json::as_i64);
                up.push(p);
            }
            Err(e) if e.is_not_found() => break,
            Err(e) => return Err(e),
        }
    }
    up.reverse();
    up.push(rec.clone());
    let follow_ups = related_list(
        s,
        web,
        Entity::Activity,
        "parent_id",
        id_of(rec),
        "created_at",
    )
    .await?;
    up.extend(follow_ups);
    Ok(up)
}

/// Related lists of a card, and the activities for its timeline.
async fn related(
    s: &AppState,
    web: &Web,
    lk: &Lookups,
    entity: Entity,
    rec: &Record,
) -> Result<(Vec<Related>, Vec<Record>), StoreError> {
    let id = id_of(rec);
    let ctx = &web.ctx;
    if entity == Entity::Activity {
        let chain = activity_chain(s, web, rec).await?;
        let mut add = format!("/activities/new?parent_id={id}");
        for f in ["company_id", "contact_id", "deal_id", "lead_id"] {
            if let Some(v) = rec.get(f).and_then(Json::as_i64) {
                add.push_str(&format!("&{f}={v}"));
            }
        }
        let chain = Related {
            key: "chain",
            title: ctx.t("ui-activity-chain"),
            add_href: add,
            items: rel_items(ctx, lk, Entity::Activity, &chain),
            current_href: urls::card(Entity::Activity, id),
        };
        return Ok((vec![chain], Vec::new()));
    }
    let link = match entity {
        Entity::Company => "company_id",
        Entity::Contact => "contact_id",
        Entity::Deal => "deal_id",
        Entity::Lead => "lead_id",
        _ => return Ok((Vec::new(), Vec::new())),
    };
    let activities = related_list(s, web, Entity::Activity, link, id, "-created_at").await?;
    let mut out = Vec::new();
    let block = |key, title: &str, add: String, items| Related {
        key,
        title: ctx.t(title),
        add_href: add,
        items,
        current_href: String::new(),
    };
    match entity {
        Entity::Company => {
            let contacts =
                related_list(s, web, Entity::Contact, "companies", id, "full_name").await?;
            out.push(block(
                "contacts",
                "ui-nav-contacts",
                format!("/contacts/new?companies={id}"),
                rel_items(ctx, lk, Entity::Contact, &contacts),
            ));
            let deals = related_list(s, web, Entity::Deal, "company_id", id, "-updated_at").await?;
            out.push(block(
                "deals",
                "ui-nav-deals",
                format!("/deals/new?company_id={id}"),
                rel_items(ctx, lk, Entity::Deal, &deals),
            ));
        }
        Entity::Contact => {
            let deals =
                related_list(s, web, Entity::Deal, "contact_ids", id, "-updated_at").await?;
            out.push(block(
                "deals",
                "ui-nav-deals",
                format!("/deals/new?contact_ids={id}"),
                rel_items(ctx, lk, Entity::Deal, &deals),
            ));
        }
        Entity::Deal => {
            let children =
                related_list(s, web, Entity::Deal, "parent_id", id, "-updated_at").await?;
            let mut items = rel_items(ctx, lk, Entity::Deal, &children);
            super::automation::child_meta(s, &web.actor, ctx, lk, &children, &mut items).await?;
            out.push(block(
                "children",
                "ui-child-deals",
                format!("/deals/new?parent_id={id}"),
                items,
            ));
            let ids: Vec<String> = rec
                .get("contact_ids")
                .and_then(Json::as_array)
                .map(|a| a.iter().map(|i| i.to_string()).collect())
                .unwrap_or_default();
            let contacts = if ids.is_empty() || !web.actor.can(Entity::Contact, Action::Read) {
                Vec::new()
            } else {
                let params = ListParams {
                    filter: Some(format!("id in ({})", ids.join(", "))),
                    limit: Some(100),
                    ..Default::default()
                };
                s.store
                    .list(&web.actor, Entity::Contact, &params)
                    .await?
                    .data
            };
            out.push(block(
                "contacts",
                "ui-nav-contacts",
                String::new(),
                rel_items(ctx, lk, Entity::Contact, &contacts),
            ));
        }
        _ => {}
    }
    out.push(block(
        "activities",
        "ui-nav-activities",
        String::new(),
        rel_items(ctx, lk, Entity::Activity, &activities),
    ));
    Ok((out, activities))
}

fn field_rows(
    ctx: &Ctx,
    lk: &Lookups,
    titles: &Titles,
    entity: Entity,
    rec: &Record,
) -> Vec<FieldRow> {
    let currency = rec.get("currency").and_then(Json::as_str).unwrap_or("RUB");
    entity
        .fields()
        .filter(|f| !NOT_SHOWN.contains(&f.name) && f.name != entity.title_field() && !f.hidden)
        .filter(|f| !(entity == Entity::Deal && f.name == "currency"))
        .map(|f| FieldRow {
            name: f.name.to_string(),
            label: field_label(ctx.lang, entity, f.name),
            value: fmt::show(
                ctx,
                lk,
                titles,
                f.name,
                f.kind,
                rec.get(f.name).unwrap_or(&Json::Null),
                currency,
            ),
        })
        .filter(|r| worth_showing(ctx, r))
        .collect()
}

/// Empty values and "no" flags (other than "done") only add noise to a card.
fn worth_showing(ctx: &Ctx, r: &FieldRow) -> bool {
    let a_no = r.value.text == ctx.t("ui-no") && r.name != "done";
    !r.value.is_empty() && !a_no
}

fn chips(ctx: &Ctx, lk: &Lookups, entity: Entity, rec: &Record) -> Vec<String> {
    let mut out = Vec::new();
    match entity {
        Entity::Deal => {
            if let Some(st) = rec
                .get("stage_id")
                .and_then(Json::as_i64)
                .and_then(|i| lk.stage(i))
            {
                out.push(st.name.clone());
            }
            if !str_of(rec, "amount").is_empty() {
                out.push(fmt::money_text(
                    ctx.lang,
                    str_of(rec, "amount"),
                    rec.get("currency").and_then(Json::as_str).unwrap_or("RUB"),
                ));
            }
        }
        Entity::Company if !str_of(rec, "inn").is_empty() => {
            out.push(format!("{} {}", ctx.t("field-inn"), str_of(rec, "inn")))
        }
        Entity::Lead => out.push(fmt::option_label(ctx.lang, "status", str_of(rec, "status"))),
        Entity::Activity => out.push(fmt::option_label(ctx.lang, "kind", str_of(rec, "kind"))),
        _ => {}
    }
    if rec.get("private").and_then(Json::as_bool) == Some(true) {
        out.push(ctx.t("field-private"));
    }
    out
}

fn stage_dots(lk: &Lookups, rec: &Record) -> Vec<StageDot> {
    let current = rec
        .get("stage_id")
        .and_then(Json::as_i64)
        .unwrap_or_default();
    let pipeline = rec
        .get("pipeline_id")
        .and_then(Json::as_i64)
        .unwrap_or_default();
    let mut passed = true;
    lk.stages_of(pipeline)
        .map(|st| {
            let state = if st.id == current {
                passed = false;
                if st.kind == "lost" {
                    "current lost"
                } else {
                    "current"
                }
            } else if passed && st.kind == "open" {
                "done"
            } else {
                "todo"
            };
            StageDot {
                id: st.id,
                name: st.name.clone(),
                state,
            }
        })
        .collect()
}

fn custom_rows(
    ctx: &Ctx,
    titles: &Titles,
    customs: &[CustomFieldDef],
    rec: &Record,
) -> Vec<FieldRow> {
    let value = |d: &CustomFieldDef| {
        rec.get("custom")
            .and_then(|c| c.get(&d.key))
            .cloned()
            .unwrap_or(Json::Null)
    };
    customs
        .iter()
        .map(|d| FieldRow {
            name: format!("custom.{}", d.key),
            label: fmt::custom_label(ctx.lang, d),
            value: fmt::show_custom(ctx, titles, d, &value(d)),
        })
        .filter(|r| !r.value.is_empty())
        .collect()
}

fn meta_line(ctx: &Ctx, rec: &Record) -> String {
    let at = |f: &str| fmt::datetime_text(ctx, str_of(rec, f));
    format!(
        "{} {} · {} {}",
        ctx.t("field-created_at"),
        at("created_at"),
        ctx.t("field-updated_at"),
        at("updated_at")
    )
}

fn quick_kinds(ctx: &Ctx) -> Vec<Opt> {
    ["note", "call", "meeting", "task"]
        .iter()
        .map(|k| Opt {
            value: k.to_string(),
            label: fmt::option_label(ctx.lang, "kind", k),
            ..Default::default()
        })
        .collect()
}

async fn card_route(entity: Entity, s: AppState, web: Web, id: String) -> WebResult {
    let id = parse_id(&id)?;
    card(entity, s, web, id, String::new()).await
}

/// A record's card; `file_error` is a refused upload's message.
pub(super) async fn card(
    entity: Entity,
    s: AppState,
    web: Web,
    id: i64,
    file_error: String,
) -> WebResult {
    card_page(entity, s, web, id, file_error, None).await
}

/// A company's card with the class override form as sent and why it was refused.
pub(super) async fn card_with_class_form(
    s: AppState,
    web: Web,
    id: i64,
    form: (plotina_store::reports::classes::Override, String),
) -> WebResult {
    card_page(Entity::Company, s, web, id, String::new(), Some(form)).await
}

async fn card_page(
    entity: Entity,
    s: AppState,
    web: Web,
    id: i64,
    file_error: String,
    class_form: Option<(plotina_store::reports::classes::Override, String)>,
) -> WebResult {
    let rec = s.store.get(&web.actor, entity, id).await?;
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let customs = customs_of(&s, entity).await?;
    let (related, activities) = related(&s, &web, &lk, entity, &rec).await?;
    let history = s.store.history(&web.actor, entity, id, None, 200).await?;
    let steps = if entity == Entity::Deal {
        s.store.stage_history(&web.actor, id).await?
    } else {
        Vec::new()
    };
    let mut wanted: BTreeMap<Entity, BTreeSet<i64>> = BTreeMap::new();
    form_input::wanted_links(entity, &customs, &[&rec], &mut wanted);
    timeline::history_links(entity, &history, &mut wanted);
    let titles = Titles::load(&s.store, &web.actor, &wanted).await?;
    let ctx = web.ctx.clone().with_section(section_of(entity));
    let tl = timeline::merge(vec![
        activities
            .iter()
            .map(|a| timeline::activity_item(&ctx, &lk, a))
            .collect(),
        timeline::stage_items(&ctx, &lk, &steps),
        timeline::history_items(&ctx, &lk, &titles, entity, &customs, &history),
        super::automation::timeline_items(&s, &web.actor, &ctx, entity, id).await?,
    ]);
    let custom = custom_rows(&ctx, &titles, &customs, &rec);
    let meta = meta_line(&ctx, &rec);
    let pipeline = rec
        .get("pipeline_id")
        .and_then(Json::as_i64)
        .unwrap_or_default();
    let files = files::views(&s, &web, &ctx, &lk, entity, id).await?;
    let mut approvals = Vec::new();
    if entity == Entity::Deal {
        for a in s.store.pending_approvals_of(id).await? {
            approvals.push(super::approvals::row(&s, &web, &lk, &a, "approver_id").await);
        }
    }
    let customer_class = if entity == Entity::Company {
        let form = class_form.as_ref().map(|(o, e)| (o, e.clone()));
        Some(super::customer_classes::panel(&s, &web, &ctx, &lk, id, form).await?)
    } else {
        None
    };
    let page = CardPage {
        approvals,
        customer_class,
        entity: entity.code(),
        plural: entity.plural(),
        id,
        title: display_title(&ctx, entity, &rec),
        kind_label: ctx.t(&format!("ui-entity-{}", entity.code())),
        chips: chips(&ctx, &lk, entity, &rec),
        fields: field_rows(&ctx, &lk, &titles, entity, &rec),
        custom,
        meta,
        can_edit: web.actor.can(entity, Action::Edit),
        can_delete: web.actor.can(entity, Action::Delete),
        edit_href: urls::edit(entity, id),
        convert_href: if entity == Entity::Lead
            && !matches!(str_of(&rec, "status"), "converted" | "junk")
        {
            format!("/leads/{id}/convert")
        } else {
            String::new()
        },
        related,
        timeline: tl,
        quick_kinds: quick_kinds(&ctx),
        stages: if entity == Entity::Deal {
            stage_dots(&lk, &rec)
        } else {
            Vec::new()
        },
        lost_reasons: lk
            .pipeline(pipeline)
            .map(|p| p.lost_reasons.clone())
            .unwrap_or_default(),
        files,
        file_error,
        ctx,
    };
    html(&page)
}

/// `POST /<plural>/{id}/activity`: a note, call, meeting or task linked to the record.
async fn quick_add(entity: Entity, s: AppState, web: Web, id: String, body: Bytes) -> WebResult {
    let id = parse_id(&id)?;
    let form = web.form(&body)?;
    let rec = s.store.get(&web.actor, entity, id).await?;
    let mut form = form;
    let link = format!("{}_id", entity.code());
    form.0.retain(|(k, _)| k != &link);
    form.0.push((link, id.to_string()));
    if entity == Entity::Deal {
        if let Some(c) = rec.get("company_id").and_then(Json::as_i64) {
            form.0.push(("company_id".into(), c.to_string()));
        }
    }
    let kind = form.text("kind");
    if !ACTIVITY_KINDS.contains(&kind) {
        form.0.push(("kind".into(), "note".into()));
    }
    let defs: Vec<_> = fields::form_fields(Entity::Activity, true)
        .into_iter()
        .filter(|d| form.has(d.name))
        .collect();
    let body = form_input::body_from_form(&web.ctx, &defs, &[], &form, None);
    match s
        .store
        .create(&web.actor, Entity::Activity, &body, None)
        .await
    {
        Ok(_) => Ok(redirect(&format!("{}#timeline", urls::card(entity, id)))),
        Err(e) => {
            let shown: Vec<String> = fields::form_fields(Entity::Activity, true)
                .iter()
                .map(|d| d.name.to_string())
                .collect();
            let errors: FormErrors = form_errors(&web.ctx, Entity::Activity, e, &shown)?;
            let spec = FormSpec {
                entity: Entity::Activity,
                create: true,
                title: web.ctx.t("ui-new-activity"),
                action: urls::new(Entity::Activity),
                cancel: urls::card(entity, id),
                version: None,
                src: Source::Form(&form),
                errors,
                extra: Vec::<FieldView>::new(),
            };
            render_form(&s, &web, spec).await
        }
    }
}

/// `POST /activities/{id}/done`.
async fn mark_done(s: AppState, web: Web, id: String, body: Bytes) -> WebResult {
    let id = parse_id(&id)?;
    let form = web.form(&body)?;
    s.store
        .update(
            &web.actor,
            Entity::Activity,
            id,
            json!({"done": true})
                .as_object()
                .unwrap_or(&Default::default()),
            None,
        )
        .await?;
    Ok(redirect(&urls::safe_next(form.text("back"))))
}

fn entity_router(entity: Entity) -> Router<AppState> {
    let base = format!("/{}", entity.plural());
    Router::new()
        .route(
            &format!("{base}/{{id}}"),
            get(
                move |State(s): State<AppState>, w: Web, Path(id): Path<String>| {
                    card_route(entity, s, w, id)
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}/activity"),
            post(
                move |State(s): State<AppState>, w: Web, Path(id): Path<String>, b: Bytes| {
                    quick_add(entity, s, w, id, b)
                },
            ),
        )
}

pub fn router() -> Router<AppState> {
    Entity::BUSINESS
        .iter()
        .fold(Router::new(), |r, e| r.merge(entity_router(*e)))
        .route(
            "/activities/{id}/done",
            post(
                |State(s): State<AppState>, w: Web, Path(id): Path<String>, b: Bytes| {
                    mark_done(s, w, id, b)
                },
            ),
        )
}
