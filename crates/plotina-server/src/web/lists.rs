//! Lists of leads, deals, companies, contacts and activities: the filter language (with
//! a small builder), search, sort by column, cursor paging, a column chooser remembered
//! in a cookie, saved views and bulk actions that go through the store record by record.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use plotina_core::policy::Action;
use plotina_core::record::CustomFieldDef;
use plotina_core::schema::{Entity, FieldKind};
use plotina_core::DomainError;
use plotina_store::bulk::BulkOp;
use plotina_store::views::{NewView, SavedView};
use plotina_store::{ListParams, Record, StoreError};
use serde_json::{json, Map, Value as Json};

use super::fields::FormErrors;
use super::fmt::{self, field_label, Shown};
use super::form_input;
use super::forms::{customs_of, parse_id, section_of};
use super::lookups::{id_of, title_of, Lookups, Titles};
use super::{html, redirect, urls, Ctx, FormData, Web, WebError, WebResult};
use crate::i18n::I18n;
use crate::state::AppState;

pub const PAGE_SIZE: u64 = 50;

/// A column the list can show.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub label: String,
    pub sort_href: String,
    /// `ascending`, `descending` or `none` (for aria-sort).
    pub sorted: &'static str,
    pub arrow: &'static str,
    pub shown: bool,
    pub sortable: bool,
    /// For the filter builder: text, number, date, bool, select, ref.
    pub kind: &'static str,
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub label: String,
    pub text: String,
    pub href: String,
    pub title: bool,
}

#[derive(Debug, Clone)]
pub struct RowView {
    pub id: i64,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone)]
pub struct ViewLink {
    pub id: i64,
    pub name: String,
    pub href: String,
    pub shared: bool,
    pub current: bool,
    pub deletable: bool,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    ctx: Ctx,
    entity: &'static str,
    plural: &'static str,
    title: String,
    new_href: String,
    new_label: String,
    can_create: bool,
    filter: String,
    q: String,
    sort: String,
    columns: Vec<Column>,
    all_columns: Vec<Column>,
    rows: Vec<RowView>,
    next_href: String,
    first_href: String,
    error: String,
    error_echo: (String, String, String),
    notice: String,
    views: Vec<ViewLink>,
    cols_value: String,
    users: Vec<(i64, String)>,
    stages: Vec<(i64, String)>,
    back: String,
    is_deals: bool,
    can_export: bool,
}

/// The list's query: what the user typed plus paging.
#[derive(Debug, Clone, Default)]
struct ListQuery {
    filter: String,
    sort: String,
    q: String,
    cursor: String,
    view: Option<i64>,
    cols: Option<Vec<String>>,
    ok: Option<u64>,
    failed: Option<u64>,
    note: String,
    /// A refused export: the message code and its argument.
    export_error: String,
    export_arg: String,
}

impl ListQuery {
    fn params(&self) -> ListParams {
        let some = |v: &str| Some(v.to_string()).filter(|f| !f.trim().is_empty());
        ListParams {
            filter: some(&self.filter),
            sort: some(&self.sort),
            q: some(&self.q),
            cursor: some(&self.cursor),
            limit: Some(PAGE_SIZE),
            ..Default::default()
        }
    }

    /// A chosen saved view sets the filter, sort and columns.
    fn apply_view(&mut self, views: &[SavedView]) {
        if let Some(v) = self.view.and_then(|id| views.iter().find(|v| v.id == id)) {
            self.filter = v.filter.clone();
            self.sort = v.sort.clone();
            if !v.columns.is_empty() {
                self.cols = Some(v.columns.split('|').map(String::from).collect());
            }
        }
    }

    fn parse(raw: Option<&str>) -> ListQuery {
        let pairs = FormData::parse(raw.unwrap_or("").as_bytes());
        let cols_set = pairs.has("cols_set");
        let cols: Vec<String> = pairs
            .all("cols")
            .into_iter()
            .flat_map(|c| c.split('|'))
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        ListQuery {
            filter: pairs.get("filter").unwrap_or("").to_string(),
            sort: pairs.text("sort").to_string(),
            q: pairs.text("q").to_string(),
            cursor: pairs.text("cursor").to_string(),
            view: pairs.id("view"),
            cols: (cols_set || !cols.is_empty()).then_some(cols),
            ok: pairs.text("ok").parse().ok(),
            failed: pairs.text("failed").parse().ok(),
            note: pairs.text("note").to_string(),
            export_error: pairs.text("export_error").to_string(),
            export_arg: pairs.text("export_arg").to_string(),
        }
    }

