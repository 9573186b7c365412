//! `GET /reports/quality?entity=company`: the data-quality page — the share of records
//! without each key field, per owner and overall (red when most are missing), and the
//! records without a planned next activity, each a link to its card.

use askama::Template;
use axum::extract::{RawQuery, State};
use plotina_core::schema::Entity;
use plotina_store::quality::report_fields;

use super::fmt::field_label;
use super::lookups::Lookups;
use super::{html, urls, Ctx, FormData, Web, WebResult};
use crate::state::AppState;

const ENTITIES: [Entity; 4] = [Entity::Company, Entity::Contact, Entity::Deal, Entity::Lead];
const IDLE_PAGE: u64 = 50;

pub struct Tab {
    pub href: String,
    pub label: String,
    pub on: bool,
}

pub struct Share {
    pub percent: String,
    /// `ok` (≤ 20 %), `warn` (≤ 50 %) or `bad`.
    pub level: &'static str,
}

pub struct OwnerRow {
    pub owner: String,
    pub total: i64,
    pub shares: Vec<Share>,
}

pub struct IdleRow {
    pub title: String,
    pub href: String,
    pub owner: String,
}

#[derive(Template)]
#[template(path = "report_quality.html")]
struct QualityPage {
    ctx: Ctx,
    tabs: Vec<Tab>,
    fields: Vec<String>,
    overall: OwnerRow,
    owners: Vec<OwnerRow>,
    idle_shown: bool,
    idle: Vec<IdleRow>,
    idle_next: String,
}

fn share(missing: i64, total: i64) -> Share {
    let p = if total == 0 {
        0.0
    } else {
        missing as f64 * 100.0 / total as f64
    };
    Share {
        percent: format!("{p:.0} %"),
        level: if p <= 20.0 {
            "ok"
        } else if p <= 50.0 {
            "warn"
        } else {
            "bad"
        },
    }
}

pub async fn page(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    let ctx = web.ctx.clone().with_section("reports");
    let q = FormData::parse(raw.as_deref().unwrap_or("").as_bytes());
    let entity = Entity::from_code(q.text("entity"))
        .filter(|e| ENTITIES.contains(e))
        .unwrap_or(Entity::Company);
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let owner_name = |id: Option<i64>| -> String {
        id.and_then(|i| lk.org_name(Entity::User, i))
            .unwrap_or_else(|| ctx.t("ui-quality-no-owner"))
    };
    let fields = report_fields(entity);
    let rows = s.store.completeness(&web.actor, entity).await?;
    let mut total = 0;
    let mut sums = vec![0i64; fields.len()];
    let mut owners = Vec::new();
    for r in &rows {
        total += r.total;
        let mut shares = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            let m = r.missing.get(f).copied().unwrap_or(0);
            sums[i] += m;
            shares.push(share(m, r.total));
        }
        owners.push(OwnerRow {
            owner: owner_name(r.owner_id),
            total: r.total,
            shares,
        });
    }
    owners.sort_by_key(|o| std::cmp::Reverse(o.total));
    let overall = OwnerRow {
        owner: ctx.t("ui-quality-all"),
        total,
        shares: sums.iter().map(|m| share(*m, total)).collect(),
    };
    let idle_shown = entity != Entity::Lead;
    let (mut idle, mut idle_next) = (Vec::new(), String::new());
    if idle_shown {
        let after = q.id("after");
        let recs = s
            .store
            .without_next_activity(&web.actor, entity, after, IDLE_PAGE)
            .await?;
        if recs.len() as u64 == IDLE_PAGE {
            if let Some(last) = recs.last() {
                idle_next = format!(
                    "/reports/quality{}",
                    urls::query(&[("entity", entity.code()), ("after", &last.id.to_string())])
                );
            }
        }
        idle = recs
            .into_iter()
            .map(|r| IdleRow {
                title: r.title.unwrap_or_else(|| format!("#{}", r.id)),
                href: urls::card(entity, r.id),
                owner: owner_name(r.owner_id),
            })
            .collect();
    }
    let tabs = ENTITIES
        .iter()
        .map(|e| Tab {
            href: format!("/reports/quality?entity={}", e.code()),
            label: ctx.t(&format!("ui-nav-{}", e.plural())),
            on: *e == entity,
        })
        .collect();
    let fields = fields
        .iter()
        .map(|f| field_label(ctx.lang, entity, f))
        .collect();
    html(&QualityPage {
        ctx,
        tabs,
        fields,
        overall,
        owners,
        idle_shown,
        idle,
        idle_next,
    })
}
