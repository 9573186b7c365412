//! Reports on a small hand-built data set, on every backend `testing::all()` provides.
//! The expected figures are worked out by hand in the comments next to them.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use plotina_core::error::DomainError;
use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use plotina_store::db::{Backend, Tx};
use plotina_store::reports::funnel::{Funnel, ReasonCount};
use plotina_store::reports::ReportParams;
use plotina_store::testing::{self, Fixtures};
use plotina_store::{Store, StoreError};
use sea_query::{Alias, Query, Value as SqlValue};
use serde_json::{json, Map, Value as Json};

fn obj(v: Json) -> Map<String, Json> {
    v.as_object().cloned().unwrap_or_default()
}

/// An instant as the engines store it: bound as an instant, so SQLite gets the same
/// text every writer of the application stores (`2026-03-01T05:00:00+00:00`).
fn ts(_backend: Backend, s: &str) -> SqlValue {
    let t: DateTime<Utc> = s.parse().expect("timestamp");
    t.into()
}

/// Creates a deal in its final stage, then replaces its stage history by `path`: the
/// stages it went through, each with the seconds spent there before the next move.
#[allow(clippy::too_many_arguments)]
async fn deal(
    store: &Store,
    actor: &Actor,
    fx: &Fixtures,
    title: &str,
    created: &str,
    amount: Option<i64>,
    lost_reason: Option<&str>,
    path: &[(&str, i64)],
) -> i64 {
    let last = path.last().expect("a path").0;
    let mut body = json!({"title": title, "pipeline_id": fx.pipeline, "stage_id": fx.stage(last)});
    if let Some(a) = amount {
        body["amount"] = json!(a.to_string());
    }
    if let Some(r) = lost_reason {
        body["lost_reason"] = json!(r);
    }
    let (rec, _) = store
        .create(actor, Entity::Deal, &obj(body), None)
        .await
        .unwrap_or_else(|e| panic!("create {title}: {e:?}"));
    let id = rec["id"].as_i64().expect("id");
    let backend = store.backend();
    let mut tx: Tx = store.pool().begin_write().await.expect("begin");
    tx.execute(
        Query::delete()
            .from_table(Alias::new("stage_changes"))
            .and_where(sea_query::Expr::col(Alias::new("deal_id")).eq(id)),
    )
    .await
    .expect("clear history");
    tx.execute(
        Query::update()
            .table(Alias::new("deals"))
            .value(Alias::new("created_at"), ts(backend, created))
            .and_where(sea_query::Expr::col(Alias::new("id")).eq(id)),
    )
    .await
    .expect("set created_at");
    let mut prev: Option<(i64, i64)> = None;
    for (stage, secs) in path {
        let to = fx.stage(stage);
        let mut ins = Query::insert();
        ins.into_table(Alias::new("stage_changes"))
            .columns(
                [
                    "deal_id",
                    "pipeline_id",
                    "from_stage_id",
                    "to_stage_id",
                    "changed_at",
                    "seconds_in_previous",
                ]
                .map(Alias::new),
            )
            .values_panic([
                id.into(),
                fx.pipeline.into(),
                prev.map(|p| p.0).into(),
                to.into(),
                ts(backend, created).into(),
                prev.map(|p| p.1).into(),
            ]);
        tx.execute(&ins).await.expect("history row");
        prev = Some((to, *secs));
    }
    tx.commit().await.expect("commit");
    id
}

const N: &str = "Новая";
const Q: &str = "Квалификация";
const K: &str = "Коммерческое предложение";
const P: &str = "Переговоры";
const D: &str = "Договор";
const W: &str = "Успешно";
const L: &str = "Проиграна";

/// The funnel data set (default pipeline N → Q → K → P → D → W, lost L), all created
/// on 2026-03-10 except d8. The number after a stage is the seconds spent in it before
/// the next move (the last stage's is ignored: that stay is not finished).
/// - d1 (m1, 5000): N100 Q200 K300 P400 D500 W — won
/// - d2 (m1): N200 Q400 K600 L «Дорого»
/// - d3 (m1, 3000): N300 D700 W — won, skipped Q, K, P
/// - d4 (m1): N400 Q — open
/// - d5 (m1): N500 L «Не отвечает»
/// - d6 (m1): N600 Q100 K50 Q — moved back, open
/// - d7 (m2): N50 L «Выбрали конкурента»
/// - d8 (m1): created 2025-01-15, N10 W — outside the period
async fn funnel_data(store: &Store, fx: &Fixtures) -> Vec<i64> {
    let day = "2026-03-10T09:00:00Z";
    let m1 = &fx.m1;
    vec![
        deal(
            store,
            m1,
            fx,
            "d1",
            day,
            Some(5000),
            None,
            &[(N, 100), (Q, 200), (K, 300), (P, 400), (D, 500), (W, 0)],
        )
        .await,
        deal(
            store,
            m1,
            fx,
            "d2",
            day,
            None,
            Some("Дорого"),
            &[(N, 200), (Q, 400), (K, 600), (L, 0)],
        )
        .await,
        deal(
            store,
            m1,
            fx,
            "d3",
            day,
            Some(3000),
            None,
            &[(N, 300), (D, 700), (W, 0)],
        )
        .await,
        deal(store, m1, fx, "d4", day, None, None, &[(N, 400), (Q, 0)]).await,
        deal(
            store,
            m1,
            fx,
            "d5",
            day,
            None,
            Some("Не отвечает"),
            &[(N, 500), (L, 0)],
        )
        .await,
        deal(
            store,
            m1,
            fx,
            "d6",
            day,
            None,
            None,
            &[(N, 600), (Q, 100), (K, 50), (Q, 0)],
        )
        .await,
        deal(
            store,
            &fx.m2,
            fx,
            "d7",
            day,
            None,
            Some("Выбрали конкурента"),
            &[(N, 50), (L, 0)],
        )
        .await,
        deal(
            store,
            m1,
            fx,
            "d8",
            "2025-01-15T09:00:00Z",
            None,
            None,
            &[(N, 10), (W, 0)],
        )
        .await,
    ]
}

fn march() -> ReportParams {
    ReportParams {
        period_from: NaiveDate::from_ymd_opt(2026, 3, 1),
        period_to: NaiveDate::from_ymd_opt(2026, 3, 31),
        ..Default::default()
    }
}

/// (name, reached, skipped, to next, to won, stays, median, p90, in progress, dropped)
type Row = (
    &'static str,
    i64,
    i64,
    Option<f64>,
    Option<f64>,
    i64,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
);

fn rows(f: &Funnel) -> Vec<Row> {
    f.stages
        .iter()
        .map(|s| {
            let name: &'static str = [N, Q, K, P, D, W]
                .into_iter()
                .find(|n| *n == s.name)
                .expect("known stage");
            (
                name,
                s.reached,
                s.skipped,
                s.conversion_next,
                s.conversion_won,
                s.stays,
                s.median_seconds,
                s.p90_seconds,
                s.in_progress,
                s.dropped,
            )
        })
        .collect()
}

