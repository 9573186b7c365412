//! History and optimistic locking: nothing is lost and every change is accounted for.

use super::*;

pub async fn history_has_one_row_per_changed_field(t: &T) {
    let m1 = &t.fx.m1;
    t.create(&t.fx.admin, Entity::CustomField, json!({"entity": "company", "key": "segment", "label": "Сегмент", "kind": "select", "options": ["A", "B"]}))
        .await;
    let c = t
        .create(
            m1,
            Entity::Company,
            json!({"name": "Ромашка", "industry": "retail", "tags": ["vip"]}),
        )
        .await;
    let h0 = t.history(Entity::Company, id(&c)).await;
    assert!(h0
        .iter()
        .all(|h| h.action == "create" && h.changed_by == Some(m1.user_id)));
    assert_eq!(
        fields_of(&h0, "create"),
        set(&["name", "industry", "tags", "owner_id"])
    );
    // A creation is one row, listed field by field under that row's id.
    assert_eq!(h0.len(), 4);
    assert!(h0.iter().all(|h| h.id == h0[0].id && h.old_value.is_null()));
    let rows = format!(
        "SELECT COUNT(*) AS n FROM history WHERE entity = 'company' AND record_id = {}",
        id(&c)
    );
    let mut tx = t.store.pool().begin().await.unwrap();
    let n = tx.fetch_all_sql(&rows, no_values()).await.unwrap()[0]
        .i64("n")
        .unwrap();
    drop(tx);
    assert_eq!(n, Some(1));

    // Three fields sent, two of them changed: two rows.
    let before = testing::row_count(t.store.pool(), "history").await;
    t.update(
        m1,
        Entity::Company,
        id(&c),
        json!({"name": "Ромашка", "industry": "auto", "website": "romashka.ru"}),
        Some(1),
    )
    .await
    .unwrap();
    assert_eq!(
        testing::row_count(t.store.pool(), "history").await,
        before + 2
    );
    let h1 = t.history(Entity::Company, id(&c)).await;
    assert_eq!(
        changes_of(&h1, "update"),
        [
            ("industry".to_string(), json!("retail"), json!("auto")),
            (
                "website".to_string(),
                Json::Null,
                json!("https://romashka.ru/")
            ),
        ]
    );
    assert!(
        h1.windows(2).all(|w| w[0].id >= w[1].id),
        "history is newest first (a creation's fields share its row's id)"
    );

    // Custom values are tracked per key; clearing a value records the old one.
    t.update(
        m1,
        Entity::Company,
        id(&c),
        json!({"custom": {"segment": "A"}}),
        None,
    )
    .await
    .unwrap();
    t.update(
        m1,
        Entity::Company,
        id(&c),
        json!({"custom": {"segment": null}, "tags": []}),
        None,
    )
    .await
    .unwrap();
    let h2 = t.history(Entity::Company, id(&c)).await;
    let mut last: Vec<_> = h2
        .iter()
        .take(2)
        .map(|h| {
            (
                h.field.clone().unwrap(),
                h.old_value.clone(),
                h.new_value.clone(),
            )
        })
        .collect();
    last.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        last,
        [
            ("custom.segment".to_string(), json!("A"), Json::Null),
            ("tags".to_string(), json!(["vip"]), json!([]))
        ]
    );

    // An update that changes nothing writes no history; an empty one is a no-op.
    let before = testing::row_count(t.store.pool(), "history").await;
    let cur = t.get(m1, Entity::Company, id(&c)).await.unwrap();
    assert_eq!(
        t.update(m1, Entity::Company, id(&c), json!({}), Some(version(&cur)))
            .await
            .unwrap(),
        cur
    );
    t.update(
        m1,
        Entity::Company,
        id(&c),
        json!({"industry": "auto", "name": "Ромашка"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(testing::row_count(t.store.pool(), "history").await, before);

    // Paging through history with `before_id`.
    let all = t.history(Entity::Company, id(&c)).await;
    let first = t
        .store
        .history(&t.fx.admin, Entity::Company, id(&c), None, 3)
        .await
        .unwrap();
    let rest = t
        .store
        .history(&t.fx.admin, Entity::Company, id(&c), Some(first[2].id), 500)
        .await
        .unwrap();
    assert_eq!([first, rest].concat(), all);

    // History is as private as the record.
    let deal = t
        .create(
            &t.fx.m2,
            Entity::Deal,
            json!({"title": "Чужая", "pipeline_id": t.fx.pipeline}),
        )
        .await;
    assert_not_found(t.store.history(m1, Entity::Deal, id(&deal), None, 10).await);
}

pub async fn history_is_written_in_the_same_transaction(t: &T) {
    let m1 = &t.fx.m1;
    let deal = t
        .create(
            m1,
            Entity::Deal,
            json!({"title": "Сделка", "pipeline_id": t.fx.pipeline}),
        )
        .await;
    let before = t.counts().await;

    // A create rolled back takes its history, lookups and stage move with it.
    let mut tx = t.store.pool().begin_write().await.unwrap();
    let changes = parse_input(
        Entity::Deal,
        &[],
        &obj(json!({"title": "Откат", "pipeline_id": t.fx.pipeline, "tags": ["x"]})),
        Mode::Create,
    )
    .unwrap();
    let rec = records::insert(&mut tx, m1, Entity::Deal, &[], changes)
        .await
        .unwrap();
    let sql = format!(
        "SELECT COUNT(*) AS n FROM history WHERE entity = 'deal' AND record_id = {}",
        id(&rec)
    );
    let n = tx.fetch_all_sql(&sql, no_values()).await.unwrap()[0]
        .i64("n")
        .unwrap()
        .unwrap();
    assert_eq!(
        n, 1,
        "the creation's history row is visible inside the transaction"
    );
    drop(tx);
    assert_eq!(
        t.counts().await,
        before,
        "nothing of the rolled back create remains"
    );

    // Likewise an update.
    let old = t.get(m1, Entity::Deal, id(&deal)).await.unwrap();
    let mut tx = t.store.pool().begin_write().await.unwrap();
    let changes = parse_input(
        Entity::Deal,
        &[],
        &obj(json!({"title": "Новое", "stage_id": t.fx.stage("Договор")})),
        Mode::Update,
    )
    .unwrap();
    let new = records::apply(&mut tx, m1, Entity::Deal, &[], &old, changes)
        .await
        .unwrap();
    assert_eq!(new["title"], "Новое");
    drop(tx);
    assert_eq!(t.counts().await, before);
    assert_eq!(t.get(m1, Entity::Deal, id(&deal)).await.unwrap(), old);
}

pub async fn stale_versions_are_refused(t: &T) {
    let m1 = &t.fx.m1;
    let c = t
        .create(m1, Entity::Company, json!({"name": "Ромашка"}))
        .await;
    let c2 = t
        .update(
            m1,
            Entity::Company,
            id(&c),
            json!({"industry": "retail"}),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(version(&c2), 2);
    let before = t.counts().await;
    assert_stale(
        t.update(
            m1,
            Entity::Company,
            id(&c),
            json!({"name": "Лютик"}),
            Some(1),
        )
        .await,
        2,
    );
    assert_stale(
        t.update(
            m1,
            Entity::Company,
            id(&c),
            json!({"name": "Лютик"}),
            Some(3),
        )
        .await,
        2,
    );
    assert_stale(
        t.store
            .delete(&t.fx.admin, Entity::Company, id(&c), Some(1))
            .await,
        2,
    );
    assert_eq!(t.counts().await, before);
    assert_eq!(t.get(m1, Entity::Company, id(&c)).await.unwrap(), c2);
    // Without If-Match the last writer wins, but still through the version check.
    assert_eq!(
        version(
            &t.update(m1, Entity::Company, id(&c), json!({"name": "Лютик"}), None)
                .await
                .unwrap()
        ),
        3
    );
}

pub async fn concurrent_updates_lose_nothing(t: &T) {
    let m1 = &t.fx.m1;
    for key in ["k1", "k2"] {
        t.create(
            &t.fx.admin,
            Entity::CustomField,
            json!({"entity": "company", "key": key, "label": key, "kind": "text"}),
        )
        .await;
    }
    let c = t
        .create(m1, Entity::Company, json!({"name": "Ромашка"}))
        .await;
    let cid = id(&c);

    // Two writers holding the same version: exactly one wins, the other is told.
    for round in 0..4 {
        let v = version(&t.get(m1, Entity::Company, id(&c)).await.unwrap());
        let (a, b) = tokio::join!(
            t.update(
                m1,
                Entity::Company,
                id(&c),
                json!({"industry": format!("a{round}")}),
                Some(v)
            ),
            t.update(
                m1,
                Entity::Company,
                id(&c),
                json!({"source": format!("b{round}")}),
                Some(v)
            ),
        );
        let now = t.get(m1, Entity::Company, id(&c)).await.unwrap();
        assert_eq!(version(&now), v + 1);
        match (a, b) {
            (Ok(won), lost) => {
                assert_stale(lost, v + 1);
                assert_eq!(now, won);
                assert_eq!(now["industry"], json!(format!("a{round}")));
            }
            (lost, Ok(won)) => {
                assert_stale(lost, v + 1);
                assert_eq!(now, won);
                assert_eq!(now["source"], json!(format!("b{round}")));
            }
            (a, b) => panic!("neither writer won: {a:?} {b:?}"),
        }
    }

    // An update and a delete holding the same version: one of them is told it is stale.
    for round in 0..4 {
        let c = id(&t
            .create(
                m1,
                Entity::Company,
                json!({"name": format!("Гонка {round}")}),
            )
            .await);
        let (upd, del) = tokio::join!(
            t.update(
                m1,
                Entity::Company,
                c,
                json!({"industry": "retail"}),
                Some(1)
            ),
            t.store.delete(&t.fx.admin, Entity::Company, c, Some(1)),
        );
        match (upd, del) {
            (Ok(_), del) => {
                assert_stale(del, 2);
                assert_eq!(
                    t.get(m1, Entity::Company, c).await.unwrap()["industry"],
                    "retail"
                );
            }
            (upd, Ok(())) => {
                match domain(upd) {
                    DomainError::Stale { .. } | DomainError::NotFound => {}
                    other => panic!("the update lost to the delete: {other:?}"),
                }
                assert_not_found(t.get(m1, Entity::Company, c).await);
            }
            (a, b) => panic!("neither won: {a:?} {b:?}"),
        }
    }

    // Many writers of different fields, retrying when told they were stale: every
    // change lands, each exactly once.
    let v0 = version(&t.get(m1, Entity::Company, id(&c)).await.unwrap());
    let history0 = testing::row_count(t.store.pool(), "history").await;
    let writes = [
        json!({"legal_name": "ООО «Ромашка»"}),
        json!({"industry": "wholesale"}),
        json!({"website": "romashka.ru"}),
        json!({"source": "выставка"}),
        json!({"description": "Описание"}),
        json!({"kpp": "770701001"}),
        json!({"inn": "7736050003"}),
        json!({"tags": ["опт"]}),
        json!({"custom": {"k1": "один"}}),
        json!({"custom": {"k2": "два"}}),
    ];
    let results = futures::future::join_all(writes.iter().map(|body| async move {
        let mut stale = 0;
        loop {
            match t.update(m1, Entity::Company, cid, body.clone(), None).await {
                Ok(_) => return stale,
                Err(StoreError::Domain(DomainError::Stale { .. })) => stale += 1,
                Err(e) => panic!("update {body}: {e:?}"),
            }
        }
    }))
    .await;
    let end = t.get(m1, Entity::Company, id(&c)).await.unwrap();
    assert_eq!(
        version(&end),
        v0 + writes.len() as i64,
        "one version per write (retries: {results:?})"
    );
    for body in &writes {
        for (k, v) in body.as_object().unwrap() {
            match k.as_str() {
                "custom" => {
                    for (ck, cv) in v.as_object().unwrap() {
                        assert_eq!(&end["custom"][ck], cv, "custom.{ck} survived");
                    }
                }
                "website" => assert_eq!(end[k], "https://romashka.ru/"),
                _ => assert_eq!(&end[k], v, "{k} survived"),
            }
        }
    }
    assert_eq!(
        testing::row_count(t.store.pool(), "history").await,
        history0 + writes.len() as i64
    );
}
