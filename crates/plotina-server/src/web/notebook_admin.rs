//! Notebook pages beyond the home page: gate rules and hand-over in the settings
//! (administrators), and the discipline report.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::Router;
use plotina_core::DomainError;
use plotina_store::gates::{Gate, GateAction, GateInput};
use plotina_store::handover::HandoverRequest;
use plotina_store::StoreError;

use super::lookups::{Lookups, Named};
use super::{fmt, html, redirect, Ctx, FormData, Web, WebError, WebResult};
use crate::state::AppState;

fn admin(web: &Web) -> Result<(), WebError> {
    if web.actor.is_admin {
        Ok(())
    } else {
        Err(WebError::Forbidden("forbidden_settings"))
    }
}

/// A store refusal about the input as lines of text; anything else goes on.
fn messages(ctx: &Ctx, e: StoreError) -> Result<Vec<String>, WebError> {
    let i18n = crate::i18n::I18n::get();
    match e {
        StoreError::Domain(DomainError::Invalid(errs)) => Ok(errs
            .iter()
            .map(|fe| {
                let text = i18n.text(ctx.lang, fe.code, &fe.args);
                if fe.field.is_empty() {
                    text
                } else {
                    format!("{}: {text}", i18n.field_label(ctx.lang, &fe.field))
                }
            })
            .collect()),
        other => Err(other.into()),
    }
}

/// A store refusal about the input as (field, message) pairs; anything else goes on.
fn field_messages(ctx: &Ctx, e: StoreError) -> Result<Vec<(String, String)>, WebError> {
    let i18n = crate::i18n::I18n::get();
    match e {
        StoreError::Domain(DomainError::Invalid(errs)) => Ok(errs
            .iter()
            .map(|fe| (fe.field.clone(), i18n.text(ctx.lang, fe.code, &fe.args)))
            .collect()),
        other => Err(other.into()),
    }
}

struct GateRow {
    id: i64,
    name: String,
    action: String,
    condition: String,
    exempt: String,
    active: String,
    is_active: bool,
}

/// The gate form: a new rule (`id` 0) or the one being edited, as typed, with the
/// store's or the parser's refusals next to their fields.
#[derive(Default)]
struct GateForm {
    id: i64,
    name: String,
    action: String,
    kinds: String,
    older_than_hours: String,
    max_overdue_tasks: String,
    exempt_role_ids: Vec<i64>,
    active: bool,
    /// Field → message.
    errors: Vec<(String, String)>,
}

impl GateForm {
    fn new_rule() -> GateForm {
        GateForm {
            active: true,
            ..Default::default()
        }
    }

    fn from_gate(g: &Gate) -> GateForm {
        GateForm {
            id: g.id,
            name: g.name.clone(),
            action: g.action.clone(),
            kinds: g.kinds.join(", "),
            older_than_hours: g
                .older_than_hours
                .map(|h| h.to_string())
                .unwrap_or_default(),
            max_overdue_tasks: g
                .max_overdue_tasks
                .map(|n| n.to_string())
                .unwrap_or_default(),
            exempt_role_ids: g.exempt_role_ids.clone(),
            active: g.active,
            errors: Vec::new(),
        }
    }

    fn from_form(id: i64, form: &FormData) -> GateForm {
        GateForm {
            id,
            name: form.text("name").to_string(),
            action: form.text("action").to_string(),
            kinds: form.text("kinds").to_string(),
            older_than_hours: form.text("older_than_hours").to_string(),
            max_overdue_tasks: form.text("max_overdue_tasks").to_string(),
            exempt_role_ids: form
                .all("exempt_role_ids")
                .iter()
                .filter_map(|v| v.trim().parse().ok())
                .collect(),
            // An unchecked box sends nothing: the form marks that it showed the box.
            active: form.has("active") || !form.has("active_shown"),
            errors: Vec::new(),
        }
    }

    /// The message about `field`, "" when there is none.
    fn error(&self, field: &str) -> &str {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
            .unwrap_or("")
    }

    /// Messages about no field of the form (shown above it).
    fn other_errors(&self) -> Vec<&str> {
        const FIELDS: [&str; 6] = [
            "name",
            "action",
            "kinds",
            "older_than_hours",
            "max_overdue_tasks",
            "exempt_role_ids",
        ];
        self.errors
            .iter()
            .filter(|(f, _)| !FIELDS.contains(&f.as_str()))
            .map(|(_, m)| m.as_str())
            .collect()
    }

    fn exempt(&self, role: &i64) -> bool {
        self.exempt_role_ids.contains(role)
    }

    fn action_is(&self, code: &&str) -> bool {
        self.action == *code
    }

    fn action_url(&self) -> String {
        if self.id > 0 {
            format!("/settings/gates/{}", self.id)
        } else {
            "/settings/gates".to_string()
        }
    }

