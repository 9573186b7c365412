//! Deals and their journeys through the pipelines. Each deal is created in the first
//! stage and moved stage by stage (never skipping where the pipeline forbids it), each
//! move written as the engine writes it: an 'update' history diff and a `stage_changes`
//! row. Deals that reach «Расчёт» sometimes get a child deal in «Логистика: оценка».

use chrono::Duration;
use plotina_core::schema::Entity;
use plotina_core::types::Money;
use serde_json::{json, Value as Json};

use super::activities::{self, Thread};
use super::clock::{days, Rng};
use super::customers::{tier, CompanyInfo};
use super::names;
use super::org::PipelineInfo;
use super::writer::{blank, stamp};
use super::Ctx;
use crate::rows::Record;

#[derive(Debug, Clone, Copy, PartialEq)]
enum To {
    Open(usize),
    Won,
    Lost,
}

/// How deals behave in one pipeline.
struct Behaviour {
    /// Chance of being lost in each open stage.
    loss: &'static [f64],
    /// Median working days spent in each open stage.
    dwell: &'static [f64],
    /// Chance that a deal gets stuck for good in some stage.
    stall: f64,
    /// Chance of skipping the next open stage (only where skipping is allowed).
    skip: f64,
}

const SALES: Behaviour = Behaviour {
    loss: &[0.25, 0.2, 0.15, 0.15, 0.1],
    dwell: &[2.0, 4.0, 5.0, 7.0, 8.0],
    stall: 0.5,
    skip: 0.0,
};
const RENTAL: Behaviour = Behaviour {
    loss: &[0.15, 0.15, 0.1, 0.0],
    dwell: &[1.0, 3.0, 4.0, 60.0],
    stall: 0.08,
    skip: 0.3,
};
const LOGISTICS: Behaviour = Behaviour {
    loss: &[0.05, 0.08, 0.1],
    dwell: &[0.3, 1.0, 1.5],
    stall: 0.05,
    skip: 0.0,
};

/// The moves a deal created at `t0` makes until today.
fn journey(
    rng: &mut Rng,
    b: &Behaviour,
    skill: f64,
    t0: i64,
    end: i64,
    rent_days: f64,
) -> Vec<(To, i64)> {
    let open = b.loss.len();
    let stall = rng.chance(b.stall).then(|| rng.index(open));
    let mut steps = Vec::new();
    let (mut t, mut k) = (t0, 0);
    loop {
        if stall == Some(k) {
            break;
        }
        let median = if k + 1 == open && rent_days > 0.0 {
            rent_days
        } else {
            b.dwell[k]
        };
        t += days(rng.lognormal(median, 0.6).clamp(0.1, 400.0));
        if t > end {
            break;
        }
        if rng.chance((b.loss[k] * skill).min(0.9)) {
            steps.push((To::Lost, t));
            break;
        }
        if k + 1 == open {
            steps.push((To::Won, t));
            break;
        }
        k += if k + 2 < open && rng.chance(b.skip) {
            2
        } else {
            1
        };
        steps.push((To::Open(k), t));
    }
    steps
}

fn money(rub: f64, step: f64) -> Json {
    let rounded = ((rub / step).round() * step).max(step);
    json!(Money::from_minor((rounded as i64) * 100).to_string())
}

/// Deal fields that differ by pipeline.
struct Spec {
    pipeline: PipelineInfo,
    behaviour: &'static Behaviour,
    owner: i64,
    title: String,
    amount: Json,
    contacts: Vec<i64>,
    parent: Option<i64>,
    rent_days: f64,
}

/// Generates about `n` deals (main deals plus their logistics children), oldest first.
pub fn generate(
    ctx: &mut Ctx,
    companies: &[CompanyInfo],
    n: usize,
    activities_per_deal: f64,
) -> anyhow::Result<()> {
    // About one deal in fourteen is a logistics child of a sales deal.
    let main = ((n as f64) / 1.073).round().max(1.0) as usize;
    let start = days(5.0);
    let span = (ctx.clock.end - start - days(2.0)).max(1) as f64;
    for d in 0..main {
        // The business grows: twice as many deals a day now as three years ago.
        let u = (d as f64 + ctx.rng.unit()) / main as f64;
        let x = ((1.0 + 3.0 * u).sqrt() - 1.0).clamp(0.0, 1.0);
        let t0 = start + (x * span) as i64;
        let known = companies.partition_point(|c| c.created < t0).max(1);
        // Pareto-ish: key accounts (every 25th) and large customers (every 5th) get
        // most of the deals.
        let index = match ctx.rng.weighted(&[30, 35, 35]) {
            0 => 25 * ctx.rng.index(known.div_ceil(25)),
            1 => 5 * ctx.rng.index(known.div_ceil(5)),
            _ => ctx.rng.index(known),
        }
        .min(known - 1);
        let company = &companies[index];
        let t0 = t0.max(company.created + 600);
        main_deal(ctx, company, tier(index), t0, activities_per_deal);
        ctx.flush_if_full("deals", d as u64 + 1, main as u64)?;
    }
    ctx.flush("deals", main as u64, main as u64)
}

