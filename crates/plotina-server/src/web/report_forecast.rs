//! `GET /reports/forecast`: plan, actual and forecast per month as a chart and a table,
//! with the pipeline outside the months named; `POST /reports/forecast/plan`: the form
//! administrators and heads set plans with.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use plotina_core::policy::Action;
use plotina_core::schema::Entity;
use plotina_core::DomainError;
use plotina_store::reports::forecast::{may_plan, Forecast, PlanTarget};

use super::fields::Opt;
use super::lookups::Lookups;
use super::reports::{export_qs, params_form, run_report, ParamsForm};
use super::{html, redirect, urls, Ctx, Web, WebResult};
use crate::api::reports::ReportQuery;
use crate::state::AppState;

const PLOT_H: f64 = 170.0;

pub struct MonthView {
    pub month: String,
    pub plan: String,
    pub actual: String,
    pub weighted: String,
    pub forecast: String,
    pub to_plan: String,
    pub commit: String,
    pub best: String,
    pub open_deals: i64,
    pub x: f64,
    pub plan_h: f64,
    pub actual_h: f64,
    pub forecast_h: f64,
}

#[derive(Template)]
#[template(path = "report_forecast.html")]
struct ForecastPage {
    ctx: Ctx,
    form: ParamsForm,
    error: String,
    notice: String,
    can_export: bool,
    export_qs: String,
    shown: bool,
    months: Vec<MonthView>,
    width: f64,
    outside: String,
    can_plan: bool,
    plan_targets: Vec<Opt>,
    plan_month: String,
}

fn rub(ctx: &Ctx, minor: i64) -> String {
    super::fmt::money_minor(ctx.lang, minor, "RUB")
}

fn month_views(ctx: &Ctx, f: &Forecast) -> Vec<MonthView> {
    let top = f
        .months
        .iter()
        .map(|m| m.plan.unwrap_or(0).max(m.actual).max(m.forecast))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let h = |v: i64| v.max(0) as f64 / top * PLOT_H;
    f.months
        .iter()
        .enumerate()
        .map(|(i, m)| MonthView {
            month: m.month.clone(),
            plan: m.plan.map(|p| rub(ctx, p)).unwrap_or_else(|| "—".into()),
            actual: rub(ctx, m.actual),
            weighted: rub(ctx, m.weighted),
            forecast: rub(ctx, m.forecast),
            to_plan: m
                .forecast_to_plan
                .map(|r| format!("{:.0} %", r * 100.0))
                .unwrap_or_else(|| "—".into()),
            commit: rub(ctx, m.commit),
            best: rub(ctx, m.best),
            open_deals: m.open_deals,
            x: 40.0 + i as f64 * 90.0,
            plan_h: h(m.plan.unwrap_or(0)),
            actual_h: h(m.actual),
            forecast_h: h(m.forecast),
        })
        .collect()
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
        store.report_forecast(actor, &p).await
    })
    .await?;
    let params = result.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
    let months = result
        .as_ref()
        .map(|(_, f)| month_views(&ctx, f))
        .unwrap_or_default();
    let outside = result
        .as_ref()
        .map(|(_, f)| {
            super::super::i18n::t_args(
                ctx.lang,
                "reports-forecast-outside",
                &[
                    ("overdue", f.overdue_deals.to_string()),
                    ("overdue_amount", rub(&ctx, f.overdue_amount)),
                    ("undated", f.undated_deals.to_string()),
                    ("undated_amount", rub(&ctx, f.undated_amount)),
                ],
            )
        })
        .unwrap_or_default();
    let mut plan_targets = vec![Opt {
        value: "all".into(),
        label: ctx.t("reports-plan-all"),
        selected: params.owner.is_none() && params.department.is_none(),
        ..Default::default()
    }];
    plan_targets.extend(lk.departments.iter().map(|d| Opt {
        value: PlanTarget::Department(d.id).code(),
        label: d.name.clone(),
        selected: params.owner.is_none() && params.department == Some(d.id),
        ..Default::default()
    }));
    plan_targets.extend(lk.users.iter().filter(|u| u.active).map(|u| Opt {
        value: PlanTarget::User(u.id).code(),
        label: u.name.clone(),
        selected: params.owner == Some(u.id),
        ..Default::default()
    }));
    let page = ForecastPage {
        form: params_form(
            "/reports/forecast",
            &lk,
            &q,
            &params,
            params.pipelines.first().copied(),
        ),
        error,
        notice: if saved {
            ctx.t("reports-plan-saved")
        } else {
            String::new()
        },
        can_export: web.actor.can(Entity::Deal, Action::Export),
        export_qs: export_qs(&params, &[]),
        shown: result.is_some(),
        width: 60.0 + months.len() as f64 * 90.0,
        months,
        outside,
        can_plan: may_plan(&web.actor),
        plan_targets,
        plan_month: web.actor.today().format("%Y-%m").to_string(),
        ctx,
    };
    html(&page)
}

/// `POST /reports/forecast/plan`: month, target, amount (empty removes the plan).
pub async fn save_plan(State(s): State<AppState>, web: Web, body: Bytes) -> WebResult {
    let form = web.form(&body)?;
    let back = urls::safe_next(form.text("back"));
    let base = back.split('?').next().unwrap_or("/reports/forecast");
    let fail = |d: DomainError| -> WebResult { Err(super::WebError::Domain(d)) };
    let Some(target) = PlanTarget::parse(form.text("target")) else {
        return fail(DomainError::invalid("target", "plan_bad_target"));
    };
    let amount = form_amount(form.text("amount")).map_err(super::WebError::Domain)?;
    s.store
        .set_plan(&web.actor, form.text("month"), target, amount)
        .await?;
    Ok(redirect(&format!("{base}?saved=1")))
}

/// A form's amount in roubles; empty means none (the plan or cost is removed).
pub fn form_amount(raw: &str) -> Result<Option<i64>, DomainError> {
    match raw.trim() {
        "" => Ok(None),
        text => crate::api::reports::parse_amount(Some(serde_json::Value::String(text.into()))),
    }
}
