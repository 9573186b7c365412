//! Stored customer classes on pages: the panel of a company card (the class, what it
//! was before the last calculation, the override and its form for administrators and
//! heads, the history), the stored class and its change on the ABC/XYZ report, and the
//! "recalculate now" button (`POST /reports/abc-xyz/recalculate`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use plotina_core::schema::Entity;
use plotina_core::DomainError;
use plotina_store::reports::classes::{may_classify, ClassChange, Override, StoredClass};
use plotina_store::StoreError;

use super::fields::Opt;
use super::forms::parse_id;
use super::lookups::Lookups;
use super::{fmt, redirect, urls, Ctx, Web, WebResult};
use crate::state::AppState;

/// The class panel of a company card.
pub struct ClassPanel {
    /// The effective class, "A / X", or "—".
    pub class: String,
    pub overridden: bool,
    /// "Set by hand: … (who, when)" when overridden.
    pub override_note: String,
    /// The computed class when an override hides it.
    pub computed: String,
    /// "Was B / Y until 01.10.2026" when the last calculation changed the class.
    pub previous: String,
    pub figures: String,
    pub history: Vec<String>,
    pub can_override: bool,
    pub abc_options: Vec<Opt>,
    pub xyz_options: Vec<Opt>,
    pub reason: String,
    pub error: String,
}

fn pair(abc: Option<char>, xyz: Option<char>) -> String {
    match (abc, xyz) {
        (None, None) => "—".into(),
        (a, x) => format!(
            "{} / {}",
            a.map_or("—".into(), String::from),
            x.map_or("—".into(), String::from)
        ),
    }
}

fn options(ctx: &Ctx, letters: &str, current: Option<char>) -> Vec<Opt> {
    let mut out = vec![Opt {
        value: String::new(),
        label: ctx.t("abc-override-none"),
        selected: current.is_none(),
        ..Default::default()
    }];
    for c in letters.chars() {
        out.push(Opt {
            value: c.to_string(),
            label: c.to_string(),
            selected: current == Some(c),
            ..Default::default()
        });
    }
    out
}

/// "was B / Y until 01.10.2026" for a calculation's change, "" when it was the first.
pub fn previous_text(ctx: &Ctx, c: &ClassChange) -> String {
    if c.old_abc.is_none() && c.old_xyz.is_none() {
        return ctx.t("abc-first-class");
    }
    crate::i18n::t_args(
        ctx.lang,
        "abc-was",
        &[
            ("class", pair(c.old_abc, c.old_xyz)),
            ("date", fmt::date(ctx.lang, c.changed_at.date_naive())),
        ],
    )
}

fn history_line(ctx: &Ctx, lk: &Lookups, c: &ClassChange) -> String {
    let who = c
        .changed_by
        .and_then(|u| lk.user(u))
        .map(|u| format!(" · {u}"))
        .unwrap_or_default();
    let reason = c
        .reason
        .as_deref()
        .map(|r| format!(" · «{r}»"))
        .unwrap_or_default();
    format!(
        "{} · {}: {} → {}{who}{reason}",
        fmt::date(ctx.lang, c.changed_at.date_naive()),
        ctx.t(&format!("abc-change-{}", c.kind)),
        pair(c.old_abc, c.old_xyz),
        pair(c.new_abc, c.new_xyz),
    )
}

/// The panel of company `id` (already read by the caller, so the actor may read it).
pub async fn panel(
    s: &AppState,
    web: &Web,
    ctx: &Ctx,
    lk: &Lookups,
    id: i64,
    form: Option<(&Override, String)>,
) -> Result<ClassPanel, StoreError> {
    let (current, history) = s.store.customer_class(&web.actor, id).await?;
    let c = current.as_ref();
    let cur = |f: fn(&StoredClass) -> Option<char>| c.and_then(f);
    let overridden = cur(|c| c.override_abc).is_some() || cur(|c| c.override_xyz).is_some();
    let override_note = match c {
        Some(c) if overridden => crate::i18n::t_args(
            ctx.lang,
            "abc-override-note",
            &[
                ("reason", c.override_reason.clone().unwrap_or_default()),
                (
                    "who",
                    c.override_by
                        .and_then(|u| lk.user(u))
                        .unwrap_or_default()
                        .to_string(),
                ),
                (
                    "date",
                    c.override_at
                        .map(|t| fmt::date(ctx.lang, t.date_naive()))
                        .unwrap_or_default(),
                ),
            ],
        ),
        _ => String::new(),
    };
    let figures = match c {
        Some(c) if c.computed_abc.is_some() => crate::i18n::t_args(
            ctx.lang,
            "abc-figures",
            &[
                ("revenue", fmt::money_minor(ctx.lang, c.revenue, "RUB")),
                ("share", super::reports::percent(Some(c.share))),
                ("cv", super::reports::percent(Some(c.cv))),
                (
                    "date",
                    c.calculated_at
                        .map(|t| fmt::date(ctx.lang, t.date_naive()))
                        .unwrap_or_default(),
                ),
            ],
        ),
        _ => String::new(),
    };
    let (abc_sel, xyz_sel, reason, error) = match form {
        Some((o, error)) => (o.abc, o.xyz, o.reason.clone(), error),
        None => (
            cur(|c| c.override_abc),
            cur(|c| c.override_xyz),
            c.and_then(|c| c.override_reason.clone())
                .unwrap_or_default(),
            String::new(),
        ),
    };
    Ok(ClassPanel {
        class: pair(cur(|c| c.abc), cur(|c| c.xyz)),
        overridden,
        override_note,
        computed: if overridden {
            pair(cur(|c| c.computed_abc), cur(|c| c.computed_xyz))
        } else {
            String::new()
        },
        previous: c
            .and_then(|c| c.previous.as_ref())
            .map(|p| previous_text(ctx, p))
            .unwrap_or_default(),
        figures,
        history: history
            .iter()
            .take(20)
            .map(|h| history_line(ctx, lk, h))
            .collect(),
        can_override: may_classify(&web.actor),
        abc_options: options(ctx, "ABC", abc_sel),
        xyz_options: options(ctx, "XYZ", xyz_sel),
        reason,
        error,
    })
}

