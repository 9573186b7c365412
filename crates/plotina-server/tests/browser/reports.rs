//! Report pages in a real browser: the funnel, the dam's water level and the ABC/XYZ
//! matrix on a small data set, at desktop and phone widths, with screenshots.

use chrono::{Datelike, Utc};
use plotina_core::schema::Entity;
use serde_json::json;

use crate::kit::{Kit, DESKTOP, PHONE};

/// Twelve deals moved along the default pipeline, and eight customers buying over the
/// last twelve months (closing dates set directly: SQLite stores RFC 3339 text).
async fn report_data(k: &Kit) {
    let fx = k.app.fx.clone();
    let paths: [&[&str]; 12] = [
        &[
            "Квалификация",
            "Коммерческое предложение",
            "Переговоры",
            "Договор",
            "Успешно",
        ],
        &["Квалификация", "Коммерческое предложение", "Успешно"],
        &["Квалификация", "Договор", "Успешно"],
        &["Квалификация", "Коммерческое предложение", "Переговоры"],
        &["Квалификация", "Коммерческое предложение"],
        &["Квалификация"],
        &["Квалификация"],
        &[],
        &[],
        &["Квалификация", "Коммерческое предложение", "Проиграна"],
        &["Проиграна"],
        &["Квалификация", "Проиграна"],
    ];
    let reasons = ["Дорого", "Выбрали конкурента", "Нет бюджета"];
    for (i, path) in paths.iter().enumerate() {
        let id = k
            .app
            .create(
                "m1",
                Entity::Deal,
                json!({"title": format!("Сделка {}", i + 1), "pipeline_id": fx.pipeline}),
            )
            .await;
        for stage in path.iter() {
            let mut ch = json!({"stage_id": fx.stage(stage)});
            if *stage == "Проиграна" {
                ch["lost_reason"] = json!(reasons[i % 3]);
            }
            k.app.update("m1", Entity::Deal, id, ch).await;
        }
    }
    let now = Utc::now().date_naive();
    let month = |back: i32| {
        let m = now.year() * 12 + now.month0() as i32 - back;
        format!(
            "{:04}-{:02}-15T10:00:00.000Z",
            m.div_euclid(12),
            m.rem_euclid(12) + 1
        )
    };
    let buys: [(&str, &[i32]); 8] = [
        ("Уралмаш", &[11, 8, 5, 2, 0]),
        ("Северсталь", &[10, 9, 1]),
        ("Камаз", &[9]),
        ("Татнефть", &[7, 6, 5, 4]),
        ("Сибур", &[6, 0]),
        ("Лукойл", &[3, 2, 1, 0]),
        ("Норникель", &[11]),
        ("Алроса", &[4, 3]),
    ];
    for (n, (name, months)) in buys.iter().enumerate() {
        let c = k
            .app
            .create("admin", Entity::Company, json!({"name": name}))
            .await;
        for back in months.iter() {
            let amount = 50_000 + 25_000 * ((n as i32 + back) % 5);
            let id = k
                .app
                .create(
                    "m1",
                    Entity::Deal,
                    json!({"title": format!("{name} {back}"), "pipeline_id": fx.pipeline, "company_id": c,
                        "stage_id": fx.stage("Успешно"), "amount": amount.to_string()}),
                )
                .await;
            let mut tx = k.app.store.pool().begin_write().await.expect("begin");
            tx.raw(&format!(
                "UPDATE deals SET closed_at = '{}' WHERE id = {id}",
                month(*back)
            ))
            .await
            .expect("closing date");
            tx.commit().await.expect("commit");
        }
    }
}

#[tokio::test]
async fn report_pages_with_charts_and_screenshots() {
    let Some(k) = Kit::start().await else { return };
    report_data(&k).await;
    k.login("admin").await;
    let mut overflow = Vec::new();
    for (label, size) in [("desktop", DESKTOP), ("phone", PHONE)] {
        k.viewport(size).await;
        k.goto("/reports/funnel").await;
        k.el("[data-testid=funnel-chart] svg rect").await;
        k.wait_text("[data-testid=funnel-summary]", "Сделок 34")
            .await;
        k.screenshot(&format!("report-funnel-{label}")).await;
        if let Some(o) = k.horizontal_overflow().await {
            overflow.push(format!("funnel at {label}: {o}"));
        }
        k.goto("/reports/dam").await;
        k.el("[data-testid=dam-chart] polyline").await;
        k.screenshot(&format!("report-dam-{label}")).await;
        if let Some(o) = k.horizontal_overflow().await {
            overflow.push(format!("dam at {label}: {o}"));
        }
        k.goto("/reports/abc-xyz").await;
        k.el("[data-testid=abc-matrix] rect").await;
        k.wait_text("[data-testid=abc-table]", "Уралмаш").await;
        k.screenshot(&format!("report-abc-xyz-{label}")).await;
        if let Some(o) = k.horizontal_overflow().await {
            overflow.push(format!("abc-xyz at {label}: {o}"));
        }
    }
    // A funnel bar opens the list of the deals behind it.
    k.viewport(DESKTOP).await;
    k.goto("/reports/funnel").await;
    k.click("[data-testid=funnel-chart] a").await;
    k.el("[data-testid=list-table] tbody tr").await;
    assert!(k.path().await.starts_with("/deals?filter="));
    assert!(
        overflow.is_empty(),
        "pages scroll sideways:\n{}",
        overflow.join("\n")
    );
    k.finish().await;
}