    /// The URL of this list with some parameters changed.
    fn href(&self, plural: &str, sort: &str, cursor: &str) -> String {
        format!(
            "/{plural}{}",
            urls::query(&[
                ("q", &self.q),
                ("filter", &self.filter),
                ("sort", sort),
                ("cursor", cursor)
            ])
        )
    }
}

fn default_columns(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Company => &[
            "name",
            "inn",
            "industry",
            "roles",
            "phones",
            "owner_id",
            "updated_at",
        ],
        Entity::Contact => &[
            "full_name",
            "position",
            "companies",
            "phones",
            "emails",
            "owner_id",
        ],
        Entity::Lead => &[
            "title",
            "status",
            "source",
            "contact_name",
            "company_name",
            "phone",
            "owner_id",
            "created_at",
        ],
        Entity::Deal => &[
            "title",
            "stage_id",
            "amount",
            "company_id",
            "close_date",
            "owner_id",
            "updated_at",
        ],
        _ => &[
            "subject",
            "kind",
            "due_at",
            "done",
            "assignee_id",
            "deal_id",
            "company_id",
        ],
    }
}

fn cols_cookie(entity: Entity) -> String {
    format!("plotina_cols_{}", entity.code())
}

fn builder_kind(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Int { .. } | FieldKind::Money | FieldKind::Id => "number",
        FieldKind::Date | FieldKind::DateTime => "date",
        FieldKind::Bool => "bool",
        FieldKind::Select(_) | FieldKind::MultiSelect(_) => "select",
        FieldKind::Ref(_) | FieldKind::RefList(_) => "ref",
        _ => "text",
    }
}

/// Every column of an entity's list: built-in fields people read, then custom fields.
fn available(ctx: &Ctx, entity: Entity, customs: &[CustomFieldDef]) -> Vec<Column> {
    let skip = [
        "deleted_at",
        "version",
        "payload",
        "custom",
        "search_text",
        "messengers",
    ];
    let mut out: Vec<Column> = entity
        .fields()
        .filter(|f| !f.hidden && !skip.contains(&f.name))
        .map(|f| Column {
            name: f.name.to_string(),
            label: field_label(ctx.lang, entity, f.name),
            sort_href: String::new(),
            sorted: "none",
            arrow: "",
            shown: false,
            sortable: !f.kind.is_json(),
            kind: builder_kind(f.kind),
        })
        .collect();
    for d in customs {
        out.push(Column {
            name: format!("custom.{}", d.key),
            label: fmt::custom_label(ctx.lang, d),
            sort_href: String::new(),
            sorted: "none",
            arrow: "",
            shown: false,
            sortable: d.kind != "multi_select",
            kind: match d.kind.as_str() {
                "number" | "money" => "number",
                "date" | "datetime" => "date",
                "bool" => "bool",
                _ => "text",
            },
        });
    }
    out
}

fn chosen_columns(entity: Entity, wanted: &[String], all: &[Column]) -> Vec<String> {
    let title = entity.title_field().to_string();
    let mut cols = vec![title.clone()];
    for c in wanted {
        if *c != title && all.iter().any(|a| &a.name == c) && !cols.contains(c) {
            cols.push(c.clone());
        }
    }
    cols
}

