//! The analytics dashboard and the scheduled-report settings in a real browser, at
//! desktop and phone widths: the figures, the charts, nothing scrolling sideways.

use plotina_core::schema::Entity;
use serde_json::json;

use crate::kit::{Kit, DESKTOP, PHONE};

#[tokio::test]
async fn dashboard_and_schedules_fit_desktop_and_phone() {
    let Some(k) = Kit::start().await else { return };
    let fx = k.app.fx.clone();
    // Won this month: 1 500 000 ₽ and 250 000 ₽ (m1), 40 000 ₽ (m2); one open deal.
    for (user, title, stage, amount) in [
        ("m1", "Котельная «Север»", "Успешно", "1500000"),
        ("m1", "Насосная станция", "Успешно", "250000"),
        ("m2", "Теплотрасса", "Успешно", "40000"),
        ("m2", "Бойлерная", "Квалификация", "90000"),
    ] {
        k.app
            .create(
                user,
                Entity::Deal,
                json!({"title": title, "pipeline_id": fx.pipeline, "stage_id": fx.stage(stage), "amount": amount}),
            )
            .await;
    }
    k.login("admin").await;
    let mut overflow = Vec::new();
    for (label, size) in [("desktop", DESKTOP), ("phone", PHONE)] {
        k.viewport(size).await;
        k.goto("/reports").await;
        k.el("[data-testid=dashboard-won-chart] svg rect").await;
        k.wait_text("[data-testid=kpi-won-count]", "3").await;
        k.wait_text("[data-testid=kpi-won-amount]", "1\u{202f}790\u{202f}000")
            .await;
        k.screenshot(&format!("dashboard-{label}")).await;
        if let Some(o) = k.horizontal_overflow().await {
            overflow.push(format!("dashboard at {label}: {o}"));
        }
        k.goto("/settings/report-schedules").await;
        k.el("[data-testid=schedule-form]").await;
        k.screenshot(&format!("report-schedules-{label}")).await;
        if let Some(o) = k.horizontal_overflow().await {
            overflow.push(format!("schedules at {label}: {o}"));
        }
    }
    // The navigation's «Отчёты» opens the dashboard; a figure opens its deals.
    k.viewport(DESKTOP).await;
    k.goto("/").await;
    k.click("[data-testid=nav-reports]").await;
    k.el("[data-testid=dashboard-kpis]").await;
    k.click("[data-testid=kpi-won-count]").await;
    k.el("[data-testid=list-table] tbody tr").await;
    assert!(k.path().await.starts_with("/deals?filter="));
    assert!(
        overflow.is_empty(),
        "pages scroll sideways:\n{}",
        overflow.join("\n")
    );
    k.finish().await;
}
