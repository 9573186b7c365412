//! `GET /reports/rating`: the manager rating with every measure, the scores behind the
//! composite shown next to it and the rule written out; `POST /reports/rating/weights`:
//! the weights form of administrators and heads.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use plotina_core::error::FieldError;
use plotina_core::policy::{Action, Scope};
use plotina_core::schema::Entity;
use plotina_core::DomainError;
use plotina_store::reports::rating::{Weights, MEASURES};

use super::lookups::Lookups;
use super::reports::{export_qs, params_form, run_report, ParamsForm};
use super::{html, redirect, urls, Ctx, Web, WebError, WebResult};
use crate::api::reports::ReportQuery;
use crate::state::AppState;

pub struct Cell {
    pub value: String,
    /// The measure's score 0…1 when it is weighted, as a percentage bar width.
    pub score: Option<f64>,
}

pub struct RowView {
    pub place: usize,
    pub name: String,
    pub rating: String,
    pub cells: Vec<Cell>,
    pub overdue_now: i64,
}

pub struct WeightView {
    pub name: &'static str,
    pub label: String,
    pub weight: u32,
}

#[derive(Template)]
#[template(path = "report_rating.html")]
struct RatingPage {
    ctx: Ctx,
    form: ParamsForm,
    error: String,
    notice: String,
    can_export: bool,
    export_qs: String,
    shown: bool,
    headers: Vec<String>,
    rows: Vec<RowView>,
    weights: Vec<WeightView>,
    can_weigh: bool,
}

pub async fn page(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    let ctx = web.ctx.clone().with_section("reports");
    let q: ReportQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let saved = raw.as_deref().unwrap_or("").contains("saved=1");
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let actor = &web.actor;
    let store = &s.store;
    let (result, error) = run_report(&ctx, q.params().map(|p| (p, ())), |p, ()| async move {
        store.report_rating(actor, &p).await
    })
    .await?;
    let params = result.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
    let money = |minor: i64| super::fmt::money_minor(ctx.lang, minor, "RUB");
    let rows = result
        .as_ref()
        .map(|(_, r)| {
            r.managers
                .iter()
                .map(|m| {
                    let values = [
                        m.calls.to_string(),
                        m.meetings.to_string(),
                        m.tasks_on_time.to_string(),
                        m.tasks_late.to_string(),
                        m.new_deals.to_string(),
                        m.won_count.to_string(),
                        money(m.won_amount),
                        m.win_rate
                            .map(|w| format!("{:.0} %", w * 100.0))
                            .unwrap_or_else(|| "—".into()),
                        m.cycle_days
                            .map(|d| d.to_string())
                            .unwrap_or_else(|| "—".into()),
                    ];
                    RowView {
                        place: m.place,
                        name: lk
                            .org_name(Entity::User, m.user_id)
                            .unwrap_or_else(|| format!("#{}", m.user_id)),
                        rating: format!("{:.1}", m.rating),
                        cells: MEASURES
                            .iter()
                            .zip(values)
                            .map(|((name, _), value)| Cell {
                                value,
                                score: m.scores.get(*name).map(|s| (s * 100.0).round()),
                            })
                            .collect(),
                        overdue_now: m.tasks_overdue_now,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let current = match &result {
        Some((_, r)) => r.weights.clone(),
        None => s.store.rating_weights().await?,
    };
    let weights = MEASURES
        .iter()
        .map(|(m, _)| WeightView {
            name: m,
            label: ctx.t(&format!("reports-measure-{m}")),
            weight: current.0.get(*m).copied().unwrap_or(0),
        })
        .collect();
    let page = RatingPage {
        form: params_form(
            "/reports/rating",
            &lk,
            &q,
            &params,
            params.pipelines.first().copied(),
        ),
        error,
        notice: if saved {
            ctx.t("reports-rating-saved")
        } else {
            String::new()
        },
        can_export: web.actor.can(Entity::Deal, Action::Export),
        export_qs: export_qs(&params, &[]),
        shown: result.is_some(),
        headers: MEASURES
            .iter()
            .map(|(m, _)| ctx.t(&format!("reports-measure-{m}")))
            .collect(),
        rows,
        weights,
        can_weigh: web.actor.is_admin
            || web.actor.scope(Entity::Deal, Action::Read) >= Scope::Department,
        ctx,
    };
    html(&page)
}

/// `POST /reports/rating/weights`: one number field per measure.
pub async fn save_weights(State(s): State<AppState>, web: Web, body: Bytes) -> WebResult {
    let form = web.form(&body)?;
    let mut weights = Weights(Default::default());
    for (m, _) in MEASURES {
        let raw = form.text(m).trim();
        let w = if raw.is_empty() {
            0
        } else {
            raw.parse::<u32>().map_err(|_| {
                WebError::Domain(DomainError::Invalid(vec![FieldError::new(
                    m,
                    "rating_weight_range",
                )
                .with("max", 100)]))
            })?
        };
        weights.0.insert(m.to_string(), w);
    }
    s.store.set_rating_weights(&web.actor, &weights).await?;
    let back = urls::safe_next(form.text("back"));
    let base = back.split('?').next().unwrap_or("/reports/rating");
    Ok(redirect(&format!("{base}?saved=1")))
}