fn cell(
    ctx: &Ctx,
    lk: &Lookups,
    titles: &Titles,
    entity: Entity,
    customs: &[CustomFieldDef],
    rec: &Record,
    col: &Column,
) -> Cell {
    let currency = rec.get("currency").and_then(Json::as_str).unwrap_or("RUB");
    let shown = if let Some(key) = col.name.strip_prefix("custom.") {
        let v = rec
            .get("custom")
            .and_then(|c| c.get(key))
            .cloned()
            .unwrap_or(Json::Null);
        customs
            .iter()
            .find(|d| d.key == key)
            .map(|d| fmt::show_custom(ctx, titles, d, &v))
            .unwrap_or_default()
    } else {
        let kind = entity
            .field(&col.name)
            .map(|f| f.kind)
            .unwrap_or(FieldKind::LongText);
        fmt::show(
            ctx,
            lk,
            titles,
            &col.name,
            kind,
            rec.get(&col.name).unwrap_or(&Json::Null),
            currency,
        )
    };
    let is_title = col.name == entity.title_field();
    let Shown { mut text, mut href } = shown;
    if is_title {
        if text.is_empty() {
            text = display_title(ctx, entity, rec);
        }
        href = urls::card(entity, id_of(rec));
    }
    Cell {
        label: col.label.clone(),
        text,
        href,
        title: is_title,
    }
}

/// A record's name for links, with activities named by their kind when they have no subject.
pub fn display_title(ctx: &Ctx, entity: Entity, rec: &Record) -> String {
    if entity == Entity::Activity
        && rec
            .get("subject")
            .and_then(Json::as_str)
            .unwrap_or("")
            .is_empty()
    {
        let kind = rec.get("kind").and_then(Json::as_str).unwrap_or("task");
        return fmt::option_label(ctx.lang, "kind", kind);
    }
    title_of(entity, rec)
}

/// The filter error split around its position, to show where it is.
fn echo(filter: &str, e: &DomainError) -> (String, String, String) {
    let DomainError::BadFilter(fe) = e else {
        return Default::default();
    };
    let chars: Vec<char> = filter.chars().collect();
    let pos = fe.pos.min(chars.len());
    let at = chars
        .get(pos)
        .map(|c| c.to_string())
        .unwrap_or_else(|| " ".into());
    (
        chars[..pos].iter().collect(),
        at,
        chars
            .get(pos + 1..)
            .map(|r| r.iter().collect())
            .unwrap_or_default(),
    )
}

fn error_text(ctx: &Ctx, entity: Entity, e: &DomainError) -> String {
    FormErrors::from_domain(ctx, entity, e, &[])
        .general
        .join(" ")
}

type Fetched = (
    Vec<Record>,
    Option<String>,
    Option<DomainError>,
    Lookups,
    Titles,
);

/// One page of records (or the filter's error) and the names its links need.
async fn fetch(
    s: &AppState,
    web: &Web,
    entity: Entity,
    customs: &[CustomFieldDef],
    q: &ListQuery,
) -> Result<Fetched, WebError> {
    let (page, error) = match s.store.list(&web.actor, entity, &q.params()).await {
        Ok(p) => (Some(p), None),
        Err(StoreError::Domain(d @ (DomainError::BadFilter(_) | DomainError::BadRequest(_)))) => {
            (None, Some(d))
        }
        Err(e) => return Err(e.into()),
    };
    let (data, next) = page.map(|p| (p.data, p.next_cursor)).unwrap_or_default();
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let mut wanted: BTreeMap<Entity, BTreeSet<i64>> = BTreeMap::new();
    form_input::wanted_links(
        entity,
        customs,
        &data.iter().collect::<Vec<_>>(),
        &mut wanted,
    );
    let titles = Titles::load(&s.store, &web.actor, &wanted).await?;
    Ok((data, next, error, lk, titles))
}