fn rc(reason: &str, count: i64) -> ReasonCount {
    ReasonCount {
        reason: reason.into(),
        count,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funnel_from_stage_history() {
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let ids = funnel_data(&store, &fx).await;

        // The administrator sees d1..d7 (d8 is outside March).
        // Furthest stage: d1 W, d2 K, d3 W, d4 Q, d5 N, d6 K, d7 N.
        // Reached: N 7; Q 5 (d1 d2 d3 d4 d6); K 4 (d1 d2 d3 d6); P 2; D 2; W 2.
        // Skipped: d3 jumped N → D, so it is counted (and skipped) in Q, K and P.
        // Stays in N: 50 100 200 300 400 500 600 → median rank ceil(3.5) = 4 → 300,
        //   p90 rank ceil(6.3) = 7 → 600. Q: 100 200 400 → 200, 400 (d6's second stay
        //   in Q is unfinished). K: 50 300 600 → 300, 600. P: 400. D: 500 700 → rank 1
        //   → 500, p90 rank ceil(1.8) = 2 → 700.
        // In progress: d4 in Q (furthest Q), d6 in Q but furthest K → counted at K.
        // Dropped: d5, d7 at N; d2 at K.
        let f = store
            .report_funnel(&fx.admin, &march())
            .await
            .expect("funnel");
        assert_eq!(f.pipeline_id, fx.pipeline);
        assert_eq!((f.deals, f.won, f.lost, f.open), (7, 2, 3, 2));
        assert_eq!(
            rows(&f),
            vec![
                (
                    N,
                    7,
                    0,
                    Some(0.7143),
                    Some(0.2857),
                    7,
                    Some(300),
                    Some(600),
                    0,
                    2
                ),
                (Q, 5, 1, Some(0.8), Some(0.4), 3, Some(200), Some(400), 1, 0),
                (K, 4, 1, Some(0.5), Some(0.5), 3, Some(300), Some(600), 1, 1),
                (P, 2, 1, Some(1.0), Some(1.0), 1, Some(400), Some(400), 0, 0),
                (D, 2, 0, Some(1.0), Some(1.0), 2, Some(500), Some(700), 0, 0),
                (W, 2, 0, None, None, 0, None, None, 0, 0),
            ]
        );
        assert_eq!(
            f.lost_reasons,
            vec![
                rc("Выбрали конкурента", 1),
                rc("Дорого", 1),
                rc("Не отвечает", 1)
            ]
        );
        assert_eq!(
            f.stages[0].lost_reasons,
            vec![rc("Выбрали конкурента", 1), rc("Не отвечает", 1)]
        );
        assert_eq!(f.stages[2].lost_reasons, vec![rc("Дорого", 1)]);
        assert_eq!(f.stages[2].dropped_ids, vec![ids[1]]);
        assert_eq!(f.stages[5].reached_ids, vec![ids[0], ids[2]]);
        assert_eq!(f.stages[2].in_progress_ids, vec![ids[5]]);

        // m1 may read own deals only: d7 (m2's) is not in m1's numbers.
        // N: 6 reached, stays 100..600 → median rank 3 → 300, p90 rank ceil(5.4) = 6 → 600.
        let f = store
            .report_funnel(&fx.m1, &march())
            .await
            .expect("m1 funnel");
        assert_eq!((f.deals, f.won, f.lost, f.open), (6, 2, 2, 2));
        assert_eq!(
            rows(&f)[0],
            (
                N,
                6,
                0,
                Some(0.8333),
                Some(0.3333),
                6,
                Some(300),
                Some(600),
                0,
                1
            )
        );

        // Owner and department narrow the administrator's view to m2's one deal.
        for p in [
            ReportParams {
                owner: Some(fx.m2.user_id),
                ..march()
            },
            ReportParams {
                department: Some(fx.ural_dept),
                ..march()
            },
        ] {
            let f = store.report_funnel(&fx.admin, &p).await.expect("narrowed");
            assert_eq!((f.deals, f.lost), (1, 1), "{p:?}");
            assert_eq!(f.stages[0].reached, 1);
        }
        // The sales department includes its child «Продажи Урал»: all seven.
        let p = ReportParams {
            department: Some(fx.sales_dept),
            ..march()
        };
        assert_eq!(
            store
                .report_funnel(&fx.admin, &p)
                .await
                .expect("dept")
                .deals,
            7
        );

        // The filter language: amount ≥ 1000 keeps d1 and d3, both won; d3 skipped Q.
        let p = ReportParams {
            filter: Some("amount >= 1000".into()),
            ..march()
        };
        let f = store.report_funnel(&fx.admin, &p).await.expect("filtered");
        assert_eq!(
            rows(&f)[1],
            (Q, 2, 1, Some(1.0), Some(1.0), 1, Some(200), Some(200), 0, 0)
        );

        // No period: d8 joins (N10 → W, skipping Q..D).
        let f = store
            .report_funnel(&fx.admin, &ReportParams::default())
            .await
            .expect("all time");
        assert_eq!((f.deals, f.won), (8, 3));
        assert_eq!((f.stages[1].reached, f.stages[1].skipped), (6, 2));

        // Bad input is refused.
        let bad = ReportParams {
            period_from: NaiveDate::from_ymd_opt(2026, 4, 1),
            ..march()
        };
        match store.report_funnel(&fx.admin, &bad).await {
            Err(StoreError::Domain(DomainError::BadRequest(e))) => {
                assert_eq!(e.code, "report_period_order")
            }
            other => panic!("expected a bad period, got {other:?}"),
        }
        let bad = ReportParams {
            filter: Some("amount >=".into()),
            ..march()
        };
        assert!(matches!(
            store.report_funnel(&fx.admin, &bad).await,
            Err(StoreError::Domain(DomainError::BadFilter(_)))
        ));
        let bad = ReportParams {
            pipelines: vec![999_999],
            ..march()
        };
        assert!(matches!(
            store.report_funnel(&fx.admin, &bad).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));
    }
}

/// The funnel's edge cases, counted in SQL (all created 2026-03-10 by m1):
/// - e1: N100 Q200 W300 Q — won, then reopened: furthest W, open now;
/// - e2: N40 Q60 N80 Q — back and forth: N and Q entered twice each, open in Q;
/// - e3: N10 K20 L «Дорого» — jumped over Q, lost;
/// - e4: N500 Q — trashed: neither the deal nor its stays count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funnel_of_reopened_repeated_and_trashed_deals() {
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let day = "2026-03-10T09:00:00Z";
        let m1 = &fx.m1;
        let e1 = deal(
            &store,
            m1,
            &fx,
            "e1",
            day,
            None,
            None,
            &[(N, 100), (Q, 200), (W, 300), (Q, 0)],
        )
        .await;
        let e2 = deal(
            &store,
            m1,
            &fx,
            "e2",
            day,
            None,
            None,
            &[(N, 40), (Q, 60), (N, 80), (Q, 0)],
        )
        .await;
        let e3 = deal(
            &store,
            m1,
            &fx,
            "e3",
            day,
            None,
            Some("Дорого"),
            &[(N, 10), (K, 20), (L, 0)],
        )
        .await;
        let e4 = deal(&store, m1, &fx, "e4", day, None, None, &[(N, 500), (Q, 0)]).await;
        store
            .delete(&fx.admin, Entity::Deal, e4, None)
            .await
            .expect("trash e4");

        // Reached: N e1 e2 e3 = 3; Q 3 (e3 skipped it); K e1 e3 = 2 (e1 skipped it);
        // P and D: e1 only, skipped; W: e1, which entered it. Conversions: N → Q 3/3,
        // Q → K 2/3, K → P 1/2, P → D and D → W 1/1; to won 1/3, 1/3, 1/2, 1, 1.
        // Stays in N: 10 40 80 100 → median rank 2 → 40, p90 rank ceil(3.6) = 4 → 100
        // (e4's 500 is not counted). Q: 60 200 → rank 1 → 60, rank ceil(1.8) = 2 → 200.
        // K: 20. The stay in W before the reopening is not a funnel figure.
        // In progress: e2 at Q, e1 at W (its furthest); dropped: e3 at K.
        let f = store
            .report_funnel(&fx.admin, &march())
            .await
            .expect("funnel");
        assert_eq!((f.deals, f.won, f.lost, f.open), (3, 0, 1, 2));
        assert_eq!(
            rows(&f),
            vec![
                (
                    N,
                    3,
                    0,
                    Some(1.0),
                    Some(0.3333),
                    4,
                    Some(40),
                    Some(100),
                    0,
                    0
                ),
                (
                    Q,
                    3,
                    1,
                    Some(0.6667),
                    Some(0.3333),
                    2,
                    Some(60),
                    Some(200),
                    1,
                    0
                ),
                (K, 2, 1, Some(0.5), Some(0.5), 1, Some(20), Some(20), 0, 1),
                (P, 1, 1, Some(1.0), Some(1.0), 0, None, None, 0, 0),
                (D, 1, 1, Some(1.0), Some(1.0), 0, None, None, 0, 0),
                (W, 1, 0, None, None, 0, None, None, 1, 0),
            ]
        );
        assert_eq!(f.lost_reasons, vec![rc("Дорого", 1)]);
        assert_eq!(f.stages[2].lost_reasons, vec![rc("Дорого", 1)]);
        assert_eq!(f.stages[0].reached_ids, vec![e1, e2, e3]);
        assert_eq!(f.stages[1].reached_ids, vec![e1, e2, e3]);
        assert_eq!(f.stages[2].reached_ids, vec![e1, e3]);
        assert_eq!(f.stages[5].reached_ids, vec![e1]);
        assert_eq!(f.stages[5].in_progress_ids, vec![e1]);
        assert_eq!(f.stages[1].in_progress_ids, vec![e2]);
        assert_eq!(f.stages[2].dropped_ids, vec![e3]);
        assert!(f.stages[0].dropped_ids.is_empty());

        // Only m2's scope: none of these deals, every figure empty.
        let f = store
            .report_funnel(&fx.m2, &march())
            .await
            .expect("m2 funnel");
        assert_eq!((f.deals, f.stages[0].reached, f.stages[0].stays), (0, 0, 0));
        assert_eq!(f.stages[0].median_seconds, None);
    }
}

