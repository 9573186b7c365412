//! The analytics dashboard (`/reports`) on a hand-built data set: the figures of this
//! month against last month, written out by hand, for an administrator, a head and a
//! manager (whose page leaves out another manager's deals).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use plotina_core::schema::Entity;
use plotina_store::reports::forecast::PlanTarget;
use sea_query::{Alias, Expr, Query, Value as SqlValue};
use serde_json::json;

use crate::helpers::{apps, TestApp};

fn months_back(d: NaiveDate, n: i32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 - n;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).unwrap()
}

/// Noon (UTC) of the 10th of a month: inside the month in UTC and in Moscow.
fn tenth(first: NaiveDate) -> DateTime<Utc> {
    (first + Duration::days(9))
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
}

async fn set(app: &TestApp, table: &str, id: i64, values: &[(&str, SqlValue)]) {
    let mut tx = app.store.pool().begin_write().await.expect("begin");
    let mut q = Query::update();
    q.table(Alias::new(table));
    for (c, v) in values {
        q.value(Alias::new(*c), v.clone());
    }
    q.and_where(Expr::col(Alias::new("id")).eq(id));
    tx.execute(&q).await.expect("update");
    tx.commit().await.expect("commit");
}

fn ts(app: &TestApp, t: DateTime<Utc>) -> SqlValue {
    match app.store.backend() {
        plotina_store::Backend::Sqlite => plotina_core::value::format_datetime(t).into(),
        plotina_store::Backend::Postgres => t.into(),
    }
}

/// `data-value` of a figure on the page.
fn figure(body: &str, key: &str) -> Option<String> {
    let at = body.find(&format!("data-testid=\"kpi-{key}\""))?;
    let rest = &body[at..];
    let v = rest.find("data-value=\"")? + "data-value=\"".len();
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_string())
}

