//! Automation on both engines: the estimate flow across linked deals, loops, round-robin,
//! failures with retries, the scheduler across a restart, dry runs, incoming webhooks and
//! the checks at save.

use chrono::Duration;
use plotina_core::automation::RuleInput;
use plotina_core::error::DomainError;
use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use plotina_store::automation::{RunQuery, StoredRule};
use plotina_store::testing::{self, Fixtures, PASSWORD};
use plotina_store::{bootstrap, eq_filter, ListParams, Record, Store, StoreError};
use serde_json::{json, Map, Value as Json};

fn obj(v: Json) -> Map<String, Json> {
    v.as_object().cloned().expect("object")
}

fn id(r: &Record) -> i64 {
    r["id"].as_i64().expect("id")
}

async fn each_backend<F, Fut>(f: F)
where
    F: Fn(Store, Fixtures) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        f(store, fx).await;
        drop(db);
    }
}

async fn rule(store: &Store, admin: &Actor, v: Json) -> StoredRule {
    let input: RuleInput = serde_json::from_value(v).expect("rule input");
    store
        .create_automation_rule(admin, &input)
        .await
        .expect("save rule")
}

async fn create(store: &Store, a: &Actor, e: Entity, v: Json) -> Record {
    store.create(a, e, &obj(v), None).await.expect("create").0
}

async fn update(store: &Store, a: &Actor, e: Entity, id: i64, v: Json) -> Record {
    store.update(a, e, id, &obj(v), None).await.expect("update")
}

/// A pipeline with the named stages (the last two closing: won, lost); stage ids by name.
async fn pipeline(store: &Store, admin: &Actor, name: &str, stages: &[&str]) -> (i64, Vec<i64>) {
    let p = create(store, admin, Entity::Pipeline, json!({"name": name})).await;
    let mut ids = Vec::new();
    for (i, s) in stages.iter().enumerate() {
        let st = create(
            store,
            admin,
            Entity::Stage,
            json!({"pipeline_id": id(&p), "name": s, "position": i, "kind": "open"}),
        )
        .await;
        ids.push(id(&st));
    }
    (id(&p), ids)
}

async fn runs_of_rule(store: &Store, admin: &Actor, rule: i64) -> Vec<String> {
    let q = RunQuery {
        rule_id: Some(rule),
        limit: 100,
        ..Default::default()
    };
    let mut rows = store.automation_runs(admin, &q).await.expect("runs");
    rows.reverse();
    rows.into_iter().map(|r| r.status).collect()
}

