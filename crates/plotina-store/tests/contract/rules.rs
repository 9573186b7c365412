//! What the store refuses: invalid input, forbidden stage moves, reused idempotency
//! keys — each refused without a trace in the database.

use super::*;

pub async fn invalid_input_is_refused_and_changes_nothing(t: &T) {
    let (m1, admin, p) = (&t.fx.m1, &t.fx.admin, t.fx.pipeline);
    t.create(
        admin,
        Entity::CustomField,
        json!({"entity": "company", "key": "size", "label": "Размер", "kind": "number"}),
    )
    .await;
    let company = t
        .create(
            m1,
            Entity::Company,
            json!({"name": "Ромашка", "inn": "7707083893"}),
        )
        .await;
    let creates: Vec<(&Actor, Entity, Json, &str, &str)> = vec![
        (
            m1,
            Entity::Company,
            json!({"name": "А", "inn": "7707083894"}),
            "inn",
            "inn_checksum",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "А", "inn": "12345"}),
            "inn",
            "inn_length",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "А", "inn": "77070838a3"}),
            "inn",
            "inn_digits",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "А", "kpp": "77070100"}),
            "kpp",
            "kpp_format",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "А", "phones": ["8 912 345"]}),
            "phones",
            "phone_invalid",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "А", "emails": ["not-an-email"]}),
            "emails",
            "email_invalid",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "А", "website": "ftp://example.com"}),
            "website",
            "url_scheme",
        ),
        (
            m1,
            Entity::Company,
            json!({"industry": "retail"}),
            "name",
            "required",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "   "}),
            "name",
            "required",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "А", "colour": "red"}),
            "colour",
            "unknown_field",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": 5}),
            "name",
            "expected_string",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "А", "private": "maybe"}),
            "private",
            "expected_bool",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "А", "id": 5}),
            "id",
            "read_only",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "А", "roles": ["friend"]}),
            "roles",
            "select_unknown",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "А", "custom": {"colour": "red"}}),
            "custom.colour",
            "unknown_field",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "А", "custom": {"size": "много"}}),
            "custom.size",
            "expected_number",
        ),
        (
            m1,
            Entity::Company,
            json!({"name": "А\u{0}"}),
            "name",
            "text_control_chars",
        ),
        (
            m1,
            Entity::Contact,
            json!({"last_name": "Иванов", "emails": "ivan@localhost"}),
            "emails",
            "email_invalid",
        ),
        (
            m1,
            Entity::Contact,
            json!({"last_name": "Иванов", "companies": [{"company_id": 999_999}]}),
            "companies",
            "link_not_found",
        ),
        (
            m1,
            Entity::Lead,
            json!({"title": "Заявка", "source": "fax"}),
            "source",
            "select_unknown",
        ),
        (
            m1,
            Entity::Lead,
            json!({"title": "Заявка", "phone": "12"}),
            "phone",
            "phone_invalid",
        ),
        (m1, Entity::Deal, json!({}), "title", "required"),
        (
            m1,
            Entity::Deal,
            json!({"title": "Д"}),
            "pipeline_id",
            "required",
        ),
        (
            m1,
            Entity::Deal,
            json!({"title": "Д", "pipeline_id": p, "amount": "-5"}),
            "amount",
            "money_negative",
        ),
        (
            m1,
            Entity::Deal,
            json!({"title": "Д", "pipeline_id": p, "amount": "12.345"}),
            "amount",
            "money_scale",
        ),
        (
            m1,
            Entity::Deal,
            json!({"title": "Д", "pipeline_id": p, "amount": "много"}),
            "amount",
            "money_invalid",
        ),
        (
            m1,
            Entity::Deal,
            json!({"title": "Д", "pipeline_id": p, "currency": "XYZ"}),
            "currency",
            "currency_unknown",
        ),
        (
            m1,
            Entity::Deal,
            json!({"title": "Д", "pipeline_id": p, "probability": 101}),
            "probability",
            "number_range",
        ),
        (
            m1,
            Entity::Deal,
            json!({"title": "Д", "pipeline_id": p, "close_date": "31.02.2026"}),
            "close_date",
            "date_invalid",
        ),
        (
            m1,
            Entity::Deal,
            json!({"title": "Д", "pipeline_id": p, "company_id": "abc"}),
            "company_id",
            "expected_integer",
        ),
        (
            m1,
            Entity::Deal,
            json!({"title": "Д", "pipeline_id": p, "company_id": 999_999}),
            "company_id",
            "link_not_found",
        ),
        (
            m1,
            Entity::Deal,
            json!({"title": "Д", "pipeline_id": 999_999}),
            "pipeline_id",
            "link_not_found",
        ),
        (
            m1,
            Entity::Deal,
            json!({"title": "Д", "pipeline_id": p, "stage_id": t.fx.stage("Проиграна")}),
            "lost_reason",
            "lost_reason_required",
        ),
        (
            m1,
            Entity::Deal,
            json!({"title": "Д", "pipeline_id": p, "stage_changed_at": "2030-01-01T00:00:00Z"}),
            "stage_changed_at",
            "read_only",
        ),
        (
            m1,
            Entity::Activity,
            json!({"subject": "Без вида"}),
            "kind",
            "required",
        ),
        (
            m1,
            Entity::Activity,
            json!({"kind": "call", "duration_min": -1}),
            "duration_min",
            "number_range",
        ),
        (
            m1,
            Entity::Activity,
            json!({"kind": "call", "due_at": "завтра"}),
            "due_at",
            "datetime_invalid",
        ),
        (
            admin,
            Entity::User,
            json!({"login": "new", "name": "Новый", "role_id": t.fx.roles["manager"], "phone": "abc"}),
            "phone",
            "phone_invalid",
        ),
        (
            admin,
            Entity::User,
            json!({"login": "new", "name": "Новый", "role_id": 999_999}),
            "role_id",
            "link_not_found",
        ),
    ];
    let before = t.counts().await;
    for (actor, entity, body, field, code) in creates {
        let shown = body.to_string();
        let errs = invalid(t.try_create(actor, entity, body).await);
        assert!(
            errs.iter().any(|(f, c)| f == field && *c == code),
            "{entity:?} {shown}: expected {field}: {code}, got {errs:?}"
        );
        assert_eq!(
            t.counts().await,
            before,
            "{entity:?} {shown} changed the database"
        );
    }

    // Every problem of a body is reported at once.
    let errs = invalid(
        t.try_create(
            m1,
            Entity::Company,
            json!({"inn": "1", "kpp": "x", "phones": ["1"]}),
        )
        .await,
    );
    let fields: BTreeSet<String> = errs.into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, set(&["inn", "kpp", "phones", "name"]));

    // Updates too: refused by field, record and history untouched.
    let updates = [
        (json!({"inn": "7707083894"}), "inn", "inn_checksum"),
        (json!({"name": null}), "name", "required"),
        (json!({"emails": ["a@b"]}), "emails", "email_invalid"),
        (
            json!({"custom": {"size": [1]}}),
            "custom.size",
            "expected_number",
        ),
        (json!({"version": 7}), "version", "read_only"),
        (json!({"owner_id": 999_999}), "owner_id", "link_not_found"),
    ];
    for (body, field, code) in updates {
        let shown = body.to_string();
        assert_invalid(
            t.update(m1, Entity::Company, id(&company), body, Some(1))
                .await,
            field,
            code,
        );
        assert_eq!(
            t.counts().await,
            before,
            "update {shown} changed the database"
        );
    }
    assert_eq!(
        t.get(m1, Entity::Company, id(&company)).await.unwrap(),
        company
    );
}