fn deal_contacts(rng: &mut Rng, company: &CompanyInfo) -> Vec<i64> {
    let pick = |rng: &mut Rng| {
        company.first_contact + rng.index(usize::from(company.contacts.max(1))) as i64
    };
    let mut ids = vec![pick(rng)];
    if rng.chance(0.35) {
        let other = pick(rng);
        if other != ids[0] {
            ids.push(other);
        }
    }
    ids
}

fn main_deal(ctx: &mut Ctx, company: &CompanyInfo, tier: u8, t0: i64, activities_per_deal: f64) {
    let rng = &mut ctx.rng;
    let org = &ctx.org;
    let rental = rng.chance(0.13);
    let owner = if company.private {
        company.owner
    } else if rental {
        org.rental.pick(rng)
    } else if rng.chance(0.85) {
        company.owner
    } else {
        org.regional[rng.index(4)].pick(rng)
    };
    let contacts = deal_contacts(rng, company);
    let spec = if rental {
        let months = rng.range(1, 13);
        let monthly = rng.lognormal(120_000.0, 0.6).clamp(15_000.0, 900_000.0);
        Spec {
            pipeline: org.rent.clone(),
            behaviour: &RENTAL,
            owner,
            title: format!(
                "{}, {months} мес. — {}",
                rng.pick(names::RENTAL_ITEMS),
                company.name
            ),
            amount: money(monthly * months as f64, 1000.0),
            contacts,
            parent: None,
            rent_days: months as f64 * 21.0,
        }
    } else {
        let industry = &names::INDUSTRIES[usize::from(company.industry)];
        let scale = [1.0, 1.7, 3.0][usize::from(tier)];
        let rub = rng
            .lognormal(industry.median_rub * scale, 0.9)
            .clamp(30_000.0, 80_000_000.0);
        Spec {
            pipeline: org.sales.clone(),
            behaviour: &SALES,
            owner,
            title: format!("{} — {}", rng.pick(industry.projects), company.name),
            amount: money(rub, if rub > 1_000_000.0 { 10_000.0 } else { 1000.0 }),
            contacts,
            parent: None,
            rent_days: 0.0,
        }
    };
    let (id, estimate_at, closed_at) = write_deal(ctx, company, t0, spec);

    // A sales deal being estimated may ask logistics for a delivery estimate.
    let can_estimate = !rental && !company.private && !ctx.org.logistics.is_empty();
    if let Some(tr) = estimate_at.filter(|_| can_estimate) {
        if ctx.rng.chance(0.14) {
            let tc = tr + ctx.rng.range(days(0.1), days(1.5));
            if tc < ctx.clock.end {
                let owner = ctx.org.logistics.pick(&mut ctx.rng);
                let spec = Spec {
                    pipeline: ctx.org.logistics_pipeline.clone(),
                    behaviour: &LOGISTICS,
                    owner,
                    title: format!("Оценка доставки — {}", company.name),
                    amount: money(
                        ctx.rng.lognormal(60_000.0, 0.7).clamp(5000.0, 900_000.0),
                        500.0,
                    ),
                    contacts: vec![company.first_contact],
                    parent: Some(id),
                    rent_days: 0.0,
                };
                let (child, _, child_closed) = write_deal(ctx, company, tc, spec);
                deal_activities(ctx, company, child, owner, tc, child_closed, 1.0);
            }
        }
    }
    deal_activities(ctx, company, id, owner, t0, closed_at, activities_per_deal);
}

fn deal_activities(
    ctx: &mut Ctx,
    company: &CompanyInfo,
    deal: i64,
    owner: i64,
    t0: i64,
    closed: Option<i64>,
    mean: f64,
) {
    let end = ctx.clock.end;
    let thread = Thread {
        company: company.id,
        first_contact: company.first_contact,
        contacts: company.contacts,
        deal: Some(deal),
        owner,
        from: t0,
        to: closed.unwrap_or(end),
        support: false,
    };
    let n = ctx.rng.poisson(mean);
    activities::past(ctx, &thread, n);
    if closed.is_none() && ctx.rng.chance(0.6) {
        let created = (end - ctx.rng.range(0, days(10.0))).max(t0);
        activities::next_step(ctx, &thread, created);
    }
}