/// A closed deal of `company`: won (`reason` None) or lost, closed at `closed`.
async fn closed_deal(
    store: &Store,
    actor: &Actor,
    fx: &Fixtures,
    company: Option<i64>,
    amount: i64,
    closed: &str,
    lost_reason: Option<&str>,
) {
    let stage = if lost_reason.is_some() { L } else { W };
    let body = json!({"title": format!("{company:?} {closed}"), "pipeline_id": fx.pipeline,
        "stage_id": fx.stage(stage), "company_id": company, "amount": amount.to_string(), "lost_reason": lost_reason});
    let (rec, _) = store
        .create(actor, Entity::Deal, &obj(body), None)
        .await
        .unwrap_or_else(|e| panic!("create deal: {e:?}"));
    let mut tx: Tx = store.pool().begin_write().await.expect("begin");
    tx.execute(
        Query::update()
            .table(Alias::new("deals"))
            .value(Alias::new("closed_at"), ts(store.backend(), closed))
            .and_where(sea_query::Expr::col(Alias::new("id")).eq(rec["id"].as_i64().unwrap())),
    )
    .await
    .expect("set closed_at");
    tx.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dam_inflow_and_outflow_by_month() {
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let mut c = Vec::new();
        for name in ["C1", "C2", "C3", "C4", "C5"] {
            let (rec, _) = store
                .create(
                    &fx.admin,
                    Entity::Company,
                    &obj(json!({"name": name})),
                    None,
                )
                .await
                .expect("company");
            c.push(rec["id"].as_i64().unwrap());
        }
        let m1 = &fx.m1;
        // Purchases (roubles): C1 Nov-25 100, Jan 200, Apr 250; C2 Feb 500 (first);
        // C3 Jun-25 50, Mar 150 (back after a gap); C4 Dec-25 80 only; C5 (m2's) Jan 1000.
        closed_deal(
            &store,
            m1,
            &fx,
            Some(c[0]),
            100,
            "2025-11-20T10:00:00Z",
            None,
        )
        .await;
        closed_deal(
            &store,
            m1,
            &fx,
            Some(c[0]),
            200,
            "2026-01-15T10:00:00Z",
            None,
        )
        .await;
        closed_deal(
            &store,
            m1,
            &fx,
            Some(c[0]),
            250,
            "2026-04-30T23:00:00Z",
            None,
        )
        .await;
        closed_deal(
            &store,
            m1,
            &fx,
            Some(c[1]),
            500,
            "2026-02-01T00:00:00Z",
            None,
        )
        .await;
        closed_deal(
            &store,
            m1,
            &fx,
            Some(c[2]),
            50,
            "2025-06-10T10:00:00Z",
            None,
        )
        .await;
        closed_deal(
            &store,
            m1,
            &fx,
            Some(c[2]),
            150,
            "2026-03-10T10:00:00Z",
            None,
        )
        .await;
        closed_deal(
            &store,
            m1,
            &fx,
            Some(c[3]),
            80,
            "2025-12-31T23:59:59Z",
            None,
        )
        .await;
        closed_deal(
            &store,
            &fx.m2,
            &fx,
            Some(c[4]),
            1000,
            "2026-01-05T10:00:00Z",
            None,
        )
        .await;
        // Not purchases: a won deal without a company, one after the period; lost deals.
        closed_deal(&store, m1, &fx, None, 700, "2026-02-10T10:00:00Z", None).await;
        closed_deal(
            &store,
            m1,
            &fx,
            Some(c[1]),
            900,
            "2026-05-01T00:00:00Z",
            None,
        )
        .await;
        closed_deal(
            &store,
            m1,
            &fx,
            Some(c[3]),
            0,
            "2026-02-15T10:00:00Z",
            Some("Дорого"),
        )
        .await;
        closed_deal(
            &store,
            m1,
            &fx,
            Some(c[3]),
            0,
            "2026-03-15T10:00:00Z",
            Some("Дорого"),
        )
        .await;
        closed_deal(
            &store,
            m1,
            &fx,
            Some(c[2]),
            0,
            "2026-04-15T10:00:00Z",
            Some("Нет бюджета"),
        )
        .await;
        closed_deal(
            &store,
            m1,
            &fx,
            Some(c[2]),
            0,
            "2025-04-15T10:00:00Z",
            Some("Не отвечает"),
        )
        .await;

        let params = ReportParams {
            period_from: NaiveDate::from_ymd_opt(2026, 1, 1),
            period_to: NaiveDate::from_ymd_opt(2026, 4, 30),
            ..Default::default()
        };
        // N = 2: active at the end of M = bought in M-1 or M.
        // Jan: start {C1 (Nov), C4 (Dec)} 2; new C5; C1 buys but was active → not
        //      returning; lost = last purchase in Nov: none (C1 bought again) → end
        //      {C1, C4, C5} 3; churn 0/2.
        // Feb: start 3; new C2; lost C4 (last Dec = Feb-2) → end {C1, C5, C2} 3; 1/3.
        // Mar: start 3; returning C3 (prior Jun-25, none Jan–Feb); lost C1, C5 (last
        //      Jan) → end {C2, C3} 2; 2/3.
        // Apr: start 2; returning C1 (none Feb–Mar); lost C2 (last Feb) → end {C3, C1} 2; 1/2.
        let dam = store
            .report_dam(&fx.admin, &params, 2, Some(10))
            .await
            .expect("dam");
        let rows: Vec<_> = dam
            .months
            .iter()
            .map(|m| {
                (
                    m.month.as_str(),
                    m.active_start,
                    m.new,
                    m.returning,
                    m.lost,
                    m.active_end,
                    m.churn_rate,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("2026-01", 2, 1, 0, 0, 3, Some(0.0)),
                ("2026-02", 3, 1, 0, 1, 3, Some(0.3333)),
                ("2026-03", 3, 0, 1, 2, 2, Some(0.6667)),
                ("2026-04", 2, 0, 1, 1, 2, Some(0.5)),
            ]
        );
        // Purchases and revenue (kopecks): Jan 200 + 1000; Feb 500; Mar 150; Apr 250.
        let money: Vec<_> = dam
            .months
            .iter()
            .map(|m| (m.purchases, m.repeat_purchases, m.revenue))
            .collect();
        assert_eq!(
            money,
            vec![
                (2, 1, 120_000),
                (1, 0, 50_000),
                (1, 1, 15_000),
                (1, 1, 25_000)
            ]
        );
        // Repeat orders C1 Jan 200 (prev 100), C3 Mar 150 (prev 50), C1 Apr 250 (prev
        // 200): 600 / 350 - 1 = 0.7143; average repeat order 200 roubles.
        assert_eq!(dam.repeat_purchases, 3);
        assert_eq!(dam.avg_repeat_order, Some(20_000));
        assert_eq!(dam.order_growth, Some(0.7143));
        // Coverage: 2 active at the end of April of a target of 10.
        assert_eq!(dam.coverage, Some(0.2));
        // Loss reasons of deals lost January–April (the April 2025 one is outside).
        assert_eq!(
            dam.loss_reasons,
            vec![rc("Дорого", 2), rc("Нет бюджета", 1)]
        );

        // m1 does not see m2's deal with C5: January has no newcomer, March loses C1 only.
        let dam = store
            .report_dam(&fx.m1, &params, 2, None)
            .await
            .expect("m1 dam");
        let jan = &dam.months[0];
        assert_eq!((jan.active_start, jan.new, jan.active_end), (2, 0, 2));
        assert_eq!((dam.months[2].lost, dam.months[2].active_end), (1, 2));
        assert_eq!(dam.coverage, None);

        // N = 6: nobody is lost over these months (no last purchase falls in Jul–Oct
        // 2025); C3 still returns in March, its June purchase being before Sep-25 =
        // Mar-6. Active at the end of April (bought Nov-25…Apr): C1 C2 C3 C4 C5 = 5.
        let dam = store
            .report_dam(&fx.admin, &params, 6, None)
            .await
            .expect("dam 6");
        let lost: i64 = dam.months.iter().map(|m| m.lost).sum();
        assert_eq!(lost, 0);
        assert_eq!(dam.months[2].returning, 1);
        assert_eq!(dam.months[3].active_end, 5);

        // Bad input.
        for (n, target) in [(0, None), (61, None), (2, Some(0))] {
            assert!(matches!(
                store.report_dam(&fx.admin, &params, n, target).await,
                Err(StoreError::Domain(DomainError::BadRequest(_)))
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abc_xyz_of_customers() {
    use plotina_store::reports::abc_xyz::Thresholds;
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let mut k = Vec::new();
        for name in ["K1", "K2", "K3"] {
            let (rec, _) = store
                .create(
                    &fx.admin,
                    Entity::Company,
                    &obj(json!({"name": name})),
                    None,
                )
                .await
                .expect("company");
            k.push(rec["id"].as_i64().unwrap());
        }
        // K1 (m1): Jan 100, Feb 100. K2 (m2): Jan 50. K3 (m1): Feb 30. March is outside.
        closed_deal(
            &store,
            &fx.m1,
            &fx,
            Some(k[0]),
            100,
            "2026-01-10T10:00:00Z",
            None,
        )
        .await;
        closed_deal(
            &store,
            &fx.m1,
            &fx,
            Some(k[0]),
            100,
            "2026-02-10T10:00:00Z",
            None,
        )
        .await;
        closed_deal(
            &store,
            &fx.m2,
            &fx,
            Some(k[1]),
            50,
            "2026-01-20T10:00:00Z",
            None,
        )
        .await;
        closed_deal(
            &store,
            &fx.m1,
            &fx,
            Some(k[2]),
            30,
            "2026-02-20T10:00:00Z",
            None,
        )
        .await;
        closed_deal(
            &store,
            &fx.m1,
            &fx,
            Some(k[2]),
            999,
            "2026-03-01T00:00:00Z",
            None,
        )
        .await;
        let params = ReportParams {
            period_from: NaiveDate::from_ymd_opt(2026, 1, 1),
            period_to: NaiveDate::from_ymd_opt(2026, 2, 28),
            ..Default::default()
        };
        // Revenue 200, 50, 30 of 280: shares before 0, 71.4 %, 89.3 % → A, B, B.
        // Monthly: K1 100 100 → CV 0 → X; K2 50 0 → mean 25, sd 25 → 100 % → Z; K3 0 30 → Z.
        let r = store
            .report_abc_xyz(&fx.admin, &params, Thresholds::default())
            .await
            .expect("abc");
        let got: Vec<_> = r
            .customers
            .iter()
            .map(|c| (c.company_id, c.revenue, c.abc, c.xyz, c.cv))
            .collect();
        assert_eq!(
            got,
            vec![
                (k[0], 20_000, 'A', 'X', 0.0),
                (k[1], 5_000, 'B', 'Z', 1.0),
                (k[2], 3_000, 'B', 'Z', 1.0)
            ]
        );
        assert_eq!(r.months, 2);
        let bz = r
            .matrix
            .iter()
            .find(|c| c.abc == 'B' && c.xyz == 'Z')
            .unwrap();
        assert_eq!(
            (bz.customers, bz.revenue, bz.company_ids.clone()),
            (2, 8_000, vec![k[1], k[2]])
        );
        // m1 does not see K2's deal: 200 and 30 of 230 → K1 A, K3 (87 % before) B.
        let r = store
            .report_abc_xyz(&fx.m1, &params, Thresholds::default())
            .await
            .expect("m1 abc");
        let got: Vec<_> = r.customers.iter().map(|c| (c.company_id, c.abc)).collect();
        assert_eq!(got, vec![(k[0], 'A'), (k[2], 'B')]);
        let bad = Thresholds {
            a: 95.0,
            b: 10.0,
            ..Default::default()
        };
        assert!(matches!(
            store.report_abc_xyz(&fx.admin, &params, bad).await,
            Err(StoreError::Domain(DomainError::BadRequest(_)))
        ));
    }
}

/// Sets timestamps of a row directly (relative to now when `ago_days` is given).
async fn set_times(store: &Store, table: &str, id: i64, values: &[(&str, DateTime<Utc>)]) {
    let mut tx: Tx = store.pool().begin_write().await.expect("begin");
    let mut q = Query::update();
    q.table(Alias::new(table));
    for (column, t) in values {
        q.value(Alias::new(*column), SqlValue::from(*t));
    }
    q.and_where(sea_query::Expr::col(Alias::new("id")).eq(id));
    tx.execute(&q).await.expect("set times");
    tx.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn velocity_cycle_lengths_stale_and_forgotten_deals() {
    use plotina_store::reports::velocity::Cycle;
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let m1 = &fx.m1;
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let ago = |days: i64| Utc::now() - chrono::Duration::days(days);
        let create = |title: &'static str, stage: &'static str| {
            let body = json!({"title": title, "pipeline_id": fx.pipeline, "stage_id": fx.stage(stage),
                "lost_reason": (stage == L).then_some("Дорого")});
            let store = &store;
            async move {
                let (rec, _) = store
                    .create(m1, Entity::Deal, &obj(body), None)
                    .await
                    .unwrap_or_else(|e| panic!("create {title}: {e:?}"));
                rec["id"].as_i64().unwrap()
            }
        };
        // Closed in Q1 2026: won after 10 and 60 days, lost after 5; one won in 2025
        // is outside the period.
        for (title, stage, created, closed) in [
            ("w10", W, "2026-01-01T09:00:00Z", "2026-01-11T10:00:00Z"),
            ("w60", W, "2026-01-01T09:00:00Z", "2026-03-02T09:00:00Z"),
            ("l5", L, "2026-02-01T09:00:00Z", "2026-02-06T12:00:00Z"),
            ("old", W, "2025-01-01T09:00:00Z", "2025-02-01T09:00:00Z"),
        ] {
            let id = create(title, stage).await;
            set_times(
                &store,
                "deals",
                id,
                &[("created_at", at(created)), ("closed_at", at(closed))],
            )
            .await;
        }
        // «Квалификация» rots after 5 days. Stuck: 10 days in it, created 10 days ago.
        let mut tx: Tx = store.pool().begin_write().await.unwrap();
        tx.execute(
            Query::update()
                .table(Alias::new("stages"))
                .value(Alias::new("rotten_days"), 5)
                .and_where(sea_query::Expr::col(Alias::new("id")).eq(fx.stage(Q))),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let stuck = create("stuck", Q).await;
        set_times(
            &store,
            "deals",
            stuck,
            &[("created_at", ago(10)), ("stage_changed_at", ago(10))],
        )
        .await;
        // Forgotten: created 30 days ago, its only call last changed 20 days ago.
        let quiet = create("quiet", N).await;
        set_times(
            &store,
            "deals",
            quiet,
            &[("created_at", ago(30)), ("stage_changed_at", ago(1))],
        )
        .await;
        let (call, _) = store
            .create(
                m1,
                Entity::Activity,
                &obj(json!({"kind": "call", "subject": "Звонок", "deal_id": quiet})),
                None,
            )
            .await
            .unwrap();
        set_times(
            &store,
            "activities",
            call["id"].as_i64().unwrap(),
            &[("updated_at", ago(20))],
        )
        .await;
        // Busy: created 30 days ago, touched today.
        let busy = create("busy", N).await;
        set_times(&store, "deals", busy, &[("created_at", ago(30))]).await;
        store
            .create(
                m1,
                Entity::Activity,
                &obj(json!({"kind": "call", "subject": "Звонок", "deal_id": busy})),
                None,
            )
            .await
            .unwrap();

        let params = ReportParams {
            period_from: Some(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
            period_to: Some(NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()),
            ..Default::default()
        };
        let v = store.report_velocity(&fx.admin, &params, 14).await.unwrap();
        assert_eq!(
            v.won,
            Cycle {
                count: 2,
                median_days: Some(10),
                p90_days: Some(60),
                avg_days: Some(35.0)
            }
        );
        assert_eq!(v.lost.count, 1);
        assert_eq!(v.lost.median_days, Some(5));
        assert_eq!(v.buckets[0].lost, 1, "5 days is in 0–7");
        assert_eq!(v.buckets[1].won, 1, "10 days is in 8–14");
        assert_eq!(v.buckets[3].won, 1, "60 days is in 31–60");
        assert_eq!(v.owners.len(), 1);
        assert_eq!(v.owners[0].owner_id, Some(m1.user_id));
        assert_eq!(v.stale_total, 1);
        assert_eq!(
            (v.stale[0].id, v.stale[0].days, v.stale[0].limit_days),
            (stuck, 10, 5)
        );
        assert_eq!(v.forgotten_total, 1, "{:?}", v.forgotten);
        assert_eq!((v.forgotten[0].id, v.forgotten[0].days), (quiet, 20));
        // Another manager sees none of m1's deals.
        let other = store.report_velocity(&fx.m2, &params, 14).await.unwrap();
        assert_eq!((other.won.count, other.stale_total), (0, 0));
        // A shorter idle threshold adds the stuck deal (10 days without a touch).
        let v = store.report_velocity(&fx.admin, &params, 7).await.unwrap();
        assert_eq!(v.forgotten_total, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecast_weighs_the_pipeline_against_plan_and_actual() {
    use plotina_store::reports::forecast::PlanTarget;
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let m1 = &fx.m1;
        let mut tx: Tx = store.pool().begin_write().await.unwrap();
        for (stage, p) in [(Q, 20), (D, 80)] {
            tx.execute(
                Query::update()
                    .table(Alias::new("stages"))
                    .value(Alias::new("probability"), p)
                    .and_where(sea_query::Expr::col(Alias::new("id")).eq(fx.stage(stage))),
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        let today = m1.today();
        let this_month = today.with_day(1).unwrap();
        let next_month = (this_month + chrono::Duration::days(32))
            .with_day(1)
            .unwrap();
        let key = |d: NaiveDate| d.format("%Y-%m").to_string();
        let deal = |title: &str,
                    stage: &str,
                    amount: &str,
                    close: Option<NaiveDate>,
                    prob: Option<i64>| {
            let mut body = json!({"title": title, "pipeline_id": fx.pipeline,
                "stage_id": fx.stage(stage), "amount": amount});
            if let Some(c) = close {
                body["close_date"] = json!(c.to_string());
            }
            if let Some(p) = prob {
                body["probability"] = json!(p);
            }
            body
        };
        for body in [
            deal("won", W, "1000", None, None),
            deal("q-this", Q, "2000", Some(today), None),
            deal("sure-this", Q, "300", Some(today), Some(100)),
            deal("d-next", D, "5000", Some(next_month), None),
            deal("undated", Q, "700", None, None),
            deal(
                "late",
                Q,
                "100",
                Some(this_month - chrono::Duration::days(40)),
                None,
            ),
        ] {
            store
                .create(m1, Entity::Deal, &obj(body), None)
                .await
                .unwrap();
        }
        store
            .set_plan(&fx.admin, &key(this_month), PlanTarget::All, Some(500_000))
            .await
            .unwrap();
        let params = ReportParams {
            period_from: Some(this_month),
            period_to: Some(next_month),
            ..Default::default()
        };
        let f = store.report_forecast(&fx.admin, &params).await.unwrap();
        assert_eq!(f.target, "all");
        assert_eq!(f.months.len(), 2);
        let m0 = &f.months[0];
        assert_eq!(m0.month, key(this_month));
        // Kopecks: won 1000 ₽; 2000 ₽ at 20 % + 300 ₽ at the deal's own 100 %.
        assert_eq!(
            (m0.actual, m0.weighted, m0.best, m0.commit, m0.forecast),
            (100_000, 70_000, 230_000, 30_000, 170_000)
        );
        assert_eq!(m0.plan, Some(500_000));
        assert_eq!(m0.forecast_to_plan, Some(0.34));
        let m1f = &f.months[1];
        assert_eq!(
            (m1f.weighted, m1f.best, m1f.commit, m1f.plan),
            (400_000, 500_000, 500_000, None)
        );
        assert_eq!((f.undated_deals, f.undated_amount), (1, 70_000));
        assert_eq!((f.overdue_deals, f.overdue_amount), (1, 10_000));

        // A head plans for a manager; the manager's report compares with it.
        store
            .set_plan(
                &fx.head,
                &key(next_month),
                PlanTarget::User(m1.user_id),
                Some(1_000_000),
            )
            .await
            .unwrap();
        let mine = ReportParams {
            owner: Some(m1.user_id),
            ..params.clone()
        };
        let f = store.report_forecast(&fx.head, &mine).await.unwrap();
        assert_eq!(f.months[1].plan, Some(1_000_000));
        assert_eq!(f.months[0].plan, None);
        let plans = store
            .plans(&key(this_month), &key(next_month))
            .await
            .unwrap();
        assert_eq!(plans.len(), 2);
        // Removing a plan; refusals change nothing.
        store
            .set_plan(&fx.admin, &key(this_month), PlanTarget::All, None)
            .await
            .unwrap();
        assert!(matches!(
            store
                .set_plan(m1, &key(this_month), PlanTarget::All, Some(1))
                .await,
            Err(StoreError::Domain(DomainError::Forbidden("plan_forbidden")))
        ));
        for (month, target) in [
            ("2026-13", PlanTarget::All),
            ("2026-1", PlanTarget::All),
            (&*key(this_month), PlanTarget::User(999_999)),
        ] {
            assert!(store
                .set_plan(&fx.admin, month, target, Some(1))
                .await
                .is_err());
        }
        let plans = store
            .plans(&key(this_month), &key(next_month))
            .await
            .unwrap();
        assert_eq!(plans.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_rating_counts_work_and_sales_and_weighs_them() {
    use plotina_store::reports::rating::Weights;
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let (m1, m2) = (&fx.m1, &fx.m2);
        let deal = |stage: &str, amount: &str| {
            obj(
                json!({"title": "Сделка", "pipeline_id": fx.pipeline, "stage_id": fx.stage(stage),
                "amount": amount, "lost_reason": (stage == L).then_some("Дорого")}),
            )
        };
        // m1: two won (300 ₽ total), one lost; m2: one won 1000 ₽, one open.
        for (who, stage, amount) in [
            (m1, W, "100"),
            (m1, W, "200"),
            (m1, L, "50"),
            (m2, W, "1000"),
            (m2, N, "10"),
        ] {
            store
                .create(who, Entity::Deal, &deal(stage, amount), None)
                .await
                .unwrap();
        }
        // m1: three calls done, a task done late; m2: a meeting, a task overdue now.
        let past = (Utc::now() - chrono::Duration::hours(5)).to_rfc3339();
        for (who, body) in [
            (m1, json!({"kind": "call", "subject": "1", "done": true})),
            (m1, json!({"kind": "call", "subject": "2", "done": true})),
            (m1, json!({"kind": "call", "subject": "3", "done": true})),
            (
                m1,
                json!({"kind": "task", "subject": "late", "due_at": past, "done": true}),
            ),
            (m2, json!({"kind": "meeting", "subject": "m", "done": true})),
            (
                m2,
                json!({"kind": "task", "subject": "open", "due_at": past}),
            ),
        ] {
            store
                .create(who, Entity::Activity, &obj(body), None)
                .await
                .unwrap();
        }
        let params = ReportParams::default();
        let r = store.report_rating(&fx.admin, &params).await.unwrap();
        let row = |id: i64| r.managers.iter().find(|m| m.user_id == id).unwrap().clone();
        let a = row(m1.user_id);
        assert_eq!(
            (
                a.calls,
                a.tasks_late,
                a.won_count,
                a.won_amount,
                a.lost_count
            ),
            (3, 1, 2, 30_000, 1)
        );
        assert_eq!(a.win_rate, Some(0.6667));
        assert_eq!(a.avg_won, Some(15_000));
        let b = row(m2.user_id);
        assert_eq!(
            (b.meetings, b.tasks_overdue_now, b.new_deals, b.won_amount),
            (1, 1, 2, 100_000)
        );
        assert_eq!(b.win_rate, Some(1.0));
        // Default weights put sales first: m2 leads.
        assert_eq!(r.managers[0].user_id, m2.user_id);
        // The head of sales puts all the weight on calls: m1 leads with 100.
        let calls = Weights([("calls".to_string(), 100)].into_iter().collect());
        store.set_rating_weights(&fx.head, &calls).await.unwrap();
        let r = store.report_rating(&fx.admin, &params).await.unwrap();
        assert_eq!(r.weights, calls);
        assert_eq!(
            (r.managers[0].user_id, r.managers[0].rating),
            (m1.user_id, 100.0)
        );
        assert!(matches!(
            store.set_rating_weights(m1, &Weights::default()).await,
            Err(StoreError::Domain(DomainError::Forbidden(_)))
        ));
        assert!(store
            .set_rating_weights(
                &fx.admin,
                &Weights([("calls".to_string(), 0)].into_iter().collect())
            )
            .await
            .is_err());
        // A manager's own rating shows only what they may read.
        let own = store.report_rating(m1, &params).await.unwrap();
        assert!(
            own.managers.iter().all(|m| m.user_id == m1.user_id),
            "{own:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deals_by_industry_and_overdue_child_deals() {
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let (m1, m2) = (&fx.m1, &fx.m2);
        let company =
            |name: &str, industry: Option<&str>| obj(json!({"name": name, "industry": industry}));
        let (retail, _) = store
            .create(
                &fx.admin,
                Entity::Company,
                &company("Магазин", Some("retail")),
                None,
            )
            .await
            .unwrap();
        let (plain, _) = store
            .create(
                &fx.admin,
                Entity::Company,
                &company("Без отрасли", None),
                None,
            )
            .await
            .unwrap();
        let deal = |title: &str, stage: &str, amount: &str, company: Option<&Map<String, Json>>| {
            obj(
                json!({"title": title, "pipeline_id": fx.pipeline, "stage_id": fx.stage(stage),
                "amount": amount, "company_id": company.map(|c| c["id"].clone()),
                "lost_reason": (stage == L).then_some("Дорого")}),
            )
        };
        for body in [
            deal("r-won", W, "1000", Some(&retail)),
            deal("r-lost", L, "10", Some(&retail)),
            deal("r-open", N, "500", Some(&retail)),
            deal("p-open", N, "70", Some(&plain)),
            deal("none", W, "5", None),
        ] {
            store.create(m1, Entity::Deal, &body, None).await.unwrap();
        }
        let rows = store
            .report_by_industry(&fx.admin, &ReportParams::default())
            .await
            .unwrap();
        assert_eq!(rows.len(), 3, "{rows:?}");
        let r = &rows[0];
        assert_eq!(r.industry.as_deref(), Some("retail"));
        assert_eq!(
            (r.deals, r.open, r.open_amount, r.won, r.won_amount, r.lost),
            (3, 1, 50_000, 1, 100_000, 1)
        );
        assert_eq!(r.win_rate, Some(0.5));
        assert!(rows.iter().any(|r| r.without_company && r.won == 1));
        assert!(rows
            .iter()
            .any(|r| !r.without_company && r.industry.is_none() && r.open == 1));

        // A sale with two child deals of m2: one overdue by 3 days, one on time.
        let (parent, _) = store
            .create(m1, Entity::Deal, &deal("Продажа", N, "100", None), None)
            .await
            .unwrap();
        let today = m2.today();
        for (title, close) in [
            ("Доставка", today - chrono::Duration::days(3)),
            ("Монтаж", today),
        ] {
            let body = obj(
                json!({"title": title, "pipeline_id": fx.pipeline, "parent_id": parent["id"],
                "close_date": close.to_string(), "owner_id": m2.user_id}),
            );
            store
                .create(&fx.admin, Entity::Deal, &body, None)
                .await
                .unwrap();
        }
        let rows = store
            .report_overdue_children(&fx.admin, &ReportParams::default())
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            (rows[0].owner_id, rows[0].overdue, rows[0].max_days_late),
            (Some(m2.user_id), 1, 3)
        );
        assert_eq!(rows[0].deals[0].title, "Доставка");
        assert_eq!(rows[0].deals[0].parent_title, "Продажа");
        // m1 cannot read m2's deals: nothing to show.
        let own = store
            .report_overdue_children(m1, &ReportParams::default())
            .await
            .unwrap();
        assert!(own.is_empty());
    }
}

/// Stored customer classes: two calculations over the whole base with a change of
/// revenue between them, the history of each company, the manual override and the
/// schedule that never calculates one period twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::approx_constant)] // 1.4142 is a coefficient of variation, not √2 by intent
async fn customer_classes_are_stored_with_history_and_override() {
    use plotina_store::reports::classes::{ClassSettings, Override, Schedule};
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let mut k = Vec::new();
        for name in ["K1", "K2", "K3", "K4", "K5", "K6"] {
            let (rec, _) = store
                .create(
                    &fx.admin,
                    Entity::Company,
                    &obj(json!({"name": name})),
                    None,
                )
                .await
                .expect("company");
            k.push(rec["id"].as_i64().unwrap());
        }
        // Window of a run in April 2026 with 3 months: January to March.
        // K1 100 100 100; K2 90 110 100; K3 0 100 50; K4 20 25 15; K5 30 0 0 (m2's deal,
        // the run sees the whole base); K6 only a lost deal and one from April.
        let sales: [(usize, i64, &str); 12] = [
            (0, 100, "2026-01-05T10:00:00Z"),
            (0, 100, "2026-02-05T10:00:00Z"),
            (0, 100, "2026-03-05T10:00:00Z"),
            (1, 90, "2026-01-06T10:00:00Z"),
            (1, 110, "2026-02-06T10:00:00Z"),
            (1, 100, "2026-03-06T10:00:00Z"),
            (2, 100, "2026-02-07T10:00:00Z"),
            (2, 50, "2026-03-31T23:59:59Z"),
            (3, 20, "2026-01-08T10:00:00Z"),
            (3, 25, "2026-02-08T10:00:00Z"),
            (3, 15, "2026-03-08T10:00:00Z"),
            (5, 700, "2026-04-01T00:00:00Z"),
        ];
        for (i, amount, closed) in sales {
            closed_deal(&store, &fx.m1, &fx, Some(k[i]), amount, closed, None).await;
        }
        closed_deal(
            &store,
            &fx.m2,
            &fx,
            Some(k[4]),
            30,
            "2026-01-09T10:00:00Z",
            None,
        )
        .await;
        closed_deal(
            &store,
            &fx.m1,
            &fx,
            Some(k[5]),
            900,
            "2026-02-09T10:00:00Z",
            Some("Дорого"),
        )
        .await;
        let settings = ClassSettings {
            months: 3,
            ..Default::default()
        };
        // A manager may not recalculate.
        assert!(matches!(
            store
                .recalculate_customer_classes(
                    Some(&fx.m1),
                    &settings,
                    at("2026-04-10T09:00:00Z"),
                    "api"
                )
                .await,
            Err(StoreError::Domain(DomainError::Forbidden(_)))
        ));
        // Run 1. Revenue 300 300 150 60 30 of 840; shares before 0, 35.7 %, 71.4 %,
        // 89.3 %, 96.4 % → A A B B C. CV: 0 → X, 8.16 % → X, 81.65 % → Z, 20.41 % → Y,
        // 141.42 % → Z.
        let r1 = store
            .recalculate_customer_classes(
                Some(&fx.head),
                &settings,
                at("2026-04-10T09:00:00Z"),
                "api",
            )
            .await
            .expect("run 1");
        assert_eq!(
            (
                r1.customers,
                r1.changed,
                r1.window_from,
                r1.window_to,
                r1.created_by
            ),
            (
                5,
                5,
                NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
                Some(fx.head.user_id)
            )
        );
        let all = store
            .customer_classes_of(&fx.admin, &k)
            .await
            .expect("classes");
        let got: Vec<_> = all
            .values()
            .map(|c| (c.company_id, c.abc, c.xyz, c.revenue, c.share, c.cv))
            .collect();
        assert_eq!(
            got,
            vec![
                (k[0], Some('A'), Some('X'), 30_000, 0.3571, 0.0),
                (k[1], Some('A'), Some('X'), 30_000, 0.3571, 0.0816),
                (k[2], Some('B'), Some('Z'), 15_000, 0.1786, 0.8165),
                (k[3], Some('B'), Some('Y'), 6_000, 0.0714, 0.2041),
                (k[4], Some('C'), Some('Z'), 3_000, 0.0357, 1.4142),
            ]
        );
        // Every class is new: K4's change of run 1 is none → B/Y.
        let prev = all[&k[3]].previous.clone().expect("change of run 1");
        assert_eq!(
            (
                prev.old_abc,
                prev.old_xyz,
                prev.new_abc,
                prev.new_xyz,
                prev.run_id
            ),
            (None, None, Some('B'), Some('Y'), Some(r1.id))
        );

        // Overrides: heads and administrators only; a reason is required.
        let o = |abc: Option<char>, xyz: Option<char>, reason: &str| Override {
            abc,
            xyz,
            reason: reason.into(),
        };
        assert!(matches!(
            store
                .set_customer_class_override(&fx.m1, k[2], &o(Some('A'), None, "мой клиент"))
                .await,
            Err(StoreError::Domain(DomainError::Forbidden(_)))
        ));
        assert!(matches!(
            store
                .set_customer_class_override(&fx.head, k[2], &o(Some('Q'), None, ""))
                .await,
            Err(StoreError::Domain(DomainError::Invalid(e))) if e.len() == 2
        ));
        // K3 is A by hand (XYZ stays computed: Z); K5 A/X by hand.
        let k3 = store
            .set_customer_class_override(
                &fx.head,
                k[2],
                &o(Some('A'), None, "Стратегический клиент"),
            )
            .await
            .expect("override K3")
            .expect("class");
        assert_eq!(
            (
                k3.abc,
                k3.xyz,
                k3.computed_abc,
                k3.override_abc,
                k3.override_by
            ),
            (
                Some('A'),
                Some('Z'),
                Some('B'),
                Some('A'),
                Some(fx.head.user_id)
            )
        );
        store
            .set_customer_class_override(
                &fx.admin,
                k[4],
                &o(Some('A'), Some('X'), "Крупный контракт"),
            )
            .await
            .expect("override K5");

        // Revenue changes: K4 buys 300 more in March, K5's only deal goes to the trash.
        closed_deal(
            &store,
            &fx.m1,
            &fx,
            Some(k[3]),
            300,
            "2026-03-20T10:00:00Z",
            None,
        )
        .await;
        let k5_deal = store
            .list(
                &fx.admin,
                Entity::Deal,
                &plotina_store::listing::ListParams {
                    filter: Some(format!("company_id = {}", k[4])),
                    ..Default::default()
                },
            )
            .await
            .expect("deals")
            .data[0]["id"]
            .as_i64()
            .unwrap();
        store
            .delete(&fx.admin, Entity::Deal, k5_deal, None)
            .await
            .expect("trash");
        // Run 2. K4 20 25 315 = 360, mean 120, sd 137.90 → CV 114.92 % → Z. Revenue 360
        // 300 300 150 of 1110: shares before 0, 32.4 %, 59.5 %, 86.5 % → K4 A, K1 A,
        // K2 A, K3 B. Changes: K4 B/Y → A/Z, K5 C/Z → none.
        let r2 = store
            .recalculate_customer_classes(None, &settings, at("2026-04-20T09:00:00Z"), "cli")
            .await
            .expect("run 2");
        assert_eq!((r2.customers, r2.changed, r2.created_by), (4, 2, None));
        let all = store
            .customer_classes_of(&fx.admin, &k)
            .await
            .expect("classes");
        let got: Vec<_> = all
            .values()
            .map(|c| {
                (
                    c.company_id,
                    c.abc,
                    c.xyz,
                    c.computed_abc,
                    c.computed_xyz,
                    c.revenue,
                    c.share,
                    c.cv,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    k[0],
                    Some('A'),
                    Some('X'),
                    Some('A'),
                    Some('X'),
                    30_000,
                    0.2703,
                    0.0
                ),
                (
                    k[1],
                    Some('A'),
                    Some('X'),
                    Some('A'),
                    Some('X'),
                    30_000,
                    0.2703,
                    0.0816
                ),
                // The override wins over the computed B.
                (
                    k[2],
                    Some('A'),
                    Some('Z'),
                    Some('B'),
                    Some('Z'),
                    15_000,
                    0.1351,
                    0.8165
                ),
                (
                    k[3],
                    Some('A'),
                    Some('Z'),
                    Some('A'),
                    Some('Z'),
                    36_000,
                    0.3243,
                    1.1492
                ),
                // Bought nothing in the window, the override still holds.
                (k[4], Some('A'), Some('X'), None, None, 0, 0.0, 0.0),
            ]
        );
        let prev = all[&k[3]].previous.clone().expect("K4 changed in run 2");
        assert_eq!(
            (
                prev.old_abc,
                prev.old_xyz,
                prev.new_abc,
                prev.new_xyz,
                prev.run_id
            ),
            (Some('B'), Some('Y'), Some('A'), Some('Z'), Some(r2.id))
        );
        assert_eq!(all[&k[0]].previous, None, "K1 did not change in run 2");

        // K4's history, newest first: run 2 B/Y → A/Z, run 1 none → B/Y.
        let (cur, history) = store.customer_class(&fx.admin, k[3]).await.expect("K4");
        assert_eq!(cur.map(|c| c.run_id), Some(Some(r2.id)));
        let h: Vec<_> = history
            .iter()
            .map(|c| {
                (
                    c.kind.as_str(),
                    c.run_id,
                    c.old_abc,
                    c.old_xyz,
                    c.new_abc,
                    c.new_xyz,
                )
            })
            .collect();
        assert_eq!(
            h,
            vec![
                (
                    "calculation",
                    Some(r2.id),
                    Some('B'),
                    Some('Y'),
                    Some('A'),
                    Some('Z')
                ),
                ("calculation", Some(r1.id), None, None, Some('B'), Some('Y')),
            ]
        );
        // K5's: dropped out in run 2, override by the administrator, first class in run 1.
        let (_, history) = store.customer_class(&fx.admin, k[4]).await.expect("K5");
        let h: Vec<_> = history
            .iter()
            .map(|c| {
                (
                    c.kind.as_str(),
                    c.old_abc,
                    c.old_xyz,
                    c.new_abc,
                    c.new_xyz,
                    c.reason.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            h,
            vec![
                ("calculation", Some('C'), Some('Z'), None, None, None),
                (
                    "override",
                    Some('C'),
                    Some('Z'),
                    Some('A'),
                    Some('X'),
                    Some("Крупный контракт")
                ),
                ("calculation", None, None, Some('C'), Some('Z'), None),
            ]
        );
        // Clearing K5's override leaves it without any class: its row goes, the history stays.
        let cleared = store
            .set_customer_class_override(&fx.head, k[4], &o(None, None, ""))
            .await
            .expect("clear");
        assert_eq!(cleared, None);
        let (cur, history) = store.customer_class(&fx.admin, k[4]).await.expect("K5");
        assert_eq!(
            (cur, history.len(), history[0].kind.as_str()),
            (None, 4, "override_cleared")
        );
        // An unknown company is 404.
        assert!(matches!(
            store.customer_class(&fx.admin, 999_999).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));

        // The schedule: April already has two calculations → nothing due on 25 April.
        let monthly = |now: &str| {
            let store = &store;
            let now = at(now);
            async move {
                store
                    .scheduled_customer_classes(Schedule::Monthly, &settings, now)
                    .await
                    .expect("scheduled")
            }
        };
        assert_eq!(monthly("2026-04-25T03:00:00Z").await, None);
        // May: due once (a server that was down catches up on its first check), then not again.
        let may = monthly("2026-05-03T12:00:00Z").await.expect("May is due");
        assert_eq!(
            (
                may.period_key.as_deref(),
                may.source.as_str(),
                may.window_from
            ),
            (
                Some("2026-05"),
                "schedule",
                NaiveDate::from_ymd_opt(2026, 2, 1).unwrap()
            )
        );
        assert_eq!(monthly("2026-05-03T12:00:01Z").await, None);
        assert_eq!(monthly("2026-05-31T23:59:59Z").await, None);
        assert_eq!(
            store
                .scheduled_customer_classes(Schedule::Off, &settings, at("2026-07-01T00:00:00Z"))
                .await
                .expect("off"),
            None
        );
        let runs = store.customer_class_runs(10).await.expect("runs");
        assert_eq!(
            runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![may.id, r2.id, r1.id]
        );
        assert_eq!(runs[2].source, "api");
    }
}

/// Sets columns of a row directly (timestamps as the engine stores them).
async fn set_cols(store: &Store, table: &str, id: i64, values: Vec<(&str, SqlValue)>) {
    let mut tx: Tx = store.pool().begin_write().await.expect("begin");
    let mut q = Query::update();
    q.table(Alias::new(table));
    for (column, v) in values {
        q.value(Alias::new(column), v);
    }
    q.and_where(sea_query::Expr::col(Alias::new("id")).eq(id));
    tx.execute(&q).await.expect("set columns");
    tx.commit().await.expect("commit");
}

/// The sources data set, March 2026 (amounts in roubles):
/// - leads: L1 web_form (converted into D1), L2, L3 web_form, L4 call (converted into
///   D2), L5 call, L6 without a source, L7 web_form created in February, L8 web_form of m2.
/// - deals: D1 web_form won 100 000 (closed 20 March); D2 call open; D3 «Выставка» won
///   50 000; D4 «Выставка» lost; D5 child of D3 (own source «Запрос отдела продаж») won
///   20 000; D6 child of D5 («Логистика») open; D7 without a source won 5 000; D8 call
///   created in January, won 30 000 on 5 March; D9 web_form of m2 won 7 000.
/// - costs: web_form 10 000 in February and 20 000 in March; «Выставка» 35 000 in March;
///   call 5 000 in April; «Радио» 8 000 in March.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_attribute_children_to_the_top_parent_and_weigh_costs() {
    use plotina_store::sales::ConvertRequest;
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let (m1, m2) = (&fx.m1, &fx.m2);
        let backend = store.backend();
        let march = |day: u32| format!("2026-03-{day:02}T10:00:00Z");
        let lead = |actor: &'static str, source: Option<&str>| (actor, source.map(String::from));
        let mut lead_ids = Vec::new();
        for (i, (who, source)) in [
            lead("m1", Some("web_form")),
            lead("m1", Some("web_form")),
            lead("m1", Some("web_form")),
            lead("m1", Some("call")),
            lead("m1", Some("call")),
            lead("m1", None),
            lead("m1", Some("web_form")),
            lead("m2", Some("web_form")),
        ]
        .into_iter()
        .enumerate()
        {
            let actor = if who == "m1" { m1 } else { m2 };
            let (rec, _) = store
                .create(
                    actor,
                    Entity::Lead,
                    &obj(json!({"title": format!("L{}", i + 1), "source": source})),
                    None,
                )
                .await
                .unwrap_or_else(|e| panic!("lead: {e:?}"));
            let id = rec["id"].as_i64().unwrap();
            let created = if i == 6 {
                "2026-02-15T10:00:00Z".to_string()
            } else {
                march(2 + i as u32)
            };
            set_cols(
                &store,
                "leads",
                id,
                vec![("created_at", ts(backend, &created))],
            )
            .await;
            lead_ids.push(id);
        }
        let convert = |stage: &str, amount: &str| ConvertRequest {
            deal: Some(obj(
                json!({"pipeline_id": fx.pipeline, "stage_id": fx.stage(stage),
                "amount": amount}),
            )),
            create_company: Some(false),
            create_contact: Some(false),
            ..Default::default()
        };
        let d1 = store
            .convert_lead(m1, lead_ids[0], convert(W, "100000"))
            .await
            .unwrap()
            .deal
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let d2 = store
            .convert_lead(m1, lead_ids[3], convert(N, "1"))
            .await
            .unwrap()
            .deal
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let deal =
            |title: &str, stage: &str, amount: &str, source: Option<&str>, parent: Option<i64>| {
                obj(
                    json!({"title": title, "pipeline_id": fx.pipeline, "stage_id": fx.stage(stage),
                "amount": amount, "source": source, "parent_id": parent,
                "lost_reason": (stage == L).then_some("Дорого")}),
                )
            };
        let mk = |actor: &Actor, body: Map<String, Json>| {
            let store = &store;
            let actor = actor.clone();
            async move {
                let (rec, _) = store
                    .create(&actor, Entity::Deal, &body, None)
                    .await
                    .unwrap_or_else(|e| panic!("deal: {e:?}"));
                rec["id"].as_i64().unwrap()
            }
        };
        let d3 = mk(m1, deal("D3", W, "50000", Some("Выставка"), None)).await;
        let d4 = mk(m1, deal("D4", L, "9000", Some("Выставка"), None)).await;
        let d5 = mk(
            m1,
            deal("D5", W, "20000", Some("Запрос отдела продаж"), Some(d3)),
        )
        .await;
        let d6 = mk(m1, deal("D6", N, "4000", Some("Логистика"), Some(d5))).await;
        let d7 = mk(m1, deal("D7", W, "5000", None, None)).await;
        let d8 = mk(m1, deal("D8", W, "30000", Some("call"), None)).await;
        let d9 = mk(m2, deal("D9", W, "7000", Some("web_form"), None)).await;
        for (id, created, closed) in [
            (d1, march(10), Some(march(20))),
            (d2, march(11), None),
            (d3, march(12), Some(march(25))),
            (d4, march(13), Some(march(26))),
            (d5, march(14), Some(march(28))),
            (d6, march(15), None),
            (d7, march(3), Some(march(15))),
            (d8, "2026-01-10T10:00:00Z".into(), Some(march(5))),
            (d9, march(16), Some(march(17))),
        ] {
            let mut v = vec![("created_at", ts(backend, &created))];
            if let Some(c) = closed {
                v.push(("closed_at", ts(backend, &c)));
            }
            set_cols(&store, "deals", id, v).await;
        }
        for (source, month, amount) in [
            ("web_form", "2026-02", 1_000_000),
            ("web_form", "2026-03", 2_000_000),
            ("Выставка", "2026-03", 3_500_000),
            ("call", "2026-04", 500_000),
            ("Радио", "2026-03", 800_000),
        ] {
            store
                .set_source_cost(&fx.head, source, month, Some(amount))
                .await
                .unwrap();
        }
        let params = ReportParams {
            period_from: NaiveDate::from_ymd_opt(2026, 3, 1),
            period_to: NaiveDate::from_ymd_opt(2026, 3, 31),
            ..Default::default()
        };
        let r = store.report_sources(&fx.admin, &params).await.unwrap();
        assert_eq!(
            (r.cost_from.as_deref(), r.cost_to.as_deref()),
            (Some("2026-03"), Some("2026-03"))
        );
        let names: Vec<Option<&str>> = r.rows.iter().map(|r| r.source.as_deref()).collect();
        // By won amount: 107 000, 70 000, 30 000, 0; no source last.
        assert_eq!(
            names,
            [
                Some("web_form"),
                Some("Выставка"),
                Some("call"),
                Some("Радио"),
                None
            ]
        );
        let row = |i: usize| {
            let x = &r.rows[i];
            (
                x.leads,
                x.converted_leads,
                x.deals,
                x.deals_won,
                x.won,
                x.won_amount,
                x.cost,
            )
        };
        // web_form: L1 L2 L3 L8 (L7 is February), L1 converted; D1 D9 created and won;
        // won 100 000 + 7 000; cost March 20 000 (February's not counted).
        assert_eq!(row(0), (4, 1, 2, 2, 2, 10_700_000, 2_000_000));
        let w = &r.rows[0];
        assert_eq!(
            (w.lead_conversion, w.deal_conversion),
            (Some(0.25), Some(1.0))
        );
        // 20 000 / 4 leads = 5 000; 20 000 / 2 won = 10 000; (107 000 − 20 000) / 20 000.
        assert_eq!(
            (w.cost_per_lead, w.cost_per_won),
            (Some(500_000), Some(1_000_000))
        );
        assert_eq!(w.romi, Some(435.0));
        // «Выставка»: D3, D4 and the children D5 (parent D3) and D6 (grandchild) created;
        // D3 and D5 won: 50 000 + 20 000; cost 35 000 → ROMI 100 %.
        assert_eq!(row(1), (0, 0, 4, 2, 2, 7_000_000, 3_500_000));
        let e = &r.rows[1];
        assert_eq!((e.lead_conversion, e.deal_conversion), (None, Some(0.5)));
        assert_eq!((e.cost_per_lead, e.cost_per_won), (None, Some(1_750_000)));
        assert_eq!(e.romi, Some(100.0));
        // call: L4 L5, L4 converted into D2 (open); D8 (created in January) won 30 000 in
        // March; April's cost is outside.
        assert_eq!(row(2), (2, 1, 1, 0, 1, 3_000_000, 0));
        assert_eq!(
            (r.rows[2].deal_conversion, r.rows[2].romi),
            (Some(0.0), None)
        );
        // «Радио» only cost money.
        assert_eq!(row(3), (0, 0, 0, 0, 0, 0, 800_000));
        assert_eq!(r.rows[3].romi, Some(-100.0));
        // No source: L6, D7 won 5 000.
        assert_eq!(row(4), (1, 0, 1, 1, 1, 500_000, 0));
        let t = &r.total;
        assert_eq!(
            (
                t.leads,
                t.converted_leads,
                t.deals,
                t.deals_won,
                t.won,
                t.won_amount,
                t.cost
            ),
            (7, 2, 8, 5, 6, 21_200_000, 6_300_000)
        );
        // 63 000 / 7 = 9 000; 63 000 / 6 = 10 500; (212 000 − 63 000) / 63 000 = 236.5 %.
        assert_eq!(
            (t.cost_per_lead, t.cost_per_won),
            (Some(900_000), Some(1_050_000))
        );
        assert_eq!(t.romi, Some(236.5));
        assert_eq!(t.lead_conversion, Some(0.2857));

        // m1 does not see m2's lead L8 and deal D9.
        let mine = store.report_sources(m1, &params).await.unwrap();
        let w = &mine.rows[0];
        assert_eq!(w.source.as_deref(), Some("web_form"));
        assert_eq!(
            (w.leads, w.deals, w.won, w.won_amount, w.romi),
            (3, 1, 1, 10_000_000, Some(400.0))
        );
        // The filter language narrows deals, not leads: amount ≥ 40 000 keeps D1, D3 (D8
        // won at 30 000 drops out).
        let big = ReportParams {
            filter: Some("amount >= 40000".into()),
            ..params.clone()
        };
        let b = store.report_sources(&fx.admin, &big).await.unwrap();
        let by = |s: &str| {
            b.rows
                .iter()
                .find(|r| r.source.as_deref() == Some(s))
                .unwrap()
        };
        assert_eq!((by("web_form").leads, by("web_form").won), (4, 1));
        assert_eq!(
            (by("Выставка").deals, by("Выставка").won_amount),
            (1, 5_000_000)
        );
        assert_eq!(by("call").won, 0);

        // Costs: listed by month; replaced, removed; only administrators and heads.
        let costs = store.source_costs("2026-02", "2026-03").await.unwrap();
        assert_eq!(costs.len(), 4);
        assert_eq!(
            (
                costs[0].source.as_str(),
                costs[0].month.as_str(),
                costs[0].amount
            ),
            ("web_form", "2026-02", 1_000_000)
        );
        assert_eq!(costs[0].updated_by, Some(fx.head.user_id));
        store
            .set_source_cost(&fx.admin, "web_form", "2026-03", Some(4_000_000))
            .await
            .unwrap();
        store
            .set_source_cost(&fx.admin, "Радио", "2026-03", None)
            .await
            .unwrap();
        let r = store.report_sources(&fx.admin, &params).await.unwrap();
        assert_eq!(r.rows[0].romi, Some(167.5), "(107 000 − 40 000) / 40 000");
        assert!(r.rows.iter().all(|r| r.source.as_deref() != Some("Радио")));
        assert!(matches!(
            store
                .set_source_cost(m1, "web_form", "2026-03", Some(1))
                .await,
            Err(StoreError::Domain(DomainError::Forbidden(
                "sources_cost_forbidden"
            )))
        ));
        for (source, month, amount) in [
            ("", "2026-03", Some(1)),
            ("web_form", "2026-3", Some(1)),
            ("web_form", "2026-03", Some(-1)),
            (&*"x".repeat(101), "2026-03", Some(1)),
        ] {
            assert!(
                matches!(
                    store
                        .set_source_cost(&fx.admin, source, month, amount)
                        .await,
                    Err(StoreError::Domain(DomainError::Invalid(_)))
                ),
                "{source:?} {month}"
            );
        }
    }
}

/// The read-only BI views (docs/bi.md): a deal with its pipeline, stage, company and
/// owner by name and its amount in roubles; deleted records left out; no secret columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bi_views_show_live_records_with_names_and_roubles() {
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let company = store
            .create(
                &fx.m1,
                Entity::Company,
                &obj(json!({"name": "ООО «Витрина»", "industry": "retail"})),
                None,
            )
            .await
            .expect("company")
            .0["id"]
            .as_i64()
            .unwrap();
        let deal = |title: &'static str| {
            let store = &store;
            let fx = &fx;
            async move {
                store
                    .create(
                        &fx.m1,
                        Entity::Deal,
                        &obj(json!({"title": title, "pipeline_id": fx.pipeline,
                            "company_id": company, "amount": "1500.50"})),
                        None,
                    )
                    .await
                    .expect("deal")
                    .0["id"]
                    .as_i64()
                    .unwrap()
            }
        };
        let kept = deal("Витрина: стеллажи").await;
        let gone = deal("Витрина: удалённая").await;
        store
            .delete(&fx.admin, Entity::Deal, gone, None)
            .await
            .expect("delete");

        let mut tx: Tx = store.pool().begin().await.expect("begin");
        let q = Query::select()
            .columns(
                [
                    "id",
                    "title",
                    "pipeline",
                    "stage",
                    "stage_kind",
                    "company",
                    "owner",
                    "amount_kopecks",
                ]
                .map(Alias::new),
            )
            .expr_as(
                sea_query::Expr::cust("CAST(amount_rub AS TEXT)"),
                Alias::new("rub"),
            )
            .from(Alias::new("bi_deals"))
            .and_where(sea_query::Expr::col(Alias::new("company_id")).eq(company))
            .to_owned();
        let rows = tx.fetch_all(&q).await.expect("bi_deals");
        assert_eq!(rows.len(), 1, "the deleted deal is not in the view");
        let r = &rows[0];
        assert_eq!(r.i64("id").unwrap(), Some(kept));
        assert_eq!(
            r.text("title").unwrap().as_deref(),
            Some("Витрина: стеллажи")
        );
        assert_eq!(r.text("company").unwrap().as_deref(), Some("ООО «Витрина»"));
        assert_eq!(r.text("stage_kind").unwrap().as_deref(), Some("open"));
        assert!(r.text("pipeline").unwrap().is_some_and(|p| !p.is_empty()));
        assert!(r.text("stage").unwrap().is_some_and(|s| !s.is_empty()));
        assert!(r.text("owner").unwrap().is_some_and(|o| !o.is_empty()));
        assert_eq!(r.i64("amount_kopecks").unwrap(), Some(150_050));
        let rub: f64 = r.text("rub").unwrap().unwrap().parse().unwrap();
        assert_eq!(rub, 1500.5);
        // Every view answers, and the users' view holds no login or password hash.
        for view in [
            "bi_departments",
            "bi_users",
            "bi_pipelines",
            "bi_stages",
            "bi_companies",
            "bi_contacts",
            "bi_leads",
            "bi_deals",
            "bi_activities",
            "bi_stage_changes",
        ] {
            let q = Query::select()
                .expr_as(sea_query::Expr::cust("COUNT(*)"), Alias::new("n"))
                .from(Alias::new(view))
                .to_owned();
            let n = tx.fetch_all(&q).await.expect(view)[0].i64("n").unwrap();
            assert!(n.is_some(), "{view}");
        }
        tx.commit().await.expect("commit");
        let columns_sql = match store.backend() {
            Backend::Sqlite => "SELECT name AS c FROM pragma_table_info('bi_users')",
            Backend::Postgres => {
                "SELECT column_name::text AS c FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'bi_users'"
            }
        };
        let mut tx: Tx = store.pool().begin().await.expect("begin");
        let columns: Vec<String> = tx
            .fetch_all_sql(
                columns_sql,
                sea_query_binder::SqlxValues(sea_query::Values(Vec::new())),
            )
            .await
            .expect("columns")
            .iter()
            .filter_map(|r| r.text("c").unwrap())
            .collect();
        tx.commit().await.expect("commit");
        assert_eq!(
            columns,
            [
                "id",
                "name",
                "email",
                "department_id",
                "department",
                "role",
                "active"
            ]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rating_cycle_is_the_median_of_whole_days_per_owner() {
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let (m1, m2) = (&fx.m1, &fx.m2);
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // (owner, stage, created, closed). m1's won deals last 3 days, 1 day 23:59:59.999
        // (one whole day), 10 days and 40 days: sorted 1 3 10 40, median rank
        // ceil(0.5 × 4) = 2 → 3 days. The lost deal's 100 days do not count.
        // m2's single won deal is "closed" before it was created: 0 days, not -2.
        let plan = [
            (m1, W, "2026-03-01T10:00:00Z", "2026-03-04T10:00:00Z"),
            (m1, W, "2026-03-01T10:00:00Z", "2026-03-03T09:59:59.999Z"),
            (m1, W, "2026-02-01T00:00:00Z", "2026-02-11T00:00:00Z"),
            (m1, W, "2026-01-01T00:00:00Z", "2026-02-10T00:00:00Z"),
            (m1, L, "2025-11-01T00:00:00Z", "2026-02-09T00:00:00Z"),
            (m2, W, "2026-03-05T00:00:00Z", "2026-03-03T00:00:00Z"),
        ];
        for (who, stage, created, closed) in plan {
            let body = json!({"title": "Цикл", "pipeline_id": fx.pipeline,
                "stage_id": fx.stage(stage), "amount": "100",
                "lost_reason": (stage == L).then_some("Дорого")});
            let (rec, _) = store
                .create(who, Entity::Deal, &obj(body), None)
                .await
                .unwrap();
            let id = rec["id"].as_i64().unwrap();
            set_times(
                &store,
                "deals",
                id,
                &[("created_at", at(created)), ("closed_at", at(closed))],
            )
            .await;
        }
        let r = store
            .report_rating(&fx.admin, &ReportParams::default())
            .await
            .unwrap();
        let row = |id: i64| r.managers.iter().find(|m| m.user_id == id).unwrap().clone();
        let a = row(m1.user_id);
        assert_eq!((a.won_count, a.lost_count, a.cycle_days), (4, 1, Some(3)));
        assert_eq!(a.won_amount, 40_000);
        assert_eq!(row(m2.user_id).cycle_days, Some(0));
        // February closings only (one whole month): m1's 10- and 40-day deals and the
        // lost one; median rank ceil(0.5 × 2) = 1 → 10 days.
        let feb = ReportParams {
            period_from: NaiveDate::from_ymd_opt(2026, 2, 1),
            period_to: NaiveDate::from_ymd_opt(2026, 2, 28),
            ..Default::default()
        };
        let r = store.report_rating(&fx.admin, &feb).await.unwrap();
        let a = r.managers.iter().find(|m| m.user_id == m1.user_id).unwrap();
        assert_eq!((a.won_count, a.lost_count, a.cycle_days), (2, 1, Some(10)));
        assert!(r
            .managers
            .iter()
            .all(|m| m.user_id != m2.user_id || m.won_count == 0));
        // One owner: the same figures, nobody else's.
        let one = ReportParams {
            owner: Some(m1.user_id),
            ..Default::default()
        };
        let r = store.report_rating(&fx.admin, &one).await.unwrap();
        assert!(r.managers.iter().all(|m| m.user_id == m1.user_id));
        assert_eq!(r.managers[0].cycle_days, Some(3));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecast_actuals_fall_in_the_month_of_the_actors_time_zone() {
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // Won deals closed (UTC): 1 March 03:00 — still 28 February in New York (UTC−5),
        // so before the report's first month; 1 March 06:00 — March there; 31 March
        // 23:30 — March there; 1 April 03:30 — 31 March there. At the span's outer
        // edges: 28 February 22:00 — February in New York, 1 March in Moscow; 1 May
        // 02:00 — 30 April in New York, May in Moscow. And 1 March 05:00, New York's
        // midnight exactly: the report's first instant there, so March.
        let plan = [
            ("2026-03-01T05:00:00Z", "6400"),
            ("2026-03-01T03:00:00Z", "100"),
            ("2026-03-01T06:00:00Z", "200"),
            ("2026-03-31T23:30:00Z", "400"),
            ("2026-04-01T03:30:00Z", "800"),
            ("2026-02-28T22:00:00Z", "1600"),
            ("2026-05-01T02:00:00Z", "3200"),
        ];
        for (closed, amount) in plan {
            let body = json!({"title": "Выиграна", "pipeline_id": fx.pipeline,
                "stage_id": fx.stage(W), "amount": amount});
            let (rec, _) = store
                .create(&fx.m1, Entity::Deal, &obj(body), None)
                .await
                .unwrap();
            set_times(
                &store,
                "deals",
                rec["id"].as_i64().unwrap(),
                &[("closed_at", at(closed))],
            )
            .await;
        }
        let params = ReportParams {
            period_from: NaiveDate::from_ymd_opt(2026, 3, 1),
            period_to: NaiveDate::from_ymd_opt(2026, 4, 30),
            ..Default::default()
        };
        let mut west = fx.admin.clone();
        west.time_zone = chrono_tz::America::New_York;
        let f = store.report_forecast(&west, &params).await.unwrap();
        let actual: Vec<(&str, i64)> = f
            .months
            .iter()
            .map(|m| (m.month.as_str(), m.actual))
            .collect();
        // March: 6,400 + 200 + 400 + 800 ₽; April: 3,200 ₽ (its last evening). Kopecks.
        assert_eq!(actual, [("2026-03", 780_000), ("2026-04", 320_000)]);
        // In Moscow (UTC+3) 31 March 23:30 and 1 April 03:30 UTC are April deals
        // (1 April 02:30 and 06:30 there), 28 February 22:00 UTC is 1 March 01:00 there
        // and 1 May 02:00 UTC is May: 1,600 + 100 + 6,400 + 200 ₽ in March, 400 + 800 ₽
        // in April.
        let mut east = fx.admin.clone();
        east.time_zone = chrono_tz::Europe::Moscow;
        let f = store.report_forecast(&east, &params).await.unwrap();
        let actual: Vec<i64> = f.months.iter().map(|m| m.actual).collect();
        assert_eq!(actual, [830_000, 120_000]);
    }
}