#[tokio::test]
async fn dashboard_figures_follow_the_period_and_the_role() {
    for app in apps().await {
        let fx = &app.fx;
        let today = Utc::now()
            .with_timezone(&chrono_tz::Europe::Moscow)
            .date_naive();
        let this_month = months_back(today, 0);
        let (cur, prev, old) = (
            tenth(this_month),
            tenth(months_back(today, 1)),
            tenth(months_back(today, 3)),
        );
        // Probabilities: only «Квалификация» 20 % and «Договор» 80 %.
        let mut tx = app.store.pool().begin_write().await.unwrap();
        tx.execute(
            Query::update()
                .table(Alias::new("stages"))
                .value(Alias::new("probability"), Option::<i64>::None),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        set(
            &app,
            "stages",
            fx.stage("Квалификация"),
            &[("probability", 20i64.into())],
        )
        .await;
        set(
            &app,
            "stages",
            fx.stage("Договор"),
            &[("probability", 80i64.into())],
        )
        .await;

        // (owner, title, stage, roubles, created, closed, own probability)
        let deals = [
            ("m1", "w1", "Успешно", "1000", cur, Some(cur), None),
            ("m1", "w2", "Успешно", "500", prev, Some(cur), None),
            ("m2", "w3", "Успешно", "2000", cur, Some(cur), None),
            ("m1", "w4", "Успешно", "700", prev, Some(prev), None),
            ("m1", "w5", "Успешно", "300", old, Some(old), None),
            ("m1", "l1", "Проиграна", "400", cur, Some(cur), None),
            ("m1", "l2", "Проиграна", "100", prev, Some(prev), None),
            ("m1", "o1", "Квалификация", "2000", cur, None, None),
            ("m1", "o2", "Договор", "5000", prev, None, Some(50)),
            ("m2", "o3", "Новая", "1000", cur, None, None),
        ];
        let mut ids = std::collections::BTreeMap::new();
        for (user, title, stage, amount, created, closed, prob) in deals {
            let mut body = json!({"title": title, "pipeline_id": fx.pipeline, "stage_id": fx.stage(stage), "amount": amount});
            if stage == "Проиграна" {
                body["lost_reason"] = json!("Дорого");
            }
            if let Some(p) = prob {
                body["probability"] = json!(p);
            }
            let id = app.create(user, Entity::Deal, body).await;
            let mut values = vec![("created_at", ts(&app, created))];
            if let Some(c) = closed {
                values.push(("closed_at", ts(&app, c)));
            }
            set(&app, "deals", id, &values).await;
            ids.insert(title, id);
        }
        let now = Utc::now();
        let due = |t: DateTime<Utc>| plotina_core::value::format_datetime(t);
        // Overdue: m1's task on o2 and m2's task; m1's done task is not.
        app.create("m1", Entity::Activity, json!({"kind": "task", "subject": "Позвонить", "deal_id": ids["o2"], "due_at": due(now - Duration::days(1))})).await;
        app.create("m1", Entity::Activity, json!({"kind": "task", "subject": "Готово", "done": true, "due_at": due(now - Duration::days(2))})).await;
        app.create("m2", Entity::Activity, json!({"kind": "task", "subject": "Отправить КП", "due_at": due(now - Duration::hours(1))})).await;
        // m1's plan for this month: 3000 ₽.
        app.store
            .set_plan(
                &fx.admin,
                &this_month.format("%Y-%m").to_string(),
                PlanTarget::User(fx.m1.user_id),
                Some(300_000),
            )
            .await
            .unwrap();

        // The administrator: everything.
        // Won this month: w1 1000 + w2 500 + w3 2000 = 3500 ₽ (3 deals); lost l1; win rate
        // 3 / 4. New this month: w1, w3, l1, o1, o3. Open: o1 2000 × 20 % + o2 5000 × its own
        // 50 % + o3 1000 × 0 = 2900 ₽. Overdue tasks: 2. Open deals without an open
        // activity: o1, o3. Last month: w4 700 ₽, lost l2 → 1 / 2; new w2, l2, o2.
        let admin = app.browser("admin").await;
        let page = admin.get("/reports").await;
        assert_eq!(page.status, 200, "{} {}", app.backend, page.body);
        let b = &page.body;
        for (key, want) in [
            ("won-amount", "350000"),
            ("won-count", "3"),
            ("new-deals", "5"),
            ("win-rate", "0.75"),
            ("weighted", "290000"),
            ("overdue", "2"),
            ("no-next-step", "2"),
        ] {
            assert_eq!(
                figure(b, key).as_deref(),
                Some(want),
                "admin {key} on {}",
                app.backend
            );
        }
        assert_eq!(figure(b, "plan"), None, "no company-wide plan");
        assert!(page.has("Период раньше: 700\u{a0}₽"), "{b}");
        assert!(page.has("Период раньше: 50.0 %"));
        assert!(
            page.has(r#"data-testid="dashboard-won-chart""#)
                && page.has(r#"data-testid="dashboard-funnel""#)
        );
        // The won chart: w5's month has its bar, 300 ₽, one deal.
        assert!(
            page.has(&format!("{}: 300,00\u{a0}₽ (1)", old.format("%Y-%m"))),
            "{b}"
        );
        assert!(page.has(&format!(
            "{}: 3\u{202f}500,00\u{a0}₽ (3)",
            this_month.format("%Y-%m")
        )));
        // Every figure opens the records behind it.
        let won = b.find("data-testid=\"kpi-won-count\"").unwrap();
        let href_start = b[..won].rfind("href=\"").unwrap() + 6;
        let href = b[href_start..won]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&");
        let list = admin.get(&href).await;
        assert_eq!(list.status, 200, "{href}");
        for t in ["w1", "w2", "w3"] {
            assert!(list.body.contains(&format!(">{t}<")), "{t} in {href}");
        }
        assert!(!list.body.contains(">w4<") && !list.body.contains(">l1<"));

        // The head: the department «Продажи» with «Продажи Урал» — both managers.
        let head = app.browser("head").await;
        let page = head.get("/reports").await;
        assert_eq!(page.status, 200);
        assert!(
            page.has(&format!(r#"<option value="{}" selected>"#, fx.sales_dept)),
            "department preselected"
        );
        assert_eq!(figure(&page.body, "won-amount").as_deref(), Some("350000"));
        assert_eq!(figure(&page.body, "overdue").as_deref(), Some("2"));

        // The manager m1: only own deals and tasks. Won w1 + w2 = 1500 ₽ (2), lost l1 →
        // 2 / 3; new w1, l1, o1; open o1 and o2 → 2900 ₽; overdue 1; without a next step
        // o1. Plan 3000 ₽ → half done.
        let m1 = app.browser("m1").await;
        let page = m1.get("/reports").await;
        assert_eq!(page.status, 200);
        for (key, want) in [
            ("won-amount", "150000"),
            ("won-count", "2"),
            ("new-deals", "3"),
            ("win-rate", "0.6667"),
            ("weighted", "290000"),
            ("plan", "0.5"),
            ("overdue", "1"),
            ("no-next-step", "1"),
        ] {
            assert_eq!(
                figure(&page.body, key).as_deref(),
                Some(want),
                "m1 {key} on {}",
                app.backend
            );
        }
        // The won chart's bar of this month: w1 + w2 only, not m2's w3.
        let month = this_month.format("%Y-%m");
        assert!(
            page.has(&format!("{month}: 1\u{202f}500,00\u{a0}₽ (2)")),
            "{}",
            page.body
        );
        assert!(!page.has(&format!("{month}: 3\u{202f}500,00\u{a0}₽ (3)")));
        // Even asking for everyone, m1 reads only own deals.
        let page = m1.get(&format!("/reports?owner={}", fx.m2.user_id)).await;
        assert_eq!(figure(&page.body, "won-amount").as_deref(), Some("0"));

        // A refused period is the page's error line, not a failure.
        let bad = admin
            .get("/reports?period_from=2026-03-02&period_to=2026-03-01")
            .await;
        assert_eq!(bad.status, 200);
        assert!(bad.has("Период заканчивается раньше, чем начинается"));
    }
}

#[tokio::test]
async fn schedules_are_kept_in_the_settings() {
    for app in apps().await {
        let fx = &app.fx;
        let head = app.browser("head").await;
        // The funnel page offers its parameters to the schedule form.
        let funnel = head
            .get(&format!(
                "/reports/funnel?pipeline={}&period_from=2026-01-01",
                fx.pipeline
            ))
            .await;
        let link = format!(
            "/settings/report-schedules?report=funnel&#38;params=pipeline%3D{}%26period_from%3D2026-01-01",
            fx.pipeline
        );
        assert!(funnel.has(&link), "{}", funnel.body);
        let form = head.get(&link.replace("&#38;", "&")).await;
        assert_eq!(form.status, 200);
        assert!(form.has(&format!(
            r#"value="pipeline={}&#38;period_from=2026-01-01""#,
            fx.pipeline
        )));

        // Refusals are shown next to their fields, in the user's language.
        let m1 = fx.m1.user_id.to_string();
        let bad = head
            .post(
                "/settings/report-schedules",
                &[
                    ("report", "funnel"),
                    ("params", "period_from=2026-13-01"),
                    ("frequency", "weekly"),
                    ("day", "9"),
                    ("hour", "8"),
                    ("enabled", "1"),
                ],
            )
            .await;
        assert_eq!(bad.status, 422, "{}", bad.body);
        // Every refusal at once: the day, the missing recipients and the bad date.
        assert!(
            bad.has(r#"data-field="day""#) && bad.has("День — от 1 до 7"),
            "{}",
            bad.body
        );
        assert!(
            bad.has(r#"data-field="recipients""#) && bad.has("Выберите хотя бы одного получателя")
        );
        assert!(bad.has(r#"data-field="params""#));
        let bad = head
            .post(
                "/settings/report-schedules",
                &[
                    ("report", "funnel"),
                    ("params", "period_from=2026-13-01"),
                    ("frequency", "weekly"),
                    ("day", "1"),
                    ("hour", "8"),
                    ("recipients", &m1),
                    ("enabled", "1"),
                ],
            )
            .await;
        assert_eq!(bad.status, 422);
        assert!(
            bad.has(r#"data-field="params""#) && bad.has("Это не дата"),
            "{}",
            bad.body
        );

        let ok = head
            .post(
                "/settings/report-schedules",
                &[
                    ("report", "forecast"),
                    ("params", ""),
                    ("frequency", "monthly"),
                    ("day", "31"),
                    ("hour", "9"),
                    ("recipients", &m1),
                    ("enabled", "1"),
                ],
            )
            .await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        let list = head.get("/settings/report-schedules").await;
        assert!(list.has(r#"data-testid="schedule-row""#));
        assert!(
            list.has("Прогноз") && list.has("Менеджер Первый"),
            "{}",
            list.body
        );
        assert!(list.has("Ежемесячно, 31-го числа, в 09:00 (Europe/Moscow)"));
        let s = app.store.report_schedules(&fx.head).await.unwrap();
        assert_eq!((s.len(), s[0].day, s[0].hour), (1, 31, 9));

        // Another manager's settings do not offer it; a manager may not schedule.
        let m1b = app.browser("m1").await;
        assert_eq!(m1b.get("/settings/report-schedules").await.status, 403);
        let admin = app.browser("admin").await;
        assert!(admin.get("/settings/report-schedules").await.has("Прогноз"));
        let edit = admin
            .get(&format!("/settings/report-schedules/{}", s[0].id))
            .await;
        assert_eq!(edit.status, 200);
        let gone = head
            .post(
                &format!("/settings/report-schedules/{}/delete", s[0].id),
                &[],
            )
            .await;
        assert_eq!(gone.status, 303);
        assert!(app
            .store
            .report_schedules(&fx.admin)
            .await
            .unwrap()
            .is_empty());
    }
}
