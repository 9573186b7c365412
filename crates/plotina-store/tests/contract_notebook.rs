//! The notebook's contract on every backend: items and their actions, items caused by
//! record writes, the sweeps, and gates.

use chrono::{Duration, Utc};
use plotina_core::error::DomainError;
use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use plotina_store::gates::{GateAction, GateInput};
use plotina_store::notebook::{ItemAction, PostItem};
use plotina_store::testing::{self, Fixtures, TestDb};
use plotina_store::{Record, Store, StoreError};
use sea_query::{Alias, Expr, Query};
use serde_json::{json, Map, Value as Json};

struct T {
    store: Store,
    fx: Fixtures,
    _db: TestDb,
}

struct Backend(&'static str);

impl Drop for Backend {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "^^^ notebook contract test failed on the {} backend",
                self.0
            );
        }
    }
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in testing::all().await {
                let _backend = Backend(db.name());
                let (store, fx) = testing::seeded_store(&db).await;
                let t = T { store, fx, _db: db };
                cases::$name(&t).await;
            }
        }
    )*};
}

contract!(
    items_list_overdue_first_and_actions_change_state,
    invalid_item_actions_change_nothing,
    others_items_are_hidden_or_read_only,
    writes_post_items_in_their_transaction,
    sweeps_post_due_tasks_and_stale_deals_once,
    sweeps_go_page_by_page_over_a_large_backlog,
    gate_blocks_deal_move_until_items_are_done,
    gate_on_overdue_tasks_exemptions_and_lead_convert,
    gate_rules_are_validated_and_admin_only,
    handover_moves_everything_open_and_nothing_else,
    discipline_counts_on_time_late_open_and_blocks,
);