    /// The rule the store is asked to save; unparsable numbers become field errors.
    fn input(&mut self, ctx: &Ctx) -> Option<GateInput> {
        let i18n = crate::i18n::I18n::get();
        let mut number = |field: &str, text: &str| -> Option<i64> {
            if text.is_empty() {
                return None;
            }
            match text.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    self.errors.push((
                        field.to_string(),
                        i18n.text(ctx.lang, "expected_integer", &[]),
                    ));
                    None
                }
            }
        };
        let older = number("older_than_hours", &self.older_than_hours.clone());
        let max = number("max_overdue_tasks", &self.max_overdue_tasks.clone());
        if !self.errors.is_empty() {
            return None;
        }
        Some(GateInput {
            name: self.name.clone(),
            action: self.action.clone(),
            kinds: self
                .kinds
                .split(',')
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect(),
            older_than_hours: older,
            max_overdue_tasks: max,
            exempt_role_ids: self.exempt_role_ids.clone(),
            active: Some(self.active),
        })
    }
}

#[derive(Template)]
#[template(path = "nb_gates.html")]
struct GatesPage {
    ctx: Ctx,
    gates: Vec<GateRow>,
    actions: Vec<(&'static str, String)>,
    roles: Vec<Named>,
    form: GateForm,
}

async fn gates_page(s: &AppState, web: &Web, form: GateForm) -> WebResult {
    admin(web)?;
    let ctx = web.ctx.clone().with_section("settings");
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let gates = s.store.gates(&web.actor).await?;
    let action_label = |code: &str| ctx.t(&format!("ui-nb-action-{code}"));
    let rows = gates
        .iter()
        .map(|g| {
            let mut cond = Vec::new();
            if g.older_than_hours.is_some() || !g.kinds.is_empty() {
                let kinds = if g.kinds.is_empty() {
                    ctx.t("ui-nb-any-kind")
                } else {
                    g.kinds.join(", ")
                };
                let age = ctx.ta("ui-nb-older-than", "hours", g.older_than_hours.unwrap_or(0));
                cond.push(format!("{kinds} {age}"));
            }
            if let Some(n) = g.max_overdue_tasks {
                cond.push(ctx.ta("ui-nb-more-overdue", "count", n));
            }
            GateRow {
                id: g.id,
                name: g.name.clone(),
                action: action_label(&g.action),
                condition: cond.join(&format!(" {} ", ctx.t("ui-nb-or"))),
                exempt: g
                    .exempt_role_ids
                    .iter()
                    .filter_map(|r| lk.roles.iter().find(|x| x.id == *r).map(|x| x.name.clone()))
                    .collect::<Vec<_>>()
                    .join(", "),
                active: fmt::yes_no(&ctx, g.active),
                is_active: g.active,
            }
        })
        .collect();
    let status = if form.errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = GatesPage {
        gates: rows,
        actions: GateAction::ALL
            .iter()
            .map(|a| (a.code(), action_label(a.code())))
            .collect(),
        roles: lk.roles.clone(),
        form,
        ctx,
    };
    super::html_status(status, &page)
}

async fn gates(State(s): State<AppState>, web: Web) -> WebResult {
    gates_page(&s, &web, GateForm::new_rule()).await
}

fn gate_id(id: &str) -> Result<i64, WebError> {
    id.parse().ok().filter(|i| *i > 0).ok_or(WebError::NotFound)
}

async fn edit_gate(State(s): State<AppState>, web: Web, Path(id): Path<String>) -> WebResult {
    admin(&web)?;
    let g = s.store.gate(&web.actor, gate_id(&id)?).await?;
    gates_page(&s, &web, GateForm::from_gate(&g)).await
}

/// Saves the form as a new rule (`id` 0) or over rule `id`.
async fn save_gate(s: &AppState, web: &Web, id: i64, body: &[u8]) -> WebResult {
    admin(web)?;
    let form = web.form(body)?;
    let mut gf = GateForm::from_form(id, &form);
    let Some(input) = gf.input(&web.ctx) else {
        return gates_page(s, web, gf).await;
    };
    let saved = if id > 0 {
        s.store.update_gate(&web.actor, id, &input).await
    } else {
        s.store.create_gate(&web.actor, &input).await
    };
    match saved {
        Ok(_) => Ok(redirect("/settings/gates")),
        Err(e) => {
            gf.errors = field_messages(&web.ctx, e)?;
            gates_page(s, web, gf).await
        }
    }
}

async fn create_gate(State(s): State<AppState>, web: Web, body: Bytes) -> WebResult {
    save_gate(&s, &web, 0, &body).await
}

async fn update_gate(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    let id = gate_id(&id)?;
    save_gate(&s, &web, id, &body).await
}

/// Switches a rule on or off (`active` = "1" or "0").
async fn toggle_gate(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    admin(&web)?;
    let form = web.form(&body)?;
    let g = s.store.gate(&web.actor, gate_id(&id)?).await?;
    let input = GateInput {
        name: g.name.clone(),
        action: g.action.clone(),
        kinds: g.kinds.clone(),
        older_than_hours: g.older_than_hours,
        max_overdue_tasks: g.max_overdue_tasks,
        exempt_role_ids: g.exempt_role_ids.clone(),
        active: Some(form.text("active") == "1"),
    };
    s.store.update_gate(&web.actor, g.id, &input).await?;
    Ok(redirect("/settings/gates"))
}

async fn delete_gate(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    admin(&web)?;
    web.form(&body)?;
    s.store.delete_gate(&web.actor, gate_id(&id)?).await?;
    Ok(redirect("/settings/gates"))
}

#[derive(Template)]
#[template(path = "nb_handover.html")]
struct HandoverPage {
    ctx: Ctx,
    users: Vec<Named>,
    entities: Vec<(&'static str, String)>,
    errors: Vec<String>,
    done: Vec<String>,
}

async fn handover_page(
    s: &AppState,
    web: &Web,
    errors: Vec<String>,
    done: Vec<String>,
) -> WebResult {
    admin(web)?;
    let ctx = web.ctx.clone().with_section("settings");
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let entities = ["deal", "lead", "company", "activity"]
        .into_iter()
        .map(|e| (e, ctx.t(&format!("ui-entity-{e}"))))
        .collect();
    html(&HandoverPage {
        users: lk.users.clone(),
        entities,
        errors,
        done,
        ctx,
    })
}

async fn handover(State(s): State<AppState>, web: Web) -> WebResult {
    handover_page(&s, &web, Vec::new(), Vec::new()).await
}

async fn run_handover(State(s): State<AppState>, web: Web, body: Bytes) -> WebResult {
    admin(&web)?;
    let form = web.form(&body)?;
    let mut by_entity = std::collections::BTreeMap::new();
    for e in ["deal", "lead", "company", "activity"] {
        if let Some(u) = form.id(&format!("by_{e}")) {
            by_entity.insert(e.to_string(), u);
        }
    }
    let req = HandoverRequest {
        from_user_id: form.id("from_user_id").unwrap_or_default(),
        to_user_ids: form
            .all("to_user_ids")
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect(),
        by_entity,
    };
    match s.store.hand_over(&web.actor, &req).await {
        Ok(out) => {
            let lk = Lookups::load(&s.store, &web.actor).await?;
            let ctx = &web.ctx;
            let done = out
                .iter()
                .map(|h| {
                    format!(
                        "{}: {} {}, {} {}, {} {}, {} {}",
                        lk.user(h.user_id).unwrap_or(""),
                        h.deals.len(),
                        ctx.t("ui-nav-deals"),
                        h.leads.len(),
                        ctx.t("ui-nav-leads"),
                        h.companies.len(),
                        ctx.t("ui-nav-companies"),
                        h.activities.len(),
                        ctx.t("ui-nav-activities"),
                    )
                })
                .collect();
            handover_page(&s, &web, Vec::new(), done).await
        }
        Err(e) => {
            let errors = messages(&web.ctx, e)?;
            handover_page(&s, &web, errors, Vec::new()).await
        }
    }
}

struct DisciplineView {
    user_id: i64,
    name: String,
    week: String,
    on_time: i64,
    late: i64,
    open: i64,
    gate_blocks: i64,
}

#[derive(Template)]
#[template(path = "nb_discipline.html")]
struct DisciplinePage {
    ctx: Ctx,
    rows: Vec<DisciplineView>,
}

async fn discipline(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    #[derive(serde::Deserialize, Default)]
    struct Q {
        weeks: Option<u32>,
    }
    let q: Q = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let ctx = web.ctx.clone().with_section("notebook");
    let rows = s
        .store
        .discipline(&web.actor, q.weeks.unwrap_or(4), plotina_core::value::now())
        .await?;
    let rows = rows
        .into_iter()
        .rev()
        .map(|r| DisciplineView {
            user_id: r.user_id,
            name: r.name,
            week: fmt::date(ctx.lang, r.week_start),
            on_time: r.on_time,
            late: r.late,
            open: r.open,
            gate_blocks: r.gate_blocks,
        })
        .collect();
    html(&DisciplinePage { ctx, rows })
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/gates", get(gates).post(create_gate))
        .route("/settings/gates/{id}", get(edit_gate).post(update_gate))
        .route("/settings/gates/{id}/active", post(toggle_gate))
        .route("/settings/gates/{id}/delete", post(delete_gate))
        .route("/settings/handover", get(handover).post(run_handover))
        .route("/notebook/discipline", get(discipline))
}