async fn list_page(entity: Entity, s: AppState, web: Web, raw: Option<String>) -> WebResult {
    let mut q = ListQuery::parse(raw.as_deref());
    let ctx = web.ctx.clone().with_section(section_of(entity));
    let customs = customs_of(&s, entity).await?;
    let views = s.store.saved_views(&web.actor, entity).await?;
    q.apply_view(&views);
    let mut all = available(&ctx, entity, &customs);
    let wanted = wanted_columns(&web, entity, &q);
    let chosen = chosen_columns(entity, &wanted, &all);
    let (data, next, error, lk, titles) = fetch(&s, &web, entity, &customs, &q).await?;
    decorate_columns(&mut all, &chosen, &q, entity);
    let columns: Vec<Column> = chosen
        .iter()
        .filter_map(|c| all.iter().find(|a| &a.name == c).cloned())
        .collect();
    let rows = data
        .iter()
        .map(|rec| {
            let cells = columns
                .iter()
                .map(|c| cell(&ctx, &lk, &titles, entity, &customs, rec, c));
            RowView {
                id: id_of(rec),
                cells: cells.collect(),
            }
        })
        .collect();
    let next_href = next
        .map(|c| q.href(entity.plural(), &q.sort, &c))
        .unwrap_or_default();
    let page = ListPage {
        entity: entity.code(),
        plural: entity.plural(),
        title: ctx.t(&format!("ui-nav-{}", entity.plural())),
        new_href: urls::new(entity),
        new_label: ctx.t(&format!("ui-new-{}", entity.code())),
        can_create: web.actor.can(entity, Action::Create),
        error: error
            .as_ref()
            .map(|e| error_text(&ctx, entity, e))
            .unwrap_or_default(),
        error_echo: error
            .as_ref()
            .map(|e| echo(&q.filter, e))
            .unwrap_or_default(),
        notice: notice(&ctx, &q),
        views: view_links(&web, entity, &views, q.view),
        cols_value: chosen.join("|"),
        users: bulk_users(&lk),
        stages: bulk_stages(&lk),
        back: ctx.here.clone(),
        is_deals: entity == Entity::Deal,
        can_export: web.actor.can(entity, Action::Export),
        first_href: if q.cursor.is_empty() {
            String::new()
        } else {
            q.href(entity.plural(), &q.sort, "")
        },
        next_href,
        filter: q.filter.clone(),
        q: q.q.clone(),
        sort: q.sort.clone(),
        all_columns: all,
        columns,
        rows,
        ctx,
    };
    let mut resp = html(&page)?;
    if q.cols.is_some() && q.view.is_none() {
        remember_columns(&mut resp, entity, &page.cols_value);
    }
    Ok(resp)
}