fn obj(v: Json) -> Map<String, Json> {
    match v {
        Json::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn id(r: &Record) -> i64 {
    r["id"].as_i64().expect("record id")
}

fn domain<V: std::fmt::Debug>(r: Result<V, StoreError>) -> DomainError {
    match r {
        Err(StoreError::Domain(e)) => e,
        other => panic!("expected a domain error, got {other:?}"),
    }
}

#[track_caller]
fn assert_invalid<V: std::fmt::Debug>(r: Result<V, StoreError>, field: &str, code: &str) {
    match domain(r) {
        DomainError::Invalid(errs) => assert!(
            errs.iter().any(|e| e.field == field && e.code == code),
            "expected {field}: {code}, got {errs:?}"
        ),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// The listed blocking items of a gate refusal as (kind, entity, record_id).
#[track_caller]
fn locked<V: std::fmt::Debug>(r: Result<V, StoreError>) -> Vec<(String, String, i64)> {
    match domain(r) {
        DomainError::Locked(r) => {
            assert_eq!(r.reason.code, "notebook_gate_blocked");
            r.items
                .as_array()
                .expect("items list")
                .iter()
                .map(|i| {
                    (
                        i["kind"].as_str().unwrap_or("").to_string(),
                        i["entity"].as_str().unwrap_or("").to_string(),
                        i["record_id"].as_i64().unwrap_or(0),
                    )
                })
                .collect()
        }
        other => panic!("expected Locked, got {other:?}"),
    }
}

impl T {
    async fn create(&self, a: &Actor, e: Entity, body: Json) -> Record {
        let shown = body.to_string();
        self.store
            .create(a, e, &obj(body), None)
            .await
            .map(|(r, _)| r)
            .unwrap_or_else(|err| panic!("create {e:?} {shown}: {err:?}"))
    }

    async fn post(&self, owner: &Actor, kind: &str, text: &str, due_hours: Option<i64>) -> i64 {
        let input = PostItem {
            kind: kind.into(),
            owner_id: owner.user_id,
            entity: None,
            record_id: None,
            text: text.into(),
            due_at: due_hours.map(|h| Utc::now() + Duration::hours(h)),
            source: None,
            dedupe_key: None,
            payload: None,
        };
        let (item, created) = self
            .store
            .post_item_from_api(&self.fx.admin, input)
            .await
            .expect("post item");
        assert!(created);
        item.id
    }

    /// (text, state) of the actor's open items, in notebook order.
    async fn texts(&self, a: &Actor) -> Vec<String> {
        self.store
            .notebook(a, None, 500)
            .await
            .expect("notebook")
            .into_iter()
            .map(|i| i.text)
            .collect()
    }

    async fn set_time(&self, table: &str, column: &str, id: i64, at: chrono::DateTime<Utc>) {
        let mut tx = self.store.pool().begin_write().await.unwrap();
        tx.execute(
            &Query::update()
                .table(Alias::new(table))
                .value(Alias::new(column), at)
                .and_where(Expr::col(Alias::new("id")).eq(id))
                .to_owned(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    async fn gate(&self, body: Json) -> i64 {
        let input: GateInput = serde_json::from_value(body).expect("gate input");
        self.store
            .create_gate(&self.fx.admin, &input)
            .await
            .expect("create gate")
            .id
    }
}

mod cases {
    use super::*;

    pub async fn items_list_overdue_first_and_actions_change_state(t: &T) {
        let m1 = &t.fx.m1;
        let later = t.post(m1, "system", "later", Some(48)).await;
        let undated = t.post(m1, "system", "undated", None).await;
        let late = t.post(m1, "missed_call", "late", Some(-3)).await;
        let soon = t.post(m1, "system", "soon", Some(2)).await;
        assert_eq!(t.texts(m1).await, ["late", "soon", "later", "undated"]);
        let items = t.store.notebook(m1, None, 500).await.unwrap();
        assert_eq!(
            items.iter().map(|i| i.overdue).collect::<Vec<_>>(),
            [true, false, false, false]
        );
        assert_eq!(items[0].kind, "missed_call");
        assert_eq!(items[0].source, "integration:admin");

        let done = t
            .store
            .act_on_item(m1, late, ItemAction::Done)
            .await
            .unwrap();
        assert_eq!(done.state, "done");
        assert_eq!(done.closed_by, Some(m1.user_id));
        t.store
            .act_on_item(m1, undated, ItemAction::Dismiss)
            .await
            .unwrap();
        assert_eq!(t.texts(m1).await, ["soon", "later"]);

        // Snoozed items leave the notebook and come back when their time comes.
        let until = Utc::now() + Duration::hours(5);
        let s = t
            .store
            .act_on_item(m1, soon, ItemAction::Snooze(until))
            .await
            .unwrap();
        assert_eq!(s.state, "snoozed");
        assert_eq!(t.texts(m1).await, ["later"]);
        t.set_time(
            "notebook_items",
            "snoozed_until",
            soon,
            Utc::now() - Duration::minutes(1),
        )
        .await;
        assert_eq!(t.texts(m1).await, ["soon", "later"]);

        // Reschedule moves the due time (and the order).
        let due = Utc::now() + Duration::hours(72);
        let r = t
            .store
            .act_on_item(m1, soon, ItemAction::Reschedule(due))
            .await
            .unwrap();
        assert_eq!(
            r.due_at.map(|d| d.timestamp()),
            Some(due.timestamp()),
            "due time moved"
        );
        assert_eq!(t.texts(m1).await, ["later", "soon"]);

        // Delegate hands the item to another person.
        let d = t
            .store
            .act_on_item(m1, later, ItemAction::Delegate(t.fx.m2.user_id))
            .await
            .unwrap();
        assert_eq!(d.owner_id, t.fx.m2.user_id);
        assert_eq!(d.payload, Some(json!({"delegated_by": m1.user_id})));
        assert_eq!(t.texts(m1).await, ["soon"]);
        assert_eq!(t.texts(&t.fx.m2).await, ["later"]);
    }

    pub async fn invalid_item_actions_change_nothing(t: &T) {
        let m1 = &t.fx.m1;
        let it = t.post(m1, "system", "one", Some(1)).await;
        let before = t.store.notebook_item(m1, it).await.unwrap();
        let past = Utc::now() - Duration::minutes(5);
        assert_invalid(
            t.store.act_on_item(m1, it, ItemAction::Snooze(past)).await,
            "until",
            "notebook_snooze_past",
        );
        assert_invalid(
            t.store
                .act_on_item(m1, it, ItemAction::Reschedule(past))
                .await,
            "due_at",
            "notebook_due_past",
        );
        assert_invalid(
            t.store
                .act_on_item(m1, it, ItemAction::Delegate(m1.user_id))
                .await,
            "user_id",
            "notebook_delegate_self",
        );
        assert_invalid(
            t.store
                .act_on_item(m1, it, ItemAction::Delegate(999_999))
                .await,
            "user_id",
            "link_not_found",
        );
        assert_eq!(t.store.notebook_item(m1, it).await.unwrap(), before);

        t.store.act_on_item(m1, it, ItemAction::Done).await.unwrap();
        match domain(t.store.act_on_item(m1, it, ItemAction::Dismiss).await) {
            DomainError::Conflict(e) => assert_eq!(e.code, "notebook_item_closed"),
            other => panic!("expected Conflict, got {other:?}"),
        }
        assert_eq!(
            t.store.notebook_item(m1, it).await.unwrap().state,
            "done",
            "a closed item stays closed"
        );

        // Bad posts: nothing is written.
        let bad = PostItem {
            kind: "Bad Kind".into(),
            owner_id: 999_999,
            entity: Some("deal".into()),
            record_id: Some(999_999),
            text: "  ".into(),
            due_at: None,
            source: None,
            dedupe_key: None,
            payload: Some(json!([1])),
        };
        let r = t.store.post_item_from_api(&t.fx.admin, bad).await;
        match domain(r) {
            DomainError::Invalid(errs) => {
                let mut got: Vec<(String, &str)> =
                    errs.into_iter().map(|e| (e.field, e.code)).collect();
                got.sort();
                assert_eq!(
                    got,
                    [
                        ("kind".to_string(), "notebook_bad_kind"),
                        ("owner_id".to_string(), "link_not_found"),
                        ("payload".to_string(), "notebook_payload_object"),
                        ("record_id".to_string(), "link_not_found"),
                        ("text".to_string(), "required"),
                    ]
                );
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        assert_eq!(
            testing::row_count(t.store.pool(), "notebook_items").await,
            1
        );

        // A retried post with the same dedupe key returns the first item.
        let input = |text: &str| PostItem {
            kind: "web_order".into(),
            owner_id: m1.user_id,
            entity: None,
            record_id: None,
            text: text.into(),
            due_at: None,
            source: Some("integration:shop".into()),
            dedupe_key: Some("order-17".into()),
            payload: Some(json!({"order": 17})),
        };
        let (a, created_a) = t
            .store
            .post_item_from_api(&t.fx.admin, input("Заказ 17"))
            .await
            .unwrap();
        let (b, created_b) = t
            .store
            .post_item_from_api(&t.fx.admin, input("Заказ 17 (повтор)"))
            .await
            .unwrap();
        assert_eq!((created_a, created_b), (true, false));
        assert_eq!(a.id, b.id);
        assert_eq!(b.text, "Заказ 17");
        assert_eq!(
            testing::row_count(t.store.pool(), "notebook_items").await,
            2
        );
    }

    pub async fn others_items_are_hidden_or_read_only(t: &T) {
        let (m1, m2, head) = (&t.fx.m1, &t.fx.m2, &t.fx.head);
        let it = t.post(m1, "system", "mine", None).await;
        // A colleague neither sees nor touches it.
        assert!(matches!(
            domain(t.store.notebook(m2, Some(m1.user_id), 100).await),
            DomainError::NotFound
        ));
        assert!(matches!(
            domain(t.store.act_on_item(m2, it, ItemAction::Done).await),
            DomainError::NotFound
        ));
        // The head of the department reads it, but may not act on it.
        let seen = t.store.notebook(head, Some(m1.user_id), 100).await.unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].id, it);
        assert!(matches!(
            domain(t.store.act_on_item(head, it, ItemAction::Done).await),
            DomainError::Forbidden("notebook_not_yours")
        ));
        assert_eq!(t.store.notebook_item(m1, it).await.unwrap().state, "open");
        assert!(matches!(
            domain(t.store.notebook(m1, None, 0).await),
            DomainError::BadRequest(_)
        ));
    }

    pub async fn writes_post_items_in_their_transaction(t: &T) {
        let (m1, m2, admin) = (&t.fx.m1, &t.fx.m2, &t.fx.admin);
        // A task m1 gives to m2 lands in m2's notebook; m1's own task does not.
        let task = t
            .create(
                m1,
                Entity::Activity,
                json!({"kind": "task", "subject": "Отправить КП", "assignee_id": m2.user_id,
                       "due_at": "2030-01-10T09:00:00Z"}),
            )
            .await;
        t.create(
            m1,
            Entity::Activity,
            json!({"kind": "call", "subject": "Себе"}),
        )
        .await;
        let items = t.store.notebook(m2, None, 100).await.unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].kind, "task_assigned");
        assert_eq!(items[0].text, "Отправить КП");
        assert_eq!(items[0].entity.as_deref(), Some("activity"));
        assert_eq!(items[0].record_id, Some(id(&task)));
        assert_eq!(items[0].created_by, Some(m1.user_id));
        assert_eq!(
            items[0].due_at.map(|d| d.to_rfc3339()),
            Some("2030-01-10T09:00:00+00:00".to_string())
        );
        assert!(t.store.notebook(m1, None, 100).await.unwrap().is_empty());
        // A failed write posts nothing.
        let bad = t
            .store
            .create(
                m1,
                Entity::Activity,
                &obj(json!({"kind": "task", "subject": "x", "assignee_id": m2.user_id, "deal_id": 999_999})),
                None,
            )
            .await;
        assert!(bad.is_err());
        assert_eq!(t.store.notebook(m2, None, 100).await.unwrap().len(), 1);
        // Done closes the item.
        t.store
            .update(
                m2,
                Entity::Activity,
                id(&task),
                &obj(json!({"done": true})),
                None,
            )
            .await
            .unwrap();
        assert!(t.store.notebook(m2, None, 100).await.unwrap().is_empty());

        // A lead given to m1 by the administrator.
        let lead = t
            .create(
                admin,
                Entity::Lead,
                json!({"title": "Заявка с сайта", "owner_id": m1.user_id}),
            )
            .await;
        let items = t.store.notebook(m1, None, 100).await.unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(
            (items[0].kind.as_str(), items[0].record_id),
            ("lead_assigned", Some(id(&lead)))
        );
        // m1's own lead: nothing.
        t.create(m1, Entity::Lead, json!({"title": "Своя"})).await;
        assert_eq!(t.store.notebook(m1, None, 100).await.unwrap().len(), 1);
    }

    /// More overdue tasks than one page of the sweep (1,000): every one gets its item
    /// once, across page boundaries, and the next sweep posts nothing.
    pub async fn sweeps_go_page_by_page_over_a_large_backlog(t: &T) {
        let m1 = &t.fx.m1;
        let now = Utc::now();
        let mut tx = t.store.pool().begin_write().await.unwrap();
        // Bound as instants: the text SQLite stores them as is the driver's encoding.
        let at = |when: chrono::DateTime<Utc>| -> sea_query::Value { when.into() };
        let rows: Vec<Vec<sea_query::SimpleExpr>> = (0..2345)
            .map(|i| {
                plotina_store::db::vals([
                    "task".into(),
                    format!("Просроченная задача {i}").into(),
                    m1.user_id.into(),
                    at(now - Duration::hours(1)),
                    at(now),
                    at(now),
                ])
            })
            .collect();
        plotina_store::db::insert_rows(
            &mut tx,
            "activities",
            &[
                "kind",
                "subject",
                "owner_id",
                "due_at",
                "created_at",
                "updated_at",
            ],
            rows,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let before = testing::row_count(t.store.pool(), "notebook_items").await;
        let first = t.store.sweep_notebook(now).await.unwrap();
        assert_eq!(first.task_due, 2345);
        assert_eq!(
            testing::row_count(t.store.pool(), "notebook_items").await,
            before + 2345
        );
        let again = t.store.sweep_notebook(now).await.unwrap();
        assert_eq!((again.task_due, again.deal_stale), (0, 0));
    }

    pub async fn sweeps_post_due_tasks_and_stale_deals_once(t: &T) {
        let (m1, admin) = (&t.fx.m1, &t.fx.admin);
        let now = Utc::now();
        let overdue = t
            .create(
                m1,
                Entity::Activity,
                json!({"kind": "task", "subject": "Просрочено",
                       "due_at": (now - Duration::hours(2)).to_rfc3339()}),
            )
            .await;
        t.create(
            m1,
            Entity::Activity,
            json!({"kind": "task", "subject": "Через неделю",
                   "due_at": (now + Duration::days(7)).to_rfc3339()}),
        )
        .await;
        t.create(
            m1,
            Entity::Activity,
            json!({"kind": "task", "subject": "Сделано", "done": true,
                   "due_at": (now - Duration::hours(5)).to_rfc3339()}),
        )
        .await;
        // The stage «Новая» rots after 14 days: one deal entered it 15 days ago, one today.
        let stale = t
            .create(
                m1,
                Entity::Deal,
                json!({"title": "Застряла", "pipeline_id": t.fx.pipeline}),
            )
            .await;
        t.create(
            m1,
            Entity::Deal,
            json!({"title": "Свежая", "pipeline_id": t.fx.pipeline}),
        )
        .await;
        t.set_time(
            "deals",
            "stage_changed_at",
            id(&stale),
            now - Duration::days(15),
        )
        .await;

        let first = t.store.sweep_notebook(now).await.unwrap();
        assert_eq!((first.task_due, first.deal_stale), (1, 1));
        let again = t.store.sweep_notebook(now).await.unwrap();
        assert_eq!((again.task_due, again.deal_stale), (0, 0));
        let items = t.store.notebook(m1, None, 100).await.unwrap();
        let mut got: Vec<(String, i64)> = items
            .iter()
            .map(|i| (i.kind.clone(), i.record_id.unwrap_or_default()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("deal_stale".to_string(), id(&stale)),
                ("task_due".to_string(), id(&overdue)),
            ]
        );
        // Moving the deal closes its stale item; finishing the task closes its item.
        t.store
            .update(
                m1,
                Entity::Deal,
                id(&stale),
                &obj(json!({"stage_id": t.fx.stage("Квалификация")})),
                None,
            )
            .await
            .unwrap();
        t.store
            .update(
                m1,
                Entity::Activity,
                id(&overdue),
                &obj(json!({"done": true})),
                None,
            )
            .await
            .unwrap();
        assert!(t.store.notebook(m1, None, 100).await.unwrap().is_empty());
        let _ = admin;
    }

    pub async fn gate_blocks_deal_move_until_items_are_done(t: &T) {
        let (m1, m2) = (&t.fx.m1, &t.fx.m2);
        let deal = t
            .create(
                m1,
                Entity::Deal,
                json!({"title": "Поставка", "pipeline_id": t.fx.pipeline}),
            )
            .await;
        let gate = t
            .gate(json!({"name": "Сначала блокнот", "action": "deal_move",
                         "kinds": ["missed_call", "task_assigned"], "older_than_hours": 1}))
            .await;
        let old = t
            .post(m1, "missed_call", "Пропущенный звонок", Some(-2))
            .await;
        // Not counted: too recent, another kind, somebody else's.
        t.post(m1, "missed_call", "Только что", Some(-0)).await;
        t.post(m1, "system", "Сообщение", Some(-5)).await;
        t.post(m2, "system", "Чужой", Some(-5)).await;

        let move_to = |stage: &str| obj(json!({"stage_id": t.fx.stage(stage)}));
        let r = t
            .store
            .update(m1, Entity::Deal, id(&deal), &move_to("Квалификация"), None)
            .await;
        assert_eq!(locked(r), [("missed_call".to_string(), String::new(), 0)]);
        let stored = t.store.get(m1, Entity::Deal, id(&deal)).await.unwrap();
        assert_eq!(stored["stage_id"], json!(t.fx.stage("Новая")), "not moved");
        // An edit that keeps the stage is not a move.
        t.store
            .update(
                m1,
                Entity::Deal,
                id(&deal),
                &obj(json!({"title": "Поставка 2", "stage_id": t.fx.stage("Новая")})),
                None,
            )
            .await
            .unwrap();
        // Deal creation is not gated by this rule; m2 is not blocked.
        t.create(
            m1,
            Entity::Deal,
            json!({"title": "Новая", "pipeline_id": t.fx.pipeline}),
        )
        .await;
        let other = t
            .create(
                m2,
                Entity::Deal,
                json!({"title": "Урал", "pipeline_id": t.fx.pipeline}),
            )
            .await;
        t.store
            .update(m2, Entity::Deal, id(&other), &move_to("Квалификация"), None)
            .await
            .unwrap();

        let blocks = t.store.gate_blocks(&t.fx.admin, None, 100).await.unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(
            (
                blocks[0].gate_id,
                blocks[0].user_id,
                blocks[0].action.as_str(),
                blocks[0].record_id,
                blocks[0].item_count
            ),
            (Some(gate), m1.user_id, "deal_move", Some(id(&deal)), 1)
        );
        // The moment the item is done, the move goes through.
        t.store
            .act_on_item(m1, old, ItemAction::Done)
            .await
            .unwrap();
        let moved = t
            .store
            .update(m1, Entity::Deal, id(&deal), &move_to("Квалификация"), None)
            .await
            .unwrap();
        assert_eq!(moved["stage_id"], json!(t.fx.stage("Квалификация")));
        // An inactive gate blocks nothing.
        t.post(m1, "missed_call", "Ещё", Some(-3)).await;
        let input: GateInput = serde_json::from_value(json!({"name": "Сначала блокнот",
            "action": "deal_move", "kinds": ["missed_call"], "older_than_hours": 1, "active": false}))
        .unwrap();
        t.store
            .update_gate(&t.fx.admin, gate, &input)
            .await
            .unwrap();
        t.store
            .update(m1, Entity::Deal, id(&deal), &move_to("Переговоры"), None)
            .await
            .unwrap();
        assert_eq!(
            testing::row_count(t.store.pool(), "notebook_gate_blocks").await,
            1
        );
    }

    pub async fn gate_on_overdue_tasks_exemptions_and_lead_convert(t: &T) {
        let (m1, head) = (&t.fx.m1, &t.fx.head);
        let head_role = t.fx.roles["head_of_sales"];
        t.gate(
            json!({"name": "Не больше одной просроченной", "action": "deal_create",
                      "max_overdue_tasks": 1, "exempt_role_ids": [head_role]}),
        )
        .await;
        t.gate(
            json!({"name": "Лиды", "action": "lead_convert", "kinds": ["lead_assigned"],
                      "older_than_hours": 0}),
        )
        .await;
        let past = |h: i64| (Utc::now() - Duration::hours(h)).to_rfc3339();
        let a = t
            .create(
                m1,
                Entity::Activity,
                json!({"kind": "task", "subject": "A", "due_at": past(3)}),
            )
            .await;
        let deal = json!({"title": "Сделка", "pipeline_id": t.fx.pipeline});
        // One overdue task is allowed.
        t.create(m1, Entity::Deal, deal.clone()).await;
        let b = t
            .create(
                m1,
                Entity::Activity,
                json!({"kind": "call", "subject": "B", "due_at": past(1)}),
            )
            .await;
        let r = t
            .store
            .create(m1, Entity::Deal, &obj(deal.clone()), None)
            .await;
        assert_eq!(
            locked(r),
            [
                ("task_due".to_string(), "activity".to_string(), id(&a)),
                ("task_due".to_string(), "activity".to_string(), id(&b)),
            ]
        );
        // The head's role is exempt, even with overdue tasks of their own.
        for s in ["H1", "H2"] {
            t.create(
                head,
                Entity::Activity,
                json!({"kind": "task", "subject": s, "due_at": past(2)}),
            )
            .await;
        }
        t.create(head, Entity::Deal, deal.clone()).await;
        // Finishing one task lifts the gate.
        t.store
            .update(
                m1,
                Entity::Activity,
                id(&a),
                &obj(json!({"done": true})),
                None,
            )
            .await
            .unwrap();
        t.create(m1, Entity::Deal, deal.clone()).await;

        // Lead conversion: blocked while a lead given to m1 waits in the notebook.
        let lead = t
            .create(
                &t.fx.admin,
                Entity::Lead,
                json!({"title": "Входящая", "owner_id": m1.user_id}),
            )
            .await;
        let req: plotina_store::sales::ConvertRequest =
            serde_json::from_value(json!({"create_deal": false})).unwrap();
        let r = t.store.convert_lead(m1, id(&lead), req.clone()).await;
        assert_eq!(
            locked(r),
            [("lead_assigned".to_string(), "lead".to_string(), id(&lead))]
        );
        let item = t.store.notebook(m1, None, 10).await.unwrap()[0].id;
        t.store
            .act_on_item(m1, item, ItemAction::Done)
            .await
            .unwrap();
        let out = t.store.convert_lead(m1, id(&lead), req).await.unwrap();
        assert_eq!(out.lead["status"], json!("converted"));
        let blocks = t.store.gate_blocks(m1, None, 100).await.unwrap();
        let mut actions: Vec<&str> = blocks.iter().map(|b| b.action.as_str()).collect();
        actions.sort();
        assert_eq!(actions, ["deal_create", "lead_convert"]);
        // Export is a gate action other features call.
        assert_eq!(GateAction::from_code("export"), Some(GateAction::Export));
        t.store
            .check_gate(m1, GateAction::Export, None)
            .await
            .unwrap();
    }

    pub async fn gate_rules_are_validated_and_admin_only(t: &T) {
        let admin = &t.fx.admin;
        let bad: GateInput = serde_json::from_value(json!({"name": " ", "action": "fly",
            "kinds": ["Bad"], "older_than_hours": -1, "max_overdue_tasks": 100000,
            "exempt_role_ids": [999999]}))
        .unwrap();
        match domain(t.store.create_gate(admin, &bad).await) {
            DomainError::Invalid(errs) => {
                let mut got: Vec<(String, &str)> =
                    errs.into_iter().map(|e| (e.field, e.code)).collect();
                got.sort();
                assert_eq!(
                    got,
                    [
                        ("action".to_string(), "gate_bad_action"),
                        ("exempt_role_ids".to_string(), "link_not_found"),
                        ("kinds".to_string(), "notebook_bad_kind"),
                        ("max_overdue_tasks".to_string(), "gate_count_range"),
                        ("name".to_string(), "required"),
                        ("older_than_hours".to_string(), "gate_hours_range"),
                    ]
                );
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        let none: GateInput =
            serde_json::from_value(json!({"name": "x", "action": "export"})).unwrap();
        assert_invalid(
            t.store.create_gate(admin, &none).await,
            "older_than_hours",
            "gate_no_condition",
        );
        let ok: GateInput = serde_json::from_value(
            json!({"name": "Экспорт", "action": "export", "max_overdue_tasks": 0}),
        )
        .unwrap();
        assert!(matches!(
            domain(t.store.create_gate(&t.fx.m1, &ok).await),
            DomainError::Forbidden(_)
        ));
        assert_eq!(
            testing::row_count(t.store.pool(), "notebook_gates").await,
            0
        );
        let g = t.store.create_gate(admin, &ok).await.unwrap();
        assert_eq!(
            (
                g.name.as_str(),
                g.action.as_str(),
                g.max_overdue_tasks,
                g.active
            ),
            ("Экспорт", "export", Some(0), true)
        );
        assert_eq!(t.store.gates(admin).await.unwrap(), vec![g.clone()]);
        t.store.delete_gate(admin, g.id).await.unwrap();
        assert!(matches!(
            domain(t.store.gate(admin, g.id).await),
            DomainError::NotFound
        ));
    }

    pub async fn handover_moves_everything_open_and_nothing_else(t: &T) {
        use plotina_store::handover::HandoverRequest;
        let (m1, m2, head, admin) = (&t.fx.m1, &t.fx.m2, &t.fx.head, &t.fx.admin);
        let c1 = t
            .create(m1, Entity::Company, json!({"name": "ООО «Один»"}))
            .await;
        let c2 = t
            .create(m1, Entity::Company, json!({"name": "ООО «Два»"}))
            .await;
        let deal = json!({"title": "Сделка", "pipeline_id": t.fx.pipeline});
        let d1 = t.create(m1, Entity::Deal, deal.clone()).await;
        let d2 = t.create(m1, Entity::Deal, deal.clone()).await;
        let won = t.create(m1, Entity::Deal, deal.clone()).await;
        t.store
            .update(
                m1,
                Entity::Deal,
                id(&won),
                &obj(json!({"stage_id": t.fx.stage("Успешно")})),
                None,
            )
            .await
            .unwrap();
        let l1 = t.create(m1, Entity::Lead, json!({"title": "Лид"})).await;
        let a1 = t
            .create(
                m1,
                Entity::Activity,
                json!({"kind": "task", "subject": "Задача 1"}),
            )
            .await;
        let a2 = t
            .create(
                m1,
                Entity::Activity,
                json!({"kind": "call", "subject": "Звонок 2"}),
            )
            .await;
        let done = t
            .create(
                m1,
                Entity::Activity,
                json!({"kind": "task", "subject": "Готово", "done": true}),
            )
            .await;
        let theirs_deal = t.create(m2, Entity::Deal, deal.clone()).await;
        let theirs_company = t
            .create(m2, Entity::Company, json!({"name": "ООО «Чужая»"}))
            .await;

        let req = |to: Vec<i64>| HandoverRequest {
            from_user_id: m1.user_id,
            to_user_ids: to,
            by_entity: Default::default(),
        };
        let before = testing::row_counts(t.store.pool()).await;
        assert_invalid(
            t.store.hand_over(admin, &req(vec![m1.user_id])).await,
            "to_user_ids",
            "handover_to_self",
        );
        assert_invalid(
            t.store.hand_over(admin, &req(vec![])).await,
            "to_user_ids",
            "required",
        );
        assert!(matches!(
            domain(t.store.hand_over(head, &req(vec![m2.user_id])).await),
            DomainError::Forbidden(_)
        ));
        assert_eq!(
            testing::row_counts(t.store.pool()).await,
            before,
            "nothing changed"
        );

        let out = t
            .store
            .hand_over(admin, &req(vec![m2.user_id, head.user_id]))
            .await
            .unwrap();
        // Round robin in entity order (deals, leads, companies, activities), ids ascending.
        let of = |u: i64| out.iter().find(|h| h.user_id == u).unwrap().clone();
        let to_m2 = of(m2.user_id);
        let to_head = of(head.user_id);
        assert_eq!(
            (to_m2.deals, to_m2.leads, to_m2.companies, to_m2.activities),
            (vec![id(&d1)], vec![id(&l1)], vec![id(&c2)], vec![id(&a2)])
        );
        assert_eq!(
            (
                to_head.deals,
                to_head.leads,
                to_head.companies,
                to_head.activities
            ),
            (vec![id(&d2)], vec![], vec![id(&c1)], vec![id(&a1)])
        );
        let owner = |e: Entity, r: &Record| {
            let (e, rid) = (e, id(r));
            async move { t.store.get(admin, e, rid).await.unwrap() }
        };
        assert_eq!(
            owner(Entity::Deal, &d1).await["owner_id"],
            json!(m2.user_id)
        );
        assert_eq!(
            owner(Entity::Deal, &d2).await["owner_id"],
            json!(head.user_id)
        );
        assert_eq!(
            owner(Entity::Lead, &l1).await["owner_id"],
            json!(m2.user_id)
        );
        assert_eq!(
            owner(Entity::Company, &c1).await["owner_id"],
            json!(head.user_id)
        );
        assert_eq!(
            owner(Entity::Company, &c2).await["owner_id"],
            json!(m2.user_id)
        );
        let a1_now = owner(Entity::Activity, &a1).await;
        assert_eq!(
            (a1_now["assignee_id"].clone(), a1_now["owner_id"].clone()),
            (json!(head.user_id), json!(head.user_id))
        );
        // Not open, or not m1's: untouched.
        let won_now = owner(Entity::Deal, &won).await;
        assert_eq!(won_now["owner_id"], json!(m1.user_id));
        let done_now = owner(Entity::Activity, &done).await;
        assert_eq!(done_now["assignee_id"], json!(m1.user_id));
        for (e, r) in [
            (Entity::Deal, &theirs_deal),
            (Entity::Company, &theirs_company),
        ] {
            let now = owner(e, r).await;
            assert_eq!(&now, r, "{e:?} of another user unchanged");
        }
        // History records the change.
        let h = t
            .store
            .history(admin, Entity::Deal, id(&d1), None, 50)
            .await
            .unwrap();
        assert!(
            h.iter().any(|e| e.field.as_deref() == Some("owner_id")
                && e.old_value == json!(m1.user_id)
                && e.new_value == json!(m2.user_id)),
            "{h:?}"
        );
        // Receivers' notebooks: one hand-over item each, plus the assignment items.
        let kinds = |a: &Actor| {
            let a = a.clone();
            async move {
                let mut k: Vec<String> = t
                    .store
                    .notebook(&a, None, 100)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|i| i.kind)
                    .collect();
                k.sort();
                k
            }
        };
        assert_eq!(
            kinds(m2).await,
            ["handover", "lead_assigned", "task_assigned"]
        );
        assert_eq!(kinds(head).await, ["handover", "task_assigned"]);
        let item = t.store.notebook(m2, None, 100).await.unwrap();
        let ho = item.iter().find(|i| i.kind == "handover").unwrap();
        assert_eq!(ho.payload.as_ref().unwrap()["deals"], json!([id(&d1)]));
        assert_eq!(ho.text, "Менеджер Первый");
    }

    pub async fn discipline_counts_on_time_late_open_and_blocks(t: &T) {
        let (m1, head) = (&t.fx.m1, &t.fx.head);
        let on_time = t.post(m1, "system", "вовремя", Some(5)).await;
        let late = t.post(m1, "system", "поздно", Some(-1)).await;
        t.post(m1, "system", "висит", Some(-2)).await;
        t.post(&t.fx.m2, "system", "у коллеги", Some(-3)).await;
        t.store
            .act_on_item(m1, on_time, ItemAction::Done)
            .await
            .unwrap();
        t.store
            .act_on_item(m1, late, ItemAction::Dismiss)
            .await
            .unwrap();
        t.gate(json!({"name": "Экспорт", "action": "export", "older_than_hours": 1}))
            .await;
        assert!(t
            .store
            .check_gate(m1, GateAction::Export, None)
            .await
            .is_err());

        let now = Utc::now();
        let rows = t.store.discipline(head, 2, now).await.unwrap();
        let sum = |u: i64| {
            rows.iter()
                .filter(|r| r.user_id == u)
                .fold([0; 4], |mut a, r| {
                    a[0] += r.on_time;
                    a[1] += r.late;
                    a[2] += r.open;
                    a[3] += r.gate_blocks;
                    a
                })
        };
        assert_eq!(sum(m1.user_id), [1, 1, 1, 1]);
        assert_eq!(sum(t.fx.m2.user_id), [0, 0, 1, 0]);
        assert_eq!(
            rows.iter().filter(|r| r.user_id == m1.user_id).count(),
            2,
            "two weeks"
        );
        assert!(
            !rows.iter().any(|r| r.user_id == t.fx.support.user_id),
            "another department"
        );
        let own = t.store.discipline(m1, 4, now).await.unwrap();
        assert_eq!(own.len(), 4);
        assert!(own.iter().all(|r| r.user_id == m1.user_id));
        assert!(matches!(
            domain(t.store.discipline(m1, 0, now).await),
            DomainError::BadRequest(_)
        ));
    }
}
