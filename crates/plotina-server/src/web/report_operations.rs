//! `GET /reports/operations`: deals by client industry (each figure opens its deals)
//! and child deals overdue by their owner, with the sale each one holds up.

use askama::Template;
use axum::extract::{RawQuery, State};
use plotina_core::policy::Action;
use plotina_core::schema::Entity;

use super::lookups::Lookups;
use super::reports::{export_qs, params_form, run_report, ParamsForm};
use super::{html, urls, Ctx, Web, WebResult};
use crate::api::reports::{industry_name, ReportQuery};
use crate::state::AppState;

pub struct IndustryView {
    pub name: String,
    pub href: String,
    pub deals: i64,
    pub open: i64,
    pub open_amount: String,
    pub won: i64,
    pub won_amount: String,
    pub lost: i64,
    pub win_rate: String,
}

pub struct LateView {
    pub title: String,
    pub href: String,
    pub close_date: String,
    pub days_late: i64,
    pub parent: String,
    pub parent_href: String,
}

pub struct ContractorView {
    pub owner: String,
    pub overdue: i64,
    pub max_days_late: i64,
    pub deals: Vec<LateView>,
}

#[derive(Template)]
#[template(path = "report_operations.html")]
struct OperationsPage {
    ctx: Ctx,
    form: ParamsForm,
    error: String,
    can_export: bool,
    export_qs: String,
    shown: bool,
    industries: Vec<IndustryView>,
    contractors: Vec<ContractorView>,
}

pub async fn page(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    let ctx = web.ctx.clone().with_section("reports");
    let q: ReportQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let actor = &web.actor;
    let store = &s.store;
    let (data, error) = run_report(&ctx, q.params().map(|p| (p, ())), |p, ()| async move {
        let by_industry = store.report_by_industry(actor, &p).await?;
        let overdue = store.report_overdue_children(actor, &p).await?;
        Ok((by_industry, overdue))
    })
    .await?;
    let params = data.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
    let money = |minor: i64| super::fmt::money_minor(ctx.lang, minor, "RUB");
    let base = params.deal_filter("created_at");
    let industries = data
        .as_ref()
        .map(|(_, (rows, _))| {
            rows.iter()
                .map(|r| {
                    let cond = match (&r.industry, r.without_company) {
                        (_, true) => "company_id is null".to_string(),
                        (None, false) => {
                            "company_id is not null and company.industry is null".to_string()
                        }
                        (Some(i), false) => {
                            format!("company.industry = \"{}\"", i.replace('"', "\\\""))
                        }
                    };
                    let filter = if base.is_empty() {
                        cond
                    } else {
                        format!("{base} and {cond}")
                    };
                    IndustryView {
                        name: industry_name(r, ctx.lang),
                        href: format!("/deals{}", urls::query(&[("filter", &filter)])),
                        deals: r.deals,
                        open: r.open,
                        open_amount: money(r.open_amount),
                        won: r.won,
                        won_amount: money(r.won_amount),
                        lost: r.lost,
                        win_rate: r
                            .win_rate
                            .map(|w| format!("{:.0} %", w * 100.0))
                            .unwrap_or_else(|| "—".into()),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let contractors = data
        .as_ref()
        .map(|(_, (_, rows))| {
            rows.iter()
                .map(|r| ContractorView {
                    owner: r
                        .owner_id
                        .and_then(|o| lk.org_name(Entity::User, o))
                        .unwrap_or_else(|| "—".into()),
                    overdue: r.overdue,
                    max_days_late: r.max_days_late,
                    deals: r
                        .deals
                        .iter()
                        .map(|d| LateView {
                            title: d.title.clone(),
                            href: urls::card(Entity::Deal, d.id),
                            close_date: d.close_date.clone(),
                            days_late: d.days_late,
                            parent: d.parent_title.clone(),
                            parent_href: urls::card(Entity::Deal, d.parent_id),
                        })
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    let page = OperationsPage {
        form: params_form(
            "/reports/operations",
            &lk,
            &q,
            &params,
            params.pipelines.first().copied(),
        ),
        error,
        can_export: web.actor.can(Entity::Deal, Action::Export),
        export_qs: export_qs(&params, &[]),
        shown: data.is_some(),
        industries,
        contractors,
        ctx,
    };
    html(&page)
}