/// Writes a deal with its whole journey; returns its id, when it entered «Расчёт» (the
/// third open stage) and when it closed.
fn write_deal(
    ctx: &mut Ctx,
    company: &CompanyInfo,
    t0: i64,
    spec: Spec,
) -> (i64, Option<i64>, Option<i64>) {
    let clock = ctx.clock;
    let at = |t: i64| json!(plotina_core::value::format_datetime(clock.instant(t)));
    let p = &spec.pipeline;
    let owner = spec.owner;
    let id = ctx.sink.next_id(Entity::Deal);
    let rng = &mut ctx.rng;
    let mut rec = blank(Entity::Deal);
    stamp(&mut rec, id, clock.instant(t0), owner, owner);
    rec.insert("title".into(), json!(spec.title));
    rec.insert("pipeline_id".into(), json!(p.id));
    rec.insert("stage_id".into(), json!(p.open[0].0));
    rec.insert("amount".into(), spec.amount);
    rec.insert("currency".into(), json!("RUB"));
    let close_date = clock.date(t0) + Duration::days(rng.range(15, 80));
    rec.insert(
        "close_date".into(),
        json!(close_date.format("%Y-%m-%d").to_string()),
    );
    rec.insert("probability".into(), json!(p.open[0].1));
    rec.insert("company_id".into(), json!(company.id));
    rec.insert("contact_ids".into(), json!(spec.contacts));
    rec.insert(
        "source".into(),
        json!(if spec.parent.is_some() {
            "Запрос отдела продаж"
        } else {
            rng.pick(names::DEAL_SOURCES)
        }),
    );
    if let Some(parent) = spec.parent {
        rec.insert("parent_id".into(), json!(parent));
    }
    if spec.rent_days > 0.0 || rng.chance(0.3) {
        let extra = if spec.rent_days > 0.0 {
            spec.rent_days as i64 * 7 / 5
        } else {
            rng.range(20, 90)
        };
        rec.insert(
            "planned_deadline".into(),
            json!((close_date + Duration::days(extra))
                .format("%Y-%m-%d")
                .to_string()),
        );
    }
    if spec.parent.is_none() && rng.chance(0.7) {
        rec.insert(
            "custom".into(),
            json!({ super::org::PAYMENT_TERMS_KEY: rng.pick(names::PAYMENT_TERMS) }),
        );
    }
    if rng.chance(0.12) {
        rec.insert("description".into(), json!(rng.pick(names::DEAL_NOTES)));
    }
    if rng.chance(0.08) {
        rec.insert("tags".into(), json!([rng.pick(names::DEAL_TAGS)]));
    }
    rec.insert("stage_changed_at".into(), at(t0));

    let skill = ctx.org.skill(owner);
    let steps = journey(
        &mut ctx.rng,
        spec.behaviour,
        skill,
        t0,
        clock.end,
        spec.rent_days,
    );
    // The journey as the fields a move changes, in schema order; the full record is only
    // built for the final state.
    let moved = |stage: (i64, i64), lost: Option<&str>, t: i64, closed: bool| -> Record {
        let mut r = Record::new();
        r.insert("stage_id".into(), json!(stage.0));
        r.insert("probability".into(), json!(stage.1));
        r.insert("lost_reason".into(), json!(lost));
        r.insert("stage_changed_at".into(), at(t));
        r.insert("closed_at".into(), if closed { at(t) } else { Json::Null });
        r
    };
    let mut states = vec![(moved(p.open[0], None, t0, false), p.open[0].0, t0)];
    let (mut estimate_at, mut closed_at) = (None, None);
    for (to, t) in steps {
        let (stage, closed) = match to {
            To::Open(k) => (p.open[k], false),
            To::Won => (p.won, true),
            To::Lost => (p.lost, true),
        };
        if to == To::Open(2) {
            estimate_at = Some(t);
        }
        let lost = (to == To::Lost).then(|| *ctx.rng.pick(p.lost_reasons));
        if closed {
            closed_at = Some(t);
        }
        states.push((moved(stage, lost, t, closed), stage.0, t));
    }
    let created = rec.clone();
    let moves = states.len() as i64 - 1;
    if moves > 0 {
        let (last, _, t) = &states[states.len() - 1];
        for (k, v) in last {
            rec.insert(k.clone(), v.clone());
        }
        rec.insert("updated_at".into(), at(*t));
        rec.insert("version".into(), json!(1 + moves));
    }
    ctx.sink.record(Entity::Deal, &created, &rec);
    ctx.sink
        .stage_change(id, p.id, None, p.open[0].0, clock.instant(t0), owner, 0);
    for pair in states.windows(2) {
        let ((old, from, prev), (new, to, t)) = (&pair[0], &pair[1]);
        ctx.sink
            .update(Entity::Deal, id, old, new, clock.instant(*t), owner);
        let seconds = (clock.instant(*t) - clock.instant(*prev))
            .num_seconds()
            .max(0);
        ctx.sink.stage_change(
            id,
            p.id,
            Some(*from),
            *to,
            clock.instant(*t),
            owner,
            seconds,
        );
    }
    (id, estimate_at, closed_at)
}
