//! `/settings/report-schedules`: reports e-mailed on a schedule — the list with edit and
//! delete, and one form to create or change a schedule, with refusals next to their
//! fields. A report page's "Send by e-mail on schedule" link opens the form filled with
//! that report and its parameters (`?report=funnel&params=…`). The same checks as the
//! API (`api::report_schedules::checked_input`, then the store).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::Router;
use plotina_core::error::FieldError;
use plotina_core::DomainError;
use plotina_store::reports::schedules::{may_schedule, Schedule, ScheduleInput, KINDS};
use plotina_store::StoreError;

use super::lookups::Lookups;
use super::{fmt, redirect, Ctx, FormData, Web, WebError, WebResult};
use crate::api::report_schedules::checked_input;
use crate::error::ApiError;
use crate::state::AppState;

/// The title of a report kind.
pub fn report_label(ctx: &Ctx, kind: &str) -> String {
    let id = match kind {
        "funnel" => "reports-funnel",
        "dam" => "reports-dam",
        "abc-xyz" => "reports-abc-xyz",
        "velocity" => "reports-velocity",
        "forecast" => "reports-forecast",
        "managers" => "reports-rating",
        "by-industry" => "reports-by-industry",
        "overdue-children" => "reports-overdue-children",
        "sources" => "sources-title",
        other => return other.to_string(),
    };
    ctx.t(id)
}

/// The fields the form shows; a refusal of any other (a report parameter) goes next to
/// the parameters.
const FIELDS: [&str; 6] = [
    "report",
    "frequency",
    "day",
    "hour",
    "recipients",
    "enabled",
];

fn field_errors(ctx: &Ctx, errs: &[FieldError]) -> Vec<(String, String)> {
    let i18n = crate::i18n::I18n::get();
    errs.iter()
        .map(|fe| {
            let text = i18n.text(ctx.lang, fe.code, &fe.args);
            if FIELDS.contains(&fe.field.as_str()) {
                (fe.field.clone(), text)
            } else {
                ("params".to_string(), format!("{}: {text}", fe.field))
            }
        })
        .collect()
}

#[derive(Default)]
struct ScheduleForm {
    id: i64,
    report: String,
    params: String,
    frequency: String,
    day: String,
    hour: String,
    recipients: Vec<i64>,
    enabled: bool,
    errors: Vec<(String, String)>,
}

impl ScheduleForm {
    fn blank(report: &str, params: &str) -> ScheduleForm {
        ScheduleForm {
            report: report.into(),
            params: params.into(),
            frequency: "weekly".into(),
            day: "1".into(),
            hour: "8".into(),
            enabled: true,
            ..Default::default()
        }
    }

    fn from_schedule(s: &Schedule) -> ScheduleForm {
        ScheduleForm {
            id: s.id,
            report: s.report.clone(),
            params: s.params.clone(),
            frequency: s.frequency.code().into(),
            day: s.day.to_string(),
            hour: s.hour.to_string(),
            recipients: s.recipients.clone(),
            enabled: s.enabled,
            errors: Vec::new(),
        }
    }

    fn from_form(id: i64, f: &FormData) -> ScheduleForm {
        ScheduleForm {
            id,
            report: f.text("report").trim().into(),
            params: f.text("params").trim().into(),
            frequency: f.text("frequency").trim().into(),
            day: f.text("day").trim().into(),
            hour: f.text("hour").trim().into(),
            recipients: f
                .all("recipients")
                .iter()
                .filter_map(|r| r.trim().parse().ok())
                .collect(),
            enabled: f.text("enabled") == "1",
            errors: Vec::new(),
        }
    }