fn remember_columns(resp: &mut axum::response::Response, entity: Entity, value: &str) {
    let cookie = format!(
        "{}={value}; Path=/; Max-Age=31536000; SameSite=Lax",
        cols_cookie(entity)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn bulk_users(lk: &Lookups) -> Vec<(i64, String)> {
    lk.users
        .iter()
        .filter(|u| u.active)
        .map(|u| (u.id, u.name.clone()))
        .collect()
}

fn bulk_stages(lk: &Lookups) -> Vec<(i64, String)> {
    let pipeline = |id: i64| lk.pipeline(id).map(|p| p.name.as_str()).unwrap_or("");
    lk.stages
        .iter()
        .map(|st| (st.id, format!("{} · {}", pipeline(st.pipeline_id), st.name)))
        .collect()
}

/// Columns asked for: the query (or view), else the remembered cookie, else defaults.
fn wanted_columns(web: &Web, entity: Entity, q: &ListQuery) -> Vec<String> {
    if let Some(c) = &q.cols {
        return c.clone();
    }
    let saved = web_cookie(web, &cols_cookie(entity));
    if saved.is_empty() {
        default_columns(entity)
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        saved.split('|').map(String::from).collect()
    }
}

fn web_cookie(web: &Web, name: &str) -> String {
    web.cookies
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn decorate_columns(all: &mut [Column], chosen: &[String], q: &ListQuery, entity: Entity) {
    let current = q.sort.trim();
    for c in all.iter_mut() {
        c.shown = chosen.contains(&c.name);
        let (sorted, arrow, next) = if current == c.name {
            ("ascending", "▲", format!("-{}", c.name))
        } else if current.strip_prefix('-') == Some(c.name.as_str()) {
            ("descending", "▼", c.name.clone())
        } else {
            ("none", "", c.name.clone())
        };
        c.sorted = sorted;
        c.arrow = arrow;
        c.sort_href = q.href(entity.plural(), &next, "");
    }
}

fn notice(ctx: &Ctx, q: &ListQuery) -> String {
    let i18n = I18n::get();
    if !q.export_error.is_empty() && i18n.has(ctx.lang, &q.export_error) {
        let args = [
            ("limit", q.export_arg.clone()),
            ("column", q.export_arg.clone()),
        ];
        return i18n.text(ctx.lang, &q.export_error, &args);
    }
    let Some(ok) = q.ok else { return String::new() };
    let mut text = ctx.ta("ui-bulk-done", "count", ok);
    if let Some(f) = q.failed.filter(|f| *f > 0) {
        text.push(' ');
        text.push_str(&ctx.ta("ui-bulk-failed", "count", f));
        if !q.note.is_empty() && i18n.has(ctx.lang, &q.note) {
            text.push_str(": ");
            text.push_str(&i18n.text(ctx.lang, &q.note, &[]));
        }
    }
    text
}

fn view_links(
    web: &Web,
    entity: Entity,
    views: &[SavedView],
    current: Option<i64>,
) -> Vec<ViewLink> {
    views
        .iter()
        .map(|v| ViewLink {
            id: v.id,
            name: v.name.clone(),
            href: format!("/{}?view={}", entity.plural(), v.id),
            shared: v.shared,
            current: current == Some(v.id),
            deletable: v.owner_id == web.actor.user_id || (v.shared && web.actor.is_admin),
        })
        .collect()
}

/// `POST /<plural>/bulk`: one action on the selected records, each through the store
/// (so each record's permissions and rules apply); then back to the list with counts.
async fn bulk(entity: Entity, s: AppState, web: Web, body: Bytes) -> WebResult {
    let form = web.form(&body)?;
    if form.text("scope") == "all" {
        let (ok, failed, note) = bulk_all(&s, &web, entity, &form).await;
        return Ok(back_with_counts(&form, ok, failed, note));
    }
    let ids: Vec<i64> = form
        .all("ids")
        .iter()
        .filter_map(|i| i.parse().ok())
        .take(500)
        .collect();
    let action = form.text("action");
    let (mut ok, mut failed, mut note) = (0u64, 0u64, String::new());
    for id in ids {
        let result = match bulk_body(&s, &web, entity, id, action, &form).await {
            Ok(body) => s
                .store
                .update(&web.actor, entity, id, &body, None)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => ok += 1,
            Err(e) => {
                failed += 1;
                if note.is_empty() {
                    note = refusal_note(&e);
                }
            }
        }
    }
    Ok(back_with_counts(&form, ok, failed, note))
}

/// The code of a refusal, as the list's notice shows it.
fn refusal_note(e: &StoreError) -> String {
    match e {
        StoreError::Domain(DomainError::Invalid(errs)) => {
            errs.first().map(|e| e.code.to_string()).unwrap_or_default()
        }
        StoreError::Domain(DomainError::Conflict(fe)) => fe.code.to_string(),
        StoreError::Domain(DomainError::BadRequest(fe)) => fe.code.to_string(),
        StoreError::Domain(DomainError::Forbidden(c)) => format!("problem-{c}"),
        StoreError::Domain(DomainError::NotFound) => "problem-not_found".into(),
        _ => String::new(),
    }
}

/// One action on every record the list's filter and search match (not only the page):
/// one transaction through `Store::bulk_edit`, which checks each record's edit right.
async fn bulk_all(s: &AppState, web: &Web, entity: Entity, form: &FormData) -> (u64, u64, String) {
    let some = |v: &str| Some(v.to_string()).filter(|f| !f.trim().is_empty());
    let params = ListParams {
        filter: some(form.get("filter").unwrap_or("")),
        q: some(form.get("q").unwrap_or("")),
        ..Default::default()
    };
    let op = match form.text("action") {
        "owner" => BulkOp::Set(
            [("owner_id".to_string(), json!(form.text("owner_id")))]
                .into_iter()
                .collect(),
        ),
        "tag" => BulkOp::AddTag(form.text("tag").to_string()),
        "stage" if entity == Entity::Deal => {
            let mut body = Map::new();
            body.insert("stage_id".into(), json!(form.text("stage_id")));
            if !form.text("lost_reason").is_empty() {
                body.insert("lost_reason".into(), json!(form.text("lost_reason")));
            }
            BulkOp::Set(body)
        }
        _ => return (0, 0, "required".into()),
    };
    match s.store.bulk_edit(&web.actor, entity, &params, &op).await {
        Ok(c) => (
            c.changed + c.unchanged,
            c.skipped_forbidden,
            if c.skipped_forbidden > 0 {
                "problem-forbidden_action".into()
            } else {
                String::new()
            },
        ),
        // All or nothing: a refused record leaves the whole set unchanged.
        Err(e) => (0, 1, refusal_note(&e)),
    }
}

/// Back to the list the form came from, with the counts for its notice.
fn back_with_counts(
    form: &FormData,
    ok: u64,
    failed: u64,
    note: String,
) -> axum::response::Response {
    let back = urls::safe_next(form.text("back"));
    let base = back.split('?').next().unwrap_or("/");
    let rest = back.split_once('?').map(|x| x.1).unwrap_or("");
    let mut pairs: Vec<(String, String)> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(rest)
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| !["ok", "failed", "note"].contains(&k.as_str()))
            .collect();
    pairs.extend([
        ("ok".into(), ok.to_string()),
        ("failed".into(), failed.to_string()),
        ("note".into(), note),
    ]);
    redirect(&format!(
        "{base}?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    ))
}

async fn bulk_body(
    s: &AppState,
    web: &Web,
    entity: Entity,
    id: i64,
    action: &str,
    form: &FormData,
) -> Result<Map<String, Json>, StoreError> {
    let mut body = Map::new();
    match action {
        "owner" => {
            body.insert("owner_id".into(), json!(form.text("owner_id")));
        }
        "tag" => {
            let rec = s.store.get(&web.actor, entity, id).await?;
            let mut tags: Vec<Json> = rec
                .get("tags")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            tags.push(json!(form.text("tag")));
            body.insert("tags".into(), Json::Array(tags));
        }
        "stage" if entity == Entity::Deal => {
            body.insert("stage_id".into(), json!(form.text("stage_id")));
            if !form.text("lost_reason").is_empty() {
                body.insert("lost_reason".into(), json!(form.text("lost_reason")));
            }
        }
        _ => return Err(DomainError::invalid("action", "required").into()),
    }
    Ok(body)
}

async fn save_view(entity: Entity, s: AppState, web: Web, body: Bytes) -> WebResult {
    let form = web.form(&body)?;
    let view = NewView {
        name: form.text("name").to_string(),
        filter: form.get("filter").unwrap_or("").to_string(),
        sort: form.text("sort").to_string(),
        columns: form.text("cols").to_string(),
        shared: form.has("shared"),
    };
    match s.store.create_view(&web.actor, entity, &view).await {
        Ok(id) => Ok(redirect(&format!("/{}?view={id}", entity.plural()))),
        Err(StoreError::Domain(d)) => {
            let note = match &d {
                DomainError::Invalid(errs) => errs.first().map(|e| e.code).unwrap_or("required"),
                DomainError::BadFilter(_) => "problem-bad_filter",
                _ => "problem-bad_request",
            };
            Ok(redirect(&format!(
                "/{}?ok=0&failed=1&note={note}",
                entity.plural()
            )))
        }
        Err(e) => Err(e.into()),
    }
}

async fn delete_view(entity: Entity, s: AppState, web: Web, id: String, body: Bytes) -> WebResult {
    web.form(&body)?;
    s.store.delete_view(&web.actor, parse_id(&id)?).await?;
    Ok(redirect(&urls::list(entity)))
}

fn entity_router(entity: Entity) -> Router<AppState> {
    let base = format!("/{}", entity.plural());
    Router::new()
        .route(
            &base,
            get(
                move |State(s): State<AppState>, w: Web, RawQuery(q): RawQuery| {
                    list_page(entity, s, w, q)
                },
            ),
        )
        .route(
            &format!("{base}/bulk"),
            post(move |State(s): State<AppState>, w: Web, b: Bytes| bulk(entity, s, w, b)),
        )
        .route(
            &format!("{base}/export"),
            post(move |State(s): State<AppState>, w: Web, b: Bytes| {
                super::exports::export(entity, s, w, b)
            }),
        )
        .route(
            &format!("{base}/views"),
            post(move |State(s): State<AppState>, w: Web, b: Bytes| save_view(entity, s, w, b)),
        )
        .route(
            &format!("{base}/views/{{id}}/delete"),
            post(
                move |State(s): State<AppState>, w: Web, Path(id): Path<String>, b: Bytes| {
                    delete_view(entity, s, w, id, b)
                },
            ),
        )
}

pub fn router() -> Router<AppState> {
    Entity::BUSINESS
        .iter()
        .fold(Router::new(), |r, e| r.merge(entity_router(*e)))
}