pub async fn deal_stage_rules(t: &T) {
    let (admin, m1) = (&t.fx.admin, &t.fx.m1);
    let p = t
        .create(
            admin,
            Entity::Pipeline,
            json!({"name": "Опт", "forbid_skip": true, "lost_reasons": ["Дорого", "Нет бюджета"]}),
        )
        .await;
    let mut st = BTreeMap::new();
    for (i, (name, kind, prob)) in [
        ("Лид", "open", 10),
        ("КП", "open", 30),
        ("Договор", "open", 70),
        ("Успех", "won", 100),
        ("Провал", "lost", 0),
    ]
    .into_iter()
    .enumerate()
    {
        let s = t.create(admin, Entity::Stage, json!({"pipeline_id": id(&p), "name": name, "kind": kind, "position": i, "probability": prob})).await;
        st.insert(name, id(&s));
    }
    let pid = id(&p);

    // A new deal starts at the first stage.
    assert_conflict(
        t.try_create(
            m1,
            Entity::Deal,
            json!({"title": "Д", "pipeline_id": pid, "stage_id": st["КП"]}),
        )
        .await,
        "stage_id",
        "stage_skip_forbidden",
    );
    let d = t
        .create(
            m1,
            Entity::Deal,
            json!({"title": "Опт", "pipeline_id": pid}),
        )
        .await;
    let did = id(&d);
    assert_eq!(d["stage_id"], json!(st["Лид"]));

    // Skipping forward is a conflict and changes nothing.
    let before = t.counts().await;
    assert_conflict(
        t.update(
            m1,
            Entity::Deal,
            did,
            json!({"stage_id": st["Договор"]}),
            None,
        )
        .await,
        "stage_id",
        "stage_skip_forbidden",
    );
    assert_conflict(
        t.update(
            m1,
            Entity::Deal,
            did,
            json!({"stage_id": st["Успех"]}),
            None,
        )
        .await,
        "stage_id",
        "stage_skip_forbidden",
    );
    assert_invalid(
        t.update(
            m1,
            Entity::Deal,
            did,
            json!({"stage_id": t.fx.stage("Договор")}),
            None,
        )
        .await,
        "stage_id",
        "stage_not_in_pipeline",
    );
    // Lost needs a reason from the pipeline's list.
    assert_invalid(
        t.update(
            m1,
            Entity::Deal,
            did,
            json!({"stage_id": st["Провал"]}),
            None,
        )
        .await,
        "lost_reason",
        "lost_reason_required",
    );
    assert_invalid(
        t.update(
            m1,
            Entity::Deal,
            did,
            json!({"stage_id": st["Провал"], "lost_reason": "Марс"}),
            None,
        )
        .await,
        "lost_reason",
        "lost_reason_unknown",
    );
    assert_eq!(t.counts().await, before);
    assert_eq!(t.get(m1, Entity::Deal, did).await.unwrap(), d);

    // One step at a time forward, any step back, won from the last open stage.
    for s in ["КП", "Договор", "Лид", "КП", "Договор", "Успех"] {
        let r = t
            .update(m1, Entity::Deal, did, json!({"stage_id": st[s]}), None)
            .await
            .unwrap_or_else(|e| panic!("to {s}: {e:?}"));
        assert_eq!(r["stage_id"], json!(st[s]));
    }
    let won = t.get(m1, Entity::Deal, did).await.unwrap();
    assert!(won["closed_at"].is_string());
    assert_eq!(won["probability"], json!(100));

    // A closed deal may be reopened anywhere; it may be lost with a known reason.
    t.update(m1, Entity::Deal, did, json!({"stage_id": st["КП"]}), None)
        .await
        .unwrap();
    let lost = t
        .update(
            m1,
            Entity::Deal,
            did,
            json!({"stage_id": st["Провал"], "lost_reason": "Дорого"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (lost["lost_reason"].as_str(), lost["closed_at"].is_string()),
        (Some("Дорого"), true)
    );
    let reopened = t
        .update(
            m1,
            Entity::Deal,
            did,
            json!({"stage_id": st["Договор"]}),
            None,
        )
        .await
        .unwrap();
    assert!(
        reopened["lost_reason"].is_null() && reopened["closed_at"].is_null(),
        "reopening forgets the loss"
    );
    // Other fields of a lost deal may change without a new stage check.
    let d2 = t.create(m1, Entity::Deal, json!({"title": "Сразу проиграна", "pipeline_id": pid, "stage_id": st["Провал"], "lost_reason": "Нет бюджета"})).await;
    t.update(
        m1,
        Entity::Deal,
        id(&d2),
        json!({"title": "Проиграна"}),
        None,
    )
    .await
    .unwrap();

    let names: BTreeMap<i64, &str> = st.iter().map(|(n, i)| (*i, *n)).collect();
    let moves: Vec<(Option<&str>, &str)> = t
        .stage_moves(did)
        .await
        .into_iter()
        .map(|(f, to)| (f.map(|f| names[&f]), names[&to]))
        .collect();
    assert_eq!(
        moves,
        [
            (None, "Лид"),
            (Some("Лид"), "КП"),
            (Some("КП"), "Договор"),
            (Some("Договор"), "Лид"),
            (Some("Лид"), "КП"),
            (Some("КП"), "Договор"),
            (Some("Договор"), "Успех"),
            (Some("Успех"), "КП"),
            (Some("КП"), "Провал"),
            (Some("Провал"), "Договор"),
        ]
    );
    let changes = changes_of(&t.history(Entity::Deal, did).await, "update");
    assert!(changes.contains(&(
        "stage_id".to_string(),
        json!(st["Договор"]),
        json!(st["Успех"])
    )));

    // Moving to another pipeline starts over at its first stage.
    let moved = t
        .update(
            m1,
            Entity::Deal,
            did,
            json!({"pipeline_id": t.fx.pipeline}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(moved["stage_id"], json!(t.fx.stage("Новая")));
    assert_eq!(
        t.stage_moves(did).await.last(),
        Some(&(None, t.fx.stage("Новая")))
    );
}

pub async fn idempotency_keys_replay_and_conflict(t: &T) {
    let (m1, m2) = (&t.fx.m1, &t.fx.m2);
    let body = json!({"name": "Ромашка", "inn": "7707083893"});
    let key = IdempotencyKey {
        key: "req-1".into(),
        body: body.clone(),
    };
    let (first, replayed) = t
        .store
        .create(m1, Entity::Company, &obj(body.clone()), Some(&key))
        .await
        .unwrap();
    assert!(!replayed);
    let before = t.counts().await;
    let (again, replayed) = t
        .store
        .create(m1, Entity::Company, &obj(body.clone()), Some(&key))
        .await
        .unwrap();
    assert!(replayed, "the second request is a replay");
    assert_eq!(again, first);
    assert_eq!(t.counts().await, before, "a replay writes nothing");

    let other = json!({"name": "Лютик"});
    let reused = IdempotencyKey {
        key: "req-1".into(),
        body: other.clone(),
    };
    assert_conflict(
        t.store
            .create(m1, Entity::Company, &obj(other), Some(&reused))
            .await,
        "Idempotency-Key",
        "idempotency_key_reused",
    );
    let as_contact = json!({"last_name": "Ромашка"});
    let reused = IdempotencyKey {
        key: "req-1".into(),
        body: as_contact.clone(),
    };
    assert_conflict(
        t.store
            .create(m1, Entity::Contact, &obj(as_contact), Some(&reused))
            .await,
        "Idempotency-Key",
        "idempotency_key_reused",
    );
    assert_eq!(t.counts().await, before);

    // Two requests with one new key at the same time create one record.
    let body = json!({"name": "Одновременная"});
    let key = IdempotencyKey {
        key: "req-2".into(),
        body: body.clone(),
    };
    let companies = testing::row_count(t.store.pool(), "companies").await;
    let fields = obj(body.clone());
    let (a, b) = tokio::join!(
        t.store.create(m1, Entity::Company, &fields, Some(&key)),
        t.store.create(m1, Entity::Company, &fields, Some(&key)),
    );
    assert_eq!(
        testing::row_count(t.store.pool(), "companies").await,
        companies + 1
    );
    let winner = match (a, b) {
        (Ok((r, false)), other) | (other, Ok((r, false))) => {
            match other {
                Ok((again, true)) => assert_eq!(again, r),
                other => assert_conflict(other, "Idempotency-Key", "idempotency_in_progress"),
            }
            r
        }
        (a, b) => panic!("no request created the record: {a:?} {b:?}"),
    };
    let (again, replayed) = t
        .store
        .create(m1, Entity::Company, &obj(body), Some(&key))
        .await
        .unwrap();
    assert!(replayed);
    assert_eq!(again, winner);

    // Keys belong to their user.
    let body = json!({"name": "Ромашка", "inn": "7707083893"});
    let key = IdempotencyKey {
        key: "req-1".into(),
        body: body.clone(),
    };
    let (theirs, replayed) = t
        .store
        .create(m2, Entity::Company, &obj(body), Some(&key))
        .await
        .unwrap();
    assert!(!replayed);
    assert_ne!(id(&theirs), id(&first));
    assert_eq!(theirs["owner_id"], json!(m2.user_id));
}