fn letter(v: &str) -> Option<char> {
    v.trim().chars().next()
}

/// `POST /companies/{id}/customer-class`: set or clear (both "—") the override.
async fn save_override(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    let id = parse_id(&id)?;
    let form = web.form(&body)?;
    let o = Override {
        abc: letter(form.text("abc")),
        xyz: letter(form.text("xyz")),
        reason: form.text("reason").to_string(),
    };
    match s
        .store
        .set_customer_class_override(&web.actor, id, &o)
        .await
    {
        Ok(_) => Ok(redirect(&format!(
            "{}#customer-class",
            urls::card(Entity::Company, id)
        ))),
        Err(StoreError::Domain(DomainError::Invalid(errs))) => {
            let i18n = crate::i18n::I18n::get();
            let text = errs
                .iter()
                .map(|fe| i18n.text(web.ctx.lang, fe.code, &fe.args))
                .collect::<Vec<_>>()
                .join("; ");
            let mut resp = super::cards::card_with_class_form(s, web, id, (o, text)).await?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /reports/abc-xyz/recalculate`: a calculation now, back to the report.
async fn recalculate(State(s): State<AppState>, web: Web, body: Bytes) -> WebResult {
    let form = web.form(&body)?;
    let settings = s
        .config
        .reports
        .class_settings()
        .map_err(StoreError::Internal)?;
    let run = s
        .store
        .recalculate_customer_classes(
            Some(&web.actor),
            &settings,
            plotina_core::value::now(),
            "web",
        )
        .await?;
    let back = urls::safe_next(form.text("back"));
    let sep = if back.contains('?') { '&' } else { '?' };
    Ok(redirect(&format!("{back}{sep}recalculated={}", run.id)))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/companies/{id}/customer-class", post(save_override))
        .route("/reports/abc-xyz/recalculate", post(recalculate))
}

/// A report row's stored class (effective, with an override flag) and its change in
/// the last calculation: "B / Y → A / Z", "new", or "=" when it did not change.
pub fn report_cells(ctx: &Ctx, c: Option<&StoredClass>) -> (String, bool, String) {
    let Some(c) = c else {
        return ("—".into(), false, String::new());
    };
    let overridden = c.override_abc.is_some() || c.override_xyz.is_some();
    let change = match &c.previous {
        Some(p) if p.old_abc.is_none() && p.old_xyz.is_none() => ctx.t("abc-change-new"),
        Some(p) => format!(
            "{} → {}",
            pair(p.old_abc, p.old_xyz),
            pair(p.new_abc, p.new_xyz)
        ),
        None if c.run_id.is_some() => "=".into(),
        None => String::new(),
    };
    (pair(c.abc, c.xyz), overridden, change)
}

/// "Last calculation: 01.10.2026 10:00 · 273 customers, 12 changed" for the report page.
pub async fn last_run_text(s: &AppState, ctx: &Ctx) -> Result<String, StoreError> {
    Ok(match s.store.customer_class_runs(1).await?.first() {
        Some(r) => crate::i18n::t_args(
            ctx.lang,
            "abc-last-run",
            &[
                ("date", fmt::datetime(ctx, r.calculated_at)),
                ("customers", r.customers.to_string()),
                ("changed", r.changed.to_string()),
            ],
        ),
        None => ctx.t("abc-never-run"),
    })
}
