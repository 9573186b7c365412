//! Notebook pages beyond the home page: gate rules and hand-over in the settings
//! (administrators), and the discipline report.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::Router;
use plotina_core::DomainError;
use plotina_store::gates::{GateAction, GateInput};
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

struct GateRow {
    id: i64,
    name: String,
    action: String,
    condition: String,
    exempt: String,
    active: String,
}

#[derive(Template)]
#[template(path = "nb_gates.html")]
struct GatesPage {
    ctx: Ctx,
    gates: Vec<GateRow>,
    actions: Vec<(&'static str, String)>,
    roles: Vec<Named>,
    errors: Vec<String>,
    form_name: String,
}

async fn gates_page(s: &AppState, web: &Web, errors: Vec<String>, form_name: String) -> WebResult {
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
            }
        })
        .collect();
    let page = GatesPage {
        gates: rows,
        actions: GateAction::ALL
            .iter()
            .map(|a| (a.code(), action_label(a.code())))
            .collect(),
        roles: lk.roles.clone(),
        errors,
        form_name,
        ctx,
    };
    html(&page)
}

async fn gates(State(s): State<AppState>, web: Web) -> WebResult {
    gates_page(&s, &web, Vec::new(), String::new()).await
}

fn number(form: &FormData, name: &str) -> Result<Option<i64>, Vec<String>> {
    let v = form.text(name).trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| vec![format!("{name}: {v}")])
}

async fn create_gate(State(s): State<AppState>, web: Web, body: Bytes) -> WebResult {
    admin(&web)?;
    let form = web.form(&body)?;
    let parsed = (|| -> Result<GateInput, Vec<String>> {
        Ok(GateInput {
            name: form.text("name").to_string(),
            action: form.text("action").to_string(),
            kinds: form
                .text("kinds")
                .split(',')
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect(),
            older_than_hours: number(&form, "older_than_hours")?,
            max_overdue_tasks: number(&form, "max_overdue_tasks")?,
            exempt_role_ids: form
                .all("exempt_role_ids")
                .iter()
                .filter_map(|v| v.parse().ok())
                .collect(),
            active: Some(true),
        })
    })();
    let input = match parsed {
        Ok(i) => i,
        Err(errors) => {
            return gates_page(&s, &web, errors, form.text("name").to_string()).await;
        }
    };
    match s.store.create_gate(&web.actor, &input).await {
        Ok(_) => Ok(redirect("/settings/gates")),
        Err(e) => {
            let errors = messages(&web.ctx, e)?;
            gates_page(&s, &web, errors, input.name).await
        }
    }
}

async fn delete_gate(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    admin(&web)?;
    web.form(&body)?;
    let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    s.store.delete_gate(&web.actor, id).await?;
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
        .route("/settings/gates/{id}/delete", post(delete_gate))
        .route("/settings/handover", get(handover).post(run_handover))
        .route("/notebook/discipline", get(discipline))
}