async fn children(store: &Store, a: &Actor, parent: i64) -> Vec<Record> {
    let params = ListParams {
        and: vec![eq_filter("parent_id", parent)],
        ..Default::default()
    };
    store
        .list(a, Entity::Deal, &params)
        .await
        .expect("list")
        .data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimate_flow_across_linked_deals() {
    each_backend(|store, fx| async move {
        let admin = &fx.admin;
        let (sales, s) = pipeline(
            &store,
            admin,
            "Продажи с оценкой",
            &["Новая", "Оценить", "Оценка готова", "Договор"],
        )
        .await;
        let (logistics, l) = pipeline(
            &store,
            admin,
            "Логистика: оценка",
            &["Новая", "В работе", "Согласование"],
        )
        .await;
        let r1 = rule(
            &store,
            admin,
            json!({"name": "Запросить оценку у логистов", "entity": "deal", "pipeline_id": sales,
                   "trigger": {"type": "stage_entered", "stage_id": s[1]},
                   "actions": [{"type": "create_child_deal", "pipeline_id": logistics,
                                "title": "Оценка: {{title}}",
                                "fields": {"source": "{{source}}", "amount": "{{amount}}"}}]}),
        )
        .await;
        let r2 = rule(
            &store,
            admin,
            json!({"name": "Оценка согласована", "entity": "deal", "pipeline_id": logistics,
                   "trigger": {"type": "stage_entered", "stage_id": l[2]},
                   "actions": [{"type": "move_parent", "stage_id": s[2]}]}),
        )
        .await;

        let m1 = &fx.m1;
        let deal = create(
            &store,
            m1,
            Entity::Deal,
            json!({"title": "Поставка труб", "pipeline_id": sales, "amount": "250000.00",
                   "source": "Яндекс.Директ"}),
        )
        .await;
        assert!(children(&store, admin, id(&deal)).await.is_empty());
        update(
            &store,
            m1,
            Entity::Deal,
            id(&deal),
            json!({"stage_id": s[1]}),
        )
        .await;

        let kids = children(&store, admin, id(&deal)).await;
        assert_eq!(kids.len(), 1);
        let child = &kids[0];
        assert_eq!(child["title"], json!("Оценка: Поставка труб"));
        assert_eq!(child["pipeline_id"], json!(logistics));
        assert_eq!(child["stage_id"], json!(l[0]));
        assert_eq!(child["source"], json!("Яндекс.Директ"));
        assert_eq!(child["amount"], json!("250000.00"));
        assert_eq!(child["owner_id"], json!(m1.user_id));
        // The filter language sees the link both ways.
        let parents = store
            .list(
                admin,
                Entity::Deal,
                &ListParams {
                    filter: Some(r#"children.pipeline = "Логистика: оценка""#.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .data;
        assert_eq!(parents.iter().map(id).collect::<Vec<_>>(), vec![id(&deal)]);

        // The logistician moves the child; the parent follows by itself.
        update(
            &store,
            admin,
            Entity::Deal,
            id(child),
            json!({"stage_id": l[1]}),
        )
        .await;
        assert_eq!(
            store.get(admin, Entity::Deal, id(&deal)).await.unwrap()["stage_id"],
            json!(s[1])
        );
        update(
            &store,
            admin,
            Entity::Deal,
            id(child),
            json!({"stage_id": l[2]}),
        )
        .await;
        let parent = store.get(admin, Entity::Deal, id(&deal)).await.unwrap();
        assert_eq!(parent["stage_id"], json!(s[2]));

        let steps = store.stage_history(admin, id(&deal)).await.unwrap();
        let names: Vec<(Option<String>, String)> = steps
            .iter()
            .map(|s| (s.from_stage.clone(), s.to_stage.clone()))
            .collect();
        assert_eq!(
            names,
            vec![
                (None, "Новая".to_string()),
                (Some("Новая".into()), "Оценить".into()),
                (Some("Оценить".into()), "Оценка готова".into()),
            ]
        );
        assert!(steps[1..].iter().all(|s| s.seconds_in_previous.is_some()));
        let child_steps = store.stage_history(admin, id(child)).await.unwrap();
        assert_eq!(child_steps.len(), 3);
        // The parent's history names the move; the run log has one run per rule.
        let hist = store
            .history(admin, Entity::Deal, id(&deal), None, 50)
            .await
            .unwrap();
        assert!(hist
            .iter()
            .any(|h| h.field.as_deref() == Some("stage_id") && h.new_value == json!(s[2])));
        assert_eq!(runs_of_rule(&store, admin, r1.id).await, vec!["done"]);
        assert_eq!(runs_of_rule(&store, admin, r2.id).await, vec!["done"]);
        let on_record = store
            .automation_runs(
                m1,
                &RunQuery {
                    record: Some((Entity::Deal, id(&deal))),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(on_record.len(), 1);
        assert_eq!(on_record[0].rule_name, "Запросить оценку у логистов");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_rule_loop_is_stopped_and_logged() {
    each_backend(|store, fx| async move {
        let admin = &fx.admin;
        let (a, b) = (
            fx.stage("Квалификация"),
            fx.stage("Коммерческое предложение"),
        );
        let x = rule(
            &store,
            admin,
            json!({"name": "A→B", "entity": "deal",
            "trigger": {"type": "stage_entered", "stage_id": a},
            "actions": [{"type": "move_stage", "stage_id": b}]}),
        )
        .await;
        let y = rule(
            &store,
            admin,
            json!({"name": "B→A", "entity": "deal",
            "trigger": {"type": "stage_entered", "stage_id": b},
            "actions": [{"type": "move_stage", "stage_id": a}]}),
        )
        .await;
        let deal = create(
            &store,
            admin,
            Entity::Deal,
            json!({"title": "Кольцо", "pipeline_id": fx.pipeline}),
        )
        .await;
        update(
            &store,
            admin,
            Entity::Deal,
            id(&deal),
            json!({"stage_id": a}),
        )
        .await;
        let now = store.get(admin, Entity::Deal, id(&deal)).await.unwrap();
        assert_eq!(now["stage_id"], json!(a));
        assert_eq!(
            runs_of_rule(&store, admin, x.id).await,
            vec!["loop_stopped", "done"]
        );
        assert_eq!(runs_of_rule(&store, admin, y.id).await, vec!["done"]);
        let q = RunQuery {
            rule_id: Some(x.id),
            limit: 10,
            ..Default::default()
        };
        let stopped = store.automation_runs(admin, &q).await.unwrap();
        let err = stopped.iter().find(|r| r.status == "loop_stopped").unwrap();
        assert_eq!(err.depth, 2);
        assert!(err
            .error
            .as_deref()
            .unwrap()
            .contains(&format!("rule {} on deal", y.id)));
        // Новая (create) → A → B → A.
        assert_eq!(
            store.stage_history(admin, id(&deal)).await.unwrap().len(),
            4
        );
    })
    .await;
}

/// The conditions of the rules a change starts are checked together, but a rule sees the
/// record as the rules before it left it: the first rule's field makes the second one's
/// condition true, the third one's condition was true before and is false after.
#[tokio::test]
async fn each_rule_sees_what_the_rules_before_it_did() {
    each_backend(|store, fx| async move {
        let admin = &fx.admin;
        let stage = fx.stage("Квалификация");
        // A rule that writes no record: the conditions checked before it still hold.
        let note = rule(
            &store,
            admin,
            json!({"name": "Заметка", "entity": "deal",
            "trigger": {"type": "stage_entered", "stage_id": stage},
            "actions": [{"type": "notebook_item", "text": "Сделка {{title}} на квалификации",
                "assignee": {"kind": "owner"}}]}),
        )
        .await;
        let first = rule(
            &store,
            admin,
            json!({"name": "Готово", "entity": "deal",
            "trigger": {"type": "stage_entered", "stage_id": stage},
            "actions": [{"type": "set_field", "field": "description", "value": "готово"}]}),
        )
        .await;
        let second = rule(
            &store,
            admin,
            json!({"name": "После готово", "entity": "deal",
            "trigger": {"type": "stage_entered", "stage_id": stage},
            "condition": "description = \"готово\"",
            "actions": [{"type": "add_tag", "tag": "второе"}]}),
        )
        .await;
        let third = rule(
            &store,
            admin,
            json!({"name": "Пока пусто", "entity": "deal",
            "trigger": {"type": "stage_entered", "stage_id": stage},
            "condition": "description is null",
            "actions": [{"type": "add_tag", "tag": "третье"}]}),
        )
        .await;
        let deal = create(
            &store,
            admin,
            Entity::Deal,
            json!({"title": "Порядок правил", "pipeline_id": fx.pipeline}),
        )
        .await;
        update(
            &store,
            admin,
            Entity::Deal,
            id(&deal),
            json!({"stage_id": stage}),
        )
        .await;
        let now = store.get(admin, Entity::Deal, id(&deal)).await.unwrap();
        assert_eq!(now["description"], json!("готово"));
        assert_eq!(now["tags"], json!(["второе"]));
        assert_eq!(runs_of_rule(&store, admin, note.id).await, vec!["done"]);
        assert_eq!(runs_of_rule(&store, admin, first.id).await, vec!["done"]);
        assert_eq!(runs_of_rule(&store, admin, second.id).await, vec!["done"]);
        assert!(runs_of_rule(&store, admin, third.id).await.is_empty());
    })
    .await;
}

/// Actions read the record as the rules before them left it (the record an action read
/// is reused only until the next write), a failing rule without a savepoint of its own
/// (a mail to a bad address, SQLite) leaves the change and the other rules' work alone,
/// and the runs of one change are logged in the order they ran.
#[tokio::test]
async fn templates_see_earlier_writes_and_a_failed_mail_rule_leaves_the_rest() {
    each_backend(|store, fx| async move {
        let admin = &fx.admin;
        let stage = fx.stage("Квалификация");
        let on_stage = json!({"type": "stage_entered", "stage_id": stage});
        let mut rules = Vec::new();
        for (name, action) in [
            (
                "До",
                json!({"type": "notebook_item", "text": "до: {{title}}",
                "assignee": {"kind": "owner"}}),
            ),
            (
                "Переименовать",
                json!({"type": "set_field", "field": "title",
                "value": "Новое имя"}),
            ),
            (
                "После",
                json!({"type": "notebook_item", "text": "после: {{title}}",
                "assignee": {"kind": "owner"}}),
            ),
            (
                "Письмо",
                json!({"type": "send_email", "to": "{{description}}",
                "subject": "x", "body": "y"}),
            ),
            ("Метка", json!({"type": "add_tag", "tag": "{{title}}"})),
        ] {
            let r = rule(
                &store,
                admin,
                json!({"name": name, "entity": "deal", "trigger": on_stage, "actions": [action]}),
            )
            .await;
            rules.push(r.id);
        }
        let deal = create(
            &store,
            admin,
            Entity::Deal,
            json!({"title": "Старое имя", "pipeline_id": fx.pipeline,
                "description": "не адрес"}),
        )
        .await;
        let mails = testing::row_count(store.pool(), "mail_outbox").await;
        update(
            &store,
            admin,
            Entity::Deal,
            id(&deal),
            json!({"stage_id": stage}),
        )
        .await;

        let now = store.get(admin, Entity::Deal, id(&deal)).await.unwrap();
        assert_eq!(now["stage_id"], json!(stage));
        assert_eq!(now["title"], json!("Новое имя"));
        assert_eq!(now["tags"], json!(["Новое имя"]));
        let mut texts: Vec<String> = store
            .notebook(admin, None, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|i| i.record_id == Some(id(&deal)))
            .map(|i| i.text)
            .collect();
        texts.sort();
        assert_eq!(texts, vec!["до: Старое имя", "после: Новое имя"]);
        assert_eq!(testing::row_count(store.pool(), "mail_outbox").await, mails);

        let q = RunQuery {
            record: Some((Entity::Deal, id(&deal))),
            limit: 50,
            ..Default::default()
        };
        let mut runs = store.automation_runs(admin, &q).await.unwrap();
        runs.reverse();
        let seen: Vec<(i64, &str)> = runs
            .iter()
            .map(|r| (r.rule_id, r.status.as_str()))
            .collect();
        assert_eq!(
            seen,
            vec![
                (rules[0], "done"),
                (rules[1], "done"),
                (rules[2], "done"),
                (rules[3], "failed"),
                (rules[4], "done"),
            ]
        );
        assert_eq!(
            runs[3].error.as_deref(),
            Some("to: automation_email_invalid")
        );
    })
    .await;
}

async fn department_of_three(store: &Store, fx: &Fixtures) -> (i64, Vec<i64>) {
    let d = create(
        store,
        &fx.admin,
        Entity::Department,
        json!({"name": "Логисты"}),
    )
    .await;
    let mut users = Vec::new();
    for login in ["log1", "log2", "log3"] {
        let u = bootstrap::create_user(
            store,
            Some(&fx.admin),
            login,
            login,
            "manager",
            PASSWORD,
            obj(json!({"department_id": id(&d)})),
        )
        .await
        .expect("user");
        users.push(u);
    }
    (id(&d), users)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_and_least_loaded_distribute_evenly() {
    each_backend(|store, fx| async move {
        let admin = &fx.admin;
        let (dept, users) = department_of_three(&store, &fx).await;
        rule(
            &store,
            admin,
            json!({"name": "Задача логисту", "entity": "deal",
            "trigger": {"type": "created"},
            "actions": [{"type": "create_activity", "subject": "Рассчитать {{title}}",
                         "assignee": {"kind": "round_robin", "department_id": dept}}]}),
        )
        .await;
        let mut assigned = Vec::new();
        for i in 0..6 {
            let d = create(
                &store,
                admin,
                Entity::Deal,
                json!({"title": format!("Сделка {i}"), "pipeline_id": fx.pipeline}),
            )
            .await;
            let acts = store
                .list(
                    admin,
                    Entity::Activity,
                    &ListParams {
                        and: vec![eq_filter("deal_id", id(&d))],
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .data;
            assert_eq!(acts.len(), 1);
            assert_eq!(acts[0]["subject"], json!(format!("Рассчитать Сделка {i}")));
            assert_eq!(acts[0]["kind"], json!("task"));
            assigned.push(acts[0]["assignee_id"].as_i64().unwrap());
        }
        assert_eq!(
            assigned,
            vec![users[0], users[1], users[2], users[0], users[1], users[2]]
        );

        // Least loaded: log1 and log2 hold two open tasks each, log3 two as well;
        // closing one of log2's makes log2 the next pick.
        let open = store
            .list(
                admin,
                Entity::Activity,
                &ListParams {
                    filter: Some(format!("assignee_id = {}", users[1])),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .data;
        update(
            &store,
            admin,
            Entity::Activity,
            id(&open[0]),
            json!({"done": true}),
        )
        .await;
        rule(
            &store,
            admin,
            json!({"name": "Наименее загруженному", "entity": "company",
            "trigger": {"type": "created"},
            "actions": [{"type": "create_activity", "subject": "Позвонить",
                         "assignee": {"kind": "least_loaded", "department_id": dept}}]}),
        )
        .await;
        create(
            &store,
            admin,
            Entity::Company,
            json!({"name": "ООО Ромашка"}),
        )
        .await;
        let calls = store
            .list(
                admin,
                Entity::Activity,
                &ListParams {
                    filter: Some(r#"subject = "Позвонить""#.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .data;
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0]["assignee_id"], json!(users[1]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_rule_keeps_the_change_retries_and_tells_admins() {
    each_backend(|store, fx| async move {
        let admin = &fx.admin;
        let empty = create(&store, admin, Entity::Department, json!({"name": "Пустой"})).await;
        let r = rule(
            &store,
            admin,
            json!({"name": "Никому", "entity": "deal",
            "trigger": {"type": "created"},
            "actions": [{"type": "add_tag", "tag": "до ошибки"},
                        {"type": "create_activity", "subject": "x",
                         "assignee": {"kind": "round_robin", "department_id": id(&empty)}}]}),
        )
        .await;
        let deal = create(
            &store,
            admin,
            Entity::Deal,
            json!({"title": "Стоит", "pipeline_id": fx.pipeline}),
        )
        .await;
        // The change stands; the rule's partial work was rolled back.
        let now = store.get(admin, Entity::Deal, id(&deal)).await.unwrap();
        assert_eq!(now["tags"], json!([]));
        assert_eq!(runs_of_rule(&store, admin, r.id).await, vec!["failed"]);
        let t0 = chrono::Utc::now() + Duration::days(1);
        for i in 0..4 {
            let rep = store
                .automation_tick(t0 + Duration::minutes(i), None)
                .await
                .unwrap();
            assert_eq!(rep.jobs, 1, "tick {i}");
        }
        assert_eq!(runs_of_rule(&store, admin, r.id).await, vec!["failed"; 5]);
        let rep = store
            .automation_tick(t0 + Duration::days(1), None)
            .await
            .unwrap();
        assert_eq!(rep.jobs, 0);
        let items = testing::row_count(store.pool(), "notebook_items").await;
        assert_eq!(items, 1);
        let last = store
            .automation_runs(
                admin,
                &RunQuery {
                    rule_id: Some(r.id),
                    limit: 1,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            last[0].error.as_deref(),
            Some("assignee: automation_no_users")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_rule_fires_once_across_a_restart() {
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (store, fx) = testing::seeded_store(&db).await;
        let admin = fx.admin.clone();
        let r = rule(
            &store,
            &admin,
            json!({"name": "Срок сорван", "entity": "deal",
            "trigger": {"type": "time", "field": "planned_deadline", "offset_minutes": 1440},
            "condition": "actual_deadline is null",
            "actions": [{"type": "add_tag", "tag": "срок_сорван"}]}),
        )
        .await;
        let today = chrono::Utc::now().date_naive();
        let late = create(&store, &admin, Entity::Deal, json!({"title": "Опоздает",
            "pipeline_id": fx.pipeline, "planned_deadline": (today + Duration::days(1)).to_string()})).await;
        let done = create(
            &store,
            &admin,
            Entity::Deal,
            json!({"title": "Успеет",
            "pipeline_id": fx.pipeline, "planned_deadline": (today + Duration::days(1)).to_string(),
            "actual_deadline": today.to_string()}),
        )
        .await;
        let start = chrono::Utc::now();
        let rep = store
            .automation_tick(start + Duration::hours(1), None)
            .await
            .unwrap();
        assert_eq!(rep.fired, 0);
        // The server goes down before the due moment and comes back days later.
        store.pool().close().await;
        drop(store);
        let store = Store::open(&db.config()).await.expect("reopen");
        let rep = store
            .automation_tick(start + Duration::days(4), None)
            .await
            .unwrap();
        assert_eq!(rep.fired, 1);
        let rep = store
            .automation_tick(start + Duration::days(4), None)
            .await
            .unwrap();
        assert_eq!(rep.fired, 0);
        let rep = store
            .automation_tick(start + Duration::days(9), None)
            .await
            .unwrap();
        assert_eq!(rep.fired, 0);
        let tags = |r: Record| r["tags"].clone();
        assert_eq!(
            tags(store.get(&admin, Entity::Deal, id(&late)).await.unwrap()),
            json!(["срок_сорван"])
        );
        assert_eq!(
            tags(store.get(&admin, Entity::Deal, id(&done)).await.unwrap()),
            json!([])
        );
        assert_eq!(runs_of_rule(&store, &admin, r.id).await, vec!["done"]);
        assert_eq!(
            testing::row_count(store.pool(), "automation_fired").await,
            2
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yearly_birthday_rule_and_overdue_activities() {
    each_backend(|store, fx| async move {
        let admin = &fx.admin;
        let today = chrono::Utc::now().date_naive();
        let tomorrow = today + Duration::days(1);
        let birthday = format!("1985-{}", tomorrow.format("%m-%d"));
        if birthday.ends_with("02-29") {
            return;
        }
        let r = rule(
            &store,
            admin,
            json!({"name": "Поздравить", "entity": "contact",
            "trigger": {"type": "time", "field": "birthday", "offset_minutes": 540, "yearly": true},
            "actions": [{"type": "notebook_item", "text": "Поздравить {{full_name}}",
                         "assignee": {"kind": "owner"}}]}),
        )
        .await;
        create(
            &store,
            &fx.m1,
            Entity::Contact,
            json!({"first_name": "Анна",
            "last_name": "Петрова", "birthday": birthday}),
        )
        .await;
        let o = rule(
            &store,
            admin,
            json!({"name": "Просрочено", "entity": "activity",
            "trigger": {"type": "activity_overdue"},
            "actions": [{"type": "add_tag", "tag": "просрочено"}]}),
        )
        .await;
        let due = chrono::Utc::now() + Duration::hours(2);
        let act = create(
            &store,
            admin,
            Entity::Activity,
            json!({"kind": "call", "subject": "Звонок",
            "due_at": plotina_core::value::format_datetime(due)}),
        )
        .await;
        let start = chrono::Utc::now();
        let rep = store
            .automation_tick(start + Duration::days(2), None)
            .await
            .unwrap();
        assert_eq!(rep.fired, 2);
        assert_eq!(runs_of_rule(&store, admin, r.id).await, vec!["done"]);
        assert_eq!(runs_of_rule(&store, admin, o.id).await, vec!["done"]);
        let a = store.get(admin, Entity::Activity, id(&act)).await.unwrap();
        assert_eq!(a["tags"], json!(["просрочено"]));
        // A year later it fires again, once.
        let rep = store
            .automation_tick(start + Duration::days(367), None)
            .await
            .unwrap();
        assert_eq!(rep.fired, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing_and_manual_run_does() {
    each_backend(|store, fx| async move {
        let admin = &fx.admin;
        let (logistics, _) = pipeline(&store, admin, "Логистика: оценка", &["Новая"]).await;
        let r = rule(
            &store,
            admin,
            json!({"name": "Вручную", "entity": "deal",
            "trigger": {"type": "manual"}, "condition": "amount >= 1000",
            "actions": [{"type": "create_child_deal", "pipeline_id": logistics},
                        {"type": "send_email", "to": "boss@example.ru",
                         "subject": "Сделка {{title}}", "body": "Сумма {{amount}}"}]}),
        )
        .await;
        let big = create(
            &store,
            admin,
            Entity::Deal,
            json!({"title": "Крупная", "pipeline_id": fx.pipeline, "amount": "5000.00"}),
        )
        .await;
        let small = create(
            &store,
            admin,
            Entity::Deal,
            json!({"title": "Мелкая", "pipeline_id": fx.pipeline, "amount": "10.00"}),
        )
        .await;
        let before = testing::row_counts(store.pool()).await;
        let out = store
            .dry_run_automation_rule(admin, r.id, id(&big))
            .await
            .unwrap();
        assert_eq!(out.status, "done");
        assert_eq!(out.actions.len(), 2);
        assert_eq!(out.actions[0]["action"], json!("create_child_deal"));
        assert_eq!(out.actions[1]["result"]["to"], json!("boss@example.ru"));
        assert_eq!(testing::row_counts(store.pool()).await, before);
        let out = store
            .dry_run_automation_rule(admin, r.id, id(&small))
            .await
            .unwrap();
        assert_eq!(out.status, "skipped");

        let out = store
            .run_automation_rule(&fx.admin, r.id, id(&big))
            .await
            .unwrap();
        assert_eq!(out.status, "done");
        assert_eq!(children(&store, admin, id(&big)).await.len(), 1);
        assert_eq!(testing::row_count(store.pool(), "mail_outbox").await, 1);
        // A manager outside the deal's scope gets 404.
        let err = store
            .run_automation_rule(&fx.m2, r.id, id(&big))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Domain(DomainError::NotFound)),
            "{err:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_webhook_runs_with_its_payload() {
    each_backend(|store, fx| async move {
        let admin = &fx.admin;
        let r = rule(
            &store,
            admin,
            json!({"name": "Из 1С", "entity": "deal",
            "trigger": {"type": "webhook"}, "condition": "payload.paid > 100",
            "actions": [{"type": "add_tag", "tag": "оплата {{payload.doc}}"}]}),
        )
        .await;
        let token = r.webhook_token.clone().expect("token");
        assert_eq!(token.len(), 48);
        let deal = create(
            &store,
            admin,
            Entity::Deal,
            json!({"title": "Оплата", "pipeline_id": fx.pipeline}),
        )
        .await;
        let out = store
            .incoming_automation_webhook(
                &token,
                &json!({"record_id": id(&deal), "paid": 50, "doc": "a1"}),
            )
            .await
            .unwrap();
        assert_eq!(out.status, "skipped");
        let out = store
            .incoming_automation_webhook(
                &token,
                &json!({"record_id": id(&deal), "paid": 500, "doc": "a2"}),
            )
            .await
            .unwrap();
        assert_eq!(out.status, "done");
        let d = store.get(admin, Entity::Deal, id(&deal)).await.unwrap();
        assert_eq!(d["tags"], json!(["оплата a2"]));
        let err = store
            .incoming_automation_webhook("nope", &json!({}))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Domain(DomainError::NotFound)));
    })
    .await;
}

fn codes(r: Result<StoredRule, StoreError>) -> Vec<(String, &'static str)> {
    match r {
        Err(StoreError::Domain(DomainError::Invalid(errs))) => {
            errs.into_iter().map(|e| (e.field, e.code)).collect()
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rules_are_refused_at_save_with_the_reason() {
    each_backend(|store, fx| async move {
        let admin = &fx.admin;
        let save = |v: Json| {
            let input: RuleInput = serde_json::from_value(v).unwrap();
            let store = &store;
            async move { store.create_automation_rule(admin, &input).await }
        };
        let base = |cond: &str, actions: Json| {
            json!({"name": "r", "entity": "deal",
            "trigger": {"type": "created"}, "condition": cond, "actions": actions})
        };
        let tag = json!([{"type": "add_tag", "tag": "x"}]);
        assert_eq!(
            codes(save(base("amount >=", tag.clone())).await),
            vec![("condition".to_string(), "automation_condition_invalid")]
        );
        assert_eq!(
            codes(save(base("no_such_field = 1", tag.clone())).await),
            vec![("condition".to_string(), "automation_condition_invalid")]
        );
        assert_eq!(
            codes(
                save(base(
                    "amount > 1",
                    json!([{"type": "move_stage", "stage_id": 999999}])
                ))
                .await
            ),
            vec![(
                "actions[0].stage_id".to_string(),
                "automation_stage_missing"
            )]
        );
        assert_eq!(
            codes(
                save(base(
                    "amount > 1",
                    json!([{"type": "create_child_deal", "pipeline_id": 999999}])
                ))
                .await
            ),
            vec![(
                "actions[0].pipeline_id".to_string(),
                "automation_pipeline_missing"
            )]
        );
        assert_eq!(
            codes(
                save(base(
                    "amount > 1",
                    json!([{"type": "create_activity", "subject": "x",
            "assignee": {"kind": "user", "user_id": 999999}}])
                ))
                .await
            ),
            vec![(
                "actions[0].assignee.user_id".to_string(),
                "automation_user_missing"
            )]
        );
        assert_eq!(
            codes(
                save(base(
                    "amount > 1",
                    json!([{"type": "webhook", "url": "ftp://example.com/"}])
                ))
                .await
            ),
            vec![("actions[0].url".to_string(), "automation_url_invalid")]
        );
        // A stage of another pipeline than the child's.
        let (other, _) = pipeline(&store, admin, "Другая", &["Новая"]).await;
        assert_eq!(
            codes(
                save(base(
                    "amount > 1",
                    json!([{"type": "create_child_deal", "pipeline_id": other,
            "stage_id": fx.stage("Новая")}])
                ))
                .await
            ),
            vec![(
                "actions[0].stage_id".to_string(),
                "automation_stage_missing"
            )]
        );
        assert_eq!(
            testing::row_count(store.pool(), "automation_rules").await,
            0
        );
        let input: RuleInput = serde_json::from_value(base("amount > 1", tag)).unwrap();
        let err = store
            .create_automation_rule(&fx.m1, &input)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Domain(DomainError::Forbidden(_))));
    })
    .await;
}

/// Records calls and answers 200.
#[derive(Default)]
struct FakeSender {
    calls: std::sync::Mutex<Vec<(String, Json)>>,
}

impl plotina_store::automation::HookSender for FakeSender {
    fn post<'a>(
        &'a self,
        url: &'a str,
        body: &'a [u8],
        _headers: &'a [(String, String)],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u16, String>> + Send + 'a>> {
        Box::pin(async move {
            let json: Json = serde_json::from_slice(body).unwrap_or(Json::Null);
            self.calls.lock().unwrap().push((url.to_string(), json));
            Ok(200)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_resumes_later_and_webhook_actions_are_sent_by_the_job() {
    each_backend(|store, fx| async move {
        let admin = &fx.admin;
        let r = rule(
            &store,
            admin,
            json!({"name": "С паузой", "entity": "deal",
            "trigger": {"type": "created"},
            "actions": [{"type": "add_tag", "tag": "сразу"},
                        {"type": "delay", "minutes": 10},
                        {"type": "add_tag", "tag": "потом"},
                        {"type": "webhook", "url": "http://erp.example.ru/hook"}]}),
        )
        .await;
        let deal = create(
            &store,
            admin,
            Entity::Deal,
            json!({"title": "Пауза", "pipeline_id": fx.pipeline}),
        )
        .await;
        let tags = |r: Record| r["tags"].clone();
        assert_eq!(
            tags(store.get(admin, Entity::Deal, id(&deal)).await.unwrap()),
            json!(["сразу"])
        );
        assert_eq!(runs_of_rule(&store, admin, r.id).await, vec!["delayed"]);
        let sender = FakeSender::default();
        let now = chrono::Utc::now();
        let rep = store
            .automation_tick(now + Duration::minutes(5), Some(&sender))
            .await
            .unwrap();
        assert_eq!(rep.jobs, 0);
        assert_eq!(
            tags(store.get(admin, Entity::Deal, id(&deal)).await.unwrap()),
            json!(["сразу"])
        );
        let rep = store
            .automation_tick(now + Duration::minutes(11), Some(&sender))
            .await
            .unwrap();
        assert_eq!(rep.jobs, 1);
        assert_eq!(
            tags(store.get(admin, Entity::Deal, id(&deal)).await.unwrap()),
            json!(["сразу", "потом"])
        );
        assert_eq!(
            runs_of_rule(&store, admin, r.id).await,
            vec!["delayed", "done"]
        );
        // The call queued by the resumed run goes out on the next pass, once.
        assert!(sender.calls.lock().unwrap().is_empty());
        store
            .automation_tick(now + Duration::minutes(12), Some(&sender))
            .await
            .unwrap();
        store
            .automation_tick(now + Duration::minutes(13), Some(&sender))
            .await
            .unwrap();
        let calls = sender.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, "http://erp.example.ru/hook");
        assert_eq!(calls[0].1["record"]["title"], json!("Пауза"));
        assert_eq!(calls[0].1["rule_id"], json!(r.id));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_requests_approval_of_a_discount_in_the_change_transaction() {
    each_backend(|store, fx| async move {
        let admin = &fx.admin;
        update(
            &store,
            admin,
            Entity::Department,
            fx.sales_dept,
            json!({"head_id": fx.head.user_id}),
        )
        .await;
        create(
            &store,
            admin,
            Entity::CustomField,
            json!({"entity": "deal", "key": "wanted_discount", "label": "Желаемая скидка", "kind": "number"}),
        )
        .await;
        let r = rule(
            &store,
            admin,
            json!({"name": "Согласовать скидку", "entity": "deal",
            "trigger": {"type": "field_changed", "field": "custom.wanted_discount"},
            "condition": "custom.wanted_discount > 10",
            "actions": [{"type": "request_approval", "value": "{{custom.wanted_discount}}",
                         "reason": "Клиент просит скидку: {{title}}"}]}),
        )
        .await;
        let deal = create(
            &store,
            &fx.m1,
            Entity::Deal,
            json!({"title": "Опт", "pipeline_id": fx.pipeline, "amount": "1000.00"}),
        )
        .await;
        let d = id(&deal);
        // Below the condition: nothing is asked.
        let before = testing::row_count(store.pool(), "approvals").await;
        update(&store, admin, Entity::Deal, d, json!({"custom": {"wanted_discount": 5}})).await;
        assert_eq!(testing::row_count(store.pool(), "approvals").await, before);

        update(&store, &fx.m1, Entity::Deal, d, json!({"custom": {"wanted_discount": 25}})).await;
        let mine = store.approvals(&fx.m1, "mine", Some("pending")).await.expect("list");
        assert_eq!(mine.len(), 1, "{mine:?}");
        let a = &mine[0];
        assert_eq!(a["record_id"], json!(d));
        assert_eq!(a["field"], json!("discount_pct"));
        assert_eq!(a["requested_value"], json!(25));
        assert_eq!(a["reason"], json!("Клиент просит скидку: Опт"));
        assert_eq!(a["requester_id"], json!(fx.m1.user_id));
        assert_eq!(a["approver_id"], json!(fx.head.user_id));
        assert_eq!(runs_of_rule(&store, admin, r.id).await, vec!["done"]);
        // The discount itself waits for the decision.
        let rec = store.get(admin, Entity::Deal, d).await.expect("deal");
        assert_eq!(rec["discount_pct"], Json::Null);
        let to_head = store.approvals(&fx.head, "to_me", Some("pending")).await.expect("list");
        assert_eq!(to_head.len(), 1);
        let aid = a["id"].as_i64().expect("approval id");
        store
            .approval_decide(&fx.head, aid, true, "Согласовано")
            .await
            .expect("approve");
        let rec = store.get(admin, Entity::Deal, d).await.expect("deal");
        assert_eq!(rec["discount_pct"], json!(25));

        // No approver (the owner is in no department): the rule fails alone, the
        // change stands, nothing is half-written.
        let other = create(
            &store,
            admin,
            Entity::Deal,
            json!({"title": "Сервис", "pipeline_id": fx.pipeline}),
        )
        .await;
        let n = testing::row_count(store.pool(), "approvals").await;
        let rec = update(
            &store,
            admin,
            Entity::Deal,
            id(&other),
            json!({"custom": {"wanted_discount": 30}}),
        )
        .await;
        assert_eq!(rec["custom"]["wanted_discount"], json!(30));
        assert_eq!(testing::row_count(store.pool(), "approvals").await, n);
        assert_eq!(runs_of_rule(&store, admin, r.id).await, vec!["done", "failed"]);

        // Saved only for deals, with a discount and a reason.
        let bad: RuleInput = serde_json::from_value(json!({"name": "x", "entity": "deal",
            "trigger": {"type": "created"},
            "actions": [{"type": "request_approval", "value": 101, "reason": ""}]}))
        .unwrap();
        let errs = codes(store.create_automation_rule(admin, &bad).await);
        assert_eq!(
            errs,
            vec![
                ("actions[0].value".to_string(), "automation_discount_invalid"),
                ("actions[0].reason".to_string(), "automation_text_required"),
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_rule_runs_in_the_deletion_transaction() {
    each_backend(|store, fx| async move {
        let admin = &fx.admin;
        let r = rule(
            &store,
            admin,
            json!({"name": "Сделка удалена", "entity": "deal",
            "trigger": {"type": "deleted"}, "condition": "amount >= 1000",
            "actions": [{"type": "notebook_item", "text": "Удалена сделка «{{title}}»",
                         "assignee": {"kind": "user", "user_id": fx.head.user_id}}]}),
        )
        .await;
        let big = create(
            &store,
            &fx.m1,
            Entity::Deal,
            json!({"title": "Крупная", "pipeline_id": fx.pipeline, "amount": "5000.00"}),
        )
        .await;
        let small = create(
            &store,
            &fx.m1,
            Entity::Deal,
            json!({"title": "Мелкая", "pipeline_id": fx.pipeline, "amount": "10.00"}),
        )
        .await;
        // Neither creating nor editing starts it.
        update(
            &store,
            &fx.m1,
            Entity::Deal,
            id(&big),
            json!({"description": "x"}),
        )
        .await;
        assert!(runs_of_rule(&store, admin, r.id).await.is_empty());
        let items = testing::row_count(store.pool(), "notebook_items").await;
        store
            .delete(admin, Entity::Deal, id(&small), None)
            .await
            .expect("delete small");
        assert_eq!(
            testing::row_count(store.pool(), "notebook_items").await,
            items
        );
        store
            .delete(admin, Entity::Deal, id(&big), None)
            .await
            .expect("delete big");
        assert_eq!(runs_of_rule(&store, admin, r.id).await, vec!["done"]);
        assert_eq!(
            testing::row_count(store.pool(), "notebook_items").await,
            items + 1
        );
        let q = RunQuery {
            rule_id: Some(r.id),
            limit: 10,
            ..Default::default()
        };
        let run = &store.automation_runs(admin, &q).await.expect("runs")[0];
        assert_eq!(run.trigger, "deleted");
        assert_eq!(run.record_id, Some(id(&big)));

        // Actions that would change the deleted record are refused at save.
        let bad: RuleInput = serde_json::from_value(json!({"name": "x", "entity": "deal",
            "trigger": {"type": "deleted"},
            "actions": [{"type": "set_field", "field": "description", "value": "y"}]}))
        .unwrap();
        assert_eq!(
            codes(store.create_automation_rule(admin, &bad).await),
            vec![("actions[0]".to_string(), "automation_deleted_record")]
        );
    })
    .await;
}

/// Rules and pipeline rules are kept in memory per pool (the settings cache). A change
/// made through another pool on the same database (another process) counts at the next
/// write; a transaction sees its own settings changes; a rolled-back change is never
/// served afterwards.
#[tokio::test]
async fn settings_changed_elsewhere_or_rolled_back_are_never_served_stale() {
    for db in testing::all().await {
        eprintln!("backend: {}", db.name());
        let (a, fx) = testing::seeded_store(&db).await;
        let b = Store::open(&db.config()).await.expect("second pool");
        let admin = &fx.admin;
        let (first, second, third) = (fx.stages[0].1, fx.stages[1].1, fx.stages[2].1);
        let deal = create(
            &a,
            admin,
            Entity::Deal,
            json!({"title": "Кэш настроек", "pipeline_id": fx.pipeline, "stage_id": first}),
        )
        .await;
        let id = id(&deal);
        // A's cache now holds the pipeline and the (empty) rule list.
        update(&a, admin, Entity::Deal, id, json!({"stage_id": second})).await;
        update(&a, admin, Entity::Deal, id, json!({"stage_id": first})).await;

        // Another process adds a rule: A's next move runs it.
        rule(
            &b,
            admin,
            json!({"name": "Метка из другого процесса", "entity": "deal",
                   "trigger": {"type": "stage_entered", "stage_id": second},
                   "actions": [{"type": "add_tag", "tag": "из-другого-процесса"}]}),
        )
        .await;
        update(&a, admin, Entity::Deal, id, json!({"stage_id": second})).await;
        let moved = a.get(admin, Entity::Deal, id).await.expect("read deal");
        assert_eq!(
            moved["tags"],
            json!(["из-другого-процесса"]),
            "{}: the rule saved through the other pool did not run",
            db.name()
        );
        update(&a, admin, Entity::Deal, id, json!({"stage_id": first})).await;

        // Another process forbids skipping stages: A refuses the skip at once.
        let skip_to_third = obj(json!({"stage_id": third}));
        update(
            &b,
            admin,
            Entity::Pipeline,
            fx.pipeline,
            json!({"forbid_skip": true}),
        )
        .await;
        let skip = a
            .update(admin, Entity::Deal, id, &skip_to_third, None)
            .await;
        match skip {
            Err(StoreError::Domain(DomainError::Conflict(e))) => {
                assert_eq!(e.code, "stage_skip_forbidden", "{}", db.name())
            }
            other => panic!("{}: the skip was not refused: {other:?}", db.name()),
        }

        // A transaction sees its own change of the pipeline, and its rollback leaves
        // nothing behind in the cache.
        let mut tx = a.pool().begin_write().await.expect("begin");
        let before = plotina_store::rules::load_pipeline(&mut tx, fx.pipeline)
            .await
            .expect("read pipeline")
            .expect("pipeline");
        assert!(before.forbid_skip, "{}", db.name());
        tx.raw(&format!(
            "UPDATE pipelines SET forbid_skip = FALSE WHERE id = {}",
            fx.pipeline
        ))
        .await
        .expect("change inside the transaction");
        let inside = plotina_store::rules::load_pipeline(&mut tx, fx.pipeline)
            .await
            .expect("read pipeline")
            .expect("pipeline");
        assert!(
            !inside.forbid_skip,
            "{}: the transaction did not see its own change",
            db.name()
        );
        drop(tx);
        let skip = a
            .update(admin, Entity::Deal, id, &skip_to_third, None)
            .await;
        assert!(
            matches!(skip, Err(StoreError::Domain(DomainError::Conflict(_)))),
            "{}: a rolled-back change was served: {skip:?}",
            db.name()
        );
        b.pool().close().await;
    }
}