    /// The input, or `None` with the numbers' refusals recorded.
    fn input(&mut self, ctx: &Ctx) -> Option<ScheduleInput> {
        let day = self.day.parse::<i64>().ok();
        let hour = self.hour.parse::<i64>().ok();
        for (field, value) in [("day", day), ("hour", hour)] {
            if value.is_none() {
                self.errors
                    .push((field.into(), ctx.t("report_schedule_integer")));
            }
        }
        Some(ScheduleInput {
            report: self.report.clone(),
            params: self.params.clone(),
            frequency: self.frequency.clone(),
            day: day?,
            hour: hour?,
            recipients: self.recipients.clone(),
            enabled: self.enabled,
        })
    }

    fn error(&self, field: &str) -> String {
        self.errors
            .iter()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn picked(&self, id: &i64) -> bool {
        self.recipients.contains(id)
    }

    fn action_url(&self) -> String {
        if self.id > 0 {
            format!("/settings/report-schedules/{}", self.id)
        } else {
            "/settings/report-schedules".into()
        }
    }
}

struct Row {
    id: i64,
    report: String,
    params: String,
    when: String,
    recipients: String,
    next_due: String,
    last_sent: String,
    enabled: String,
}

#[derive(Template)]
#[template(path = "settings_report_schedules.html")]
struct SchedulesPage {
    ctx: Ctx,
    rows: Vec<Row>,
    reports: Vec<(&'static str, String)>,
    users: Vec<(i64, String)>,
    form: ScheduleForm,
}

fn allowed(web: &Web) -> Result<(), WebError> {
    if may_schedule(&web.actor) || web.actor.is_admin {
        Ok(())
    } else {
        Err(WebError::Forbidden("report_export_forbidden"))
    }
}

async fn render(s: &AppState, web: &Web, form: ScheduleForm) -> WebResult {
    allowed(web)?;
    let ctx = web.ctx.clone().with_section("settings");
    let lk = Lookups::load(&s.store, &web.actor).await?;
    let name = |id: i64| {
        lk.users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| format!("#{id}"))
    };
    let tz = web.actor.time_zone;
    let when = |t: chrono::DateTime<chrono::Utc>| {
        let local = t.with_timezone(&tz);
        format!(
            "{} {}",
            fmt::date(ctx.lang, local.date_naive()),
            local.format("%H:%M")
        )
    };
    let rows = s
        .store
        .report_schedules(&web.actor)
        .await?
        .iter()
        .map(|sc| Row {
            id: sc.id,
            report: report_label(&ctx, &sc.report),
            params: sc.params.clone(),
            when: match sc.frequency.code() {
                "monthly" => ctx.ta2(
                    "dashboard-schedule-monthly",
                    ("day", sc.day.to_string()),
                    ("hour", format!("{:02}:00 ({})", sc.hour, sc.time_zone)),
                ),
                _ => ctx.ta2(
                    "dashboard-schedule-weekly",
                    ("day", ctx.t(&format!("dashboard-weekday-{}", sc.day))),
                    ("hour", format!("{:02}:00 ({})", sc.hour, sc.time_zone)),
                ),
            },
            recipients: sc
                .recipients
                .iter()
                .map(|r| name(*r))
                .collect::<Vec<_>>()
                .join(", "),
            next_due: if sc.enabled {
                when(sc.next_due)
            } else {
                "—".into()
            },
            last_sent: sc.last_sent_at.map(when).unwrap_or_else(|| "—".into()),
            enabled: fmt::yes_no(&ctx, sc.enabled),
        })
        .collect();
    let status = if form.errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = SchedulesPage {
        rows,
        reports: KINDS.iter().map(|k| (*k, report_label(&ctx, k))).collect(),
        users: lk
            .users
            .iter()
            .filter(|u| u.active)
            .map(|u| (u.id, u.name.clone()))
            .collect(),
        form,
        ctx,
    };
    super::html_status(status, &page)
}

async fn page(State(s): State<AppState>, web: Web, RawQuery(raw): RawQuery) -> WebResult {
    let q = FormData::parse(raw.as_deref().unwrap_or("").as_bytes());
    let form = ScheduleForm::blank(q.text("report"), q.text("params"));
    render(&s, &web, form).await
}

fn schedule_id(id: &str) -> Result<i64, WebError> {
    id.parse().ok().filter(|i| *i > 0).ok_or(WebError::NotFound)
}

async fn edit(State(s): State<AppState>, web: Web, Path(id): Path<String>) -> WebResult {
    allowed(&web)?;
    let sc = s
        .store
        .report_schedule(&web.actor, schedule_id(&id)?)
        .await?;
    render(&s, &web, ScheduleForm::from_schedule(&sc)).await
}

async fn save(s: &AppState, web: &Web, id: i64, body: &[u8]) -> WebResult {
    allowed(web)?;
    if id > 0 {
        s.store.report_schedule(&web.actor, id).await?;
    }
    let form = web.form(body)?;
    let mut sf = ScheduleForm::from_form(id, &form);
    let Some(input) = sf.input(&web.ctx) else {
        return render(s, web, sf).await;
    };
    let checked = match checked_input(&s.store, &web.actor, input).await {
        Ok(i) => i,
        Err(ApiError::Domain(DomainError::Invalid(errs))) => {
            sf.errors = field_errors(&web.ctx, &errs);
            return render(s, web, sf).await;
        }
        Err(e) => return Err(e.into()),
    };
    let now = plotina_core::value::now();
    let saved = if id > 0 {
        s.store
            .update_report_schedule(&web.actor, id, &checked, now)
            .await
    } else {
        s.store
            .create_report_schedule(&web.actor, &checked, now)
            .await
    };
    match saved {
        Ok(_) => Ok(redirect("/settings/report-schedules")),
        Err(StoreError::Domain(DomainError::Invalid(errs))) => {
            sf.errors = field_errors(&web.ctx, &errs);
            render(s, web, sf).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn create(State(s): State<AppState>, web: Web, body: Bytes) -> WebResult {
    save(&s, &web, 0, &body).await
}

async fn update(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    let id = schedule_id(&id)?;
    save(&s, &web, id, &body).await
}

async fn delete(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult {
    web.form(&body)?;
    s.store
        .delete_report_schedule(&web.actor, schedule_id(&id)?)
        .await?;
    Ok(redirect("/settings/report-schedules"))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/report-schedules", get(page).post(create))
        .route("/settings/report-schedules/{id}", get(edit).post(update))
        .route("/settings/report-schedules/{id}/delete", post(delete))
}

impl super::reports::ParamsForm {
    /// The schedule form filled with this report and the parameters on its page.
    pub fn schedule_href(&self) -> String {
        let kind = match self.action {
            "/reports/dam" => "dam",
            "/reports/abc-xyz" => "abc-xyz",
            "/reports/velocity" => "velocity",
            "/reports/forecast" => "forecast",
            "/reports/rating" => "managers",
            "/reports/operations" => "by-industry",
            "/reports/sources" => "sources",
            _ => "funnel",
        };
        let selected = |opts: &[super::fields::Opt]| {
            opts.iter()
                .filter(|o| o.selected)
                .map(|o| o.value.clone())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut pairs = vec![
            ("pipeline", selected(&self.pipelines)),
            ("owner", selected(&self.owners)),
            ("department", selected(&self.departments)),
            ("period_from", self.period_from.clone()),
            ("period_to", self.period_to.clone()),
            ("filter", self.filter.clone()),
        ];
        if self.dam {
            pairs.push(("lost_after", self.lost_after.clone()));
            pairs.push(("target", self.target.clone()));
        }
        if self.velocity {
            pairs.push(("idle_days", self.idle_days.clone()));
        }
        if self.abc {
            pairs.push(("abc_by", self.abc_by.clone()));
        }
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let params = super::urls::query(&refs);
        let params = params.strip_prefix('?').unwrap_or(&params);
        format!(
            "/settings/report-schedules{}",
            super::urls::query(&[("report", kind), ("params", params)])
        )
    }
}
