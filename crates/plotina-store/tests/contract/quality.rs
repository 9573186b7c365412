//! Data quality: completeness per field and owner, records without a next activity.

use super::*;

/// Per owner: the number of records and the missing count per field.
type ByOwner<'a> = BTreeMap<i64, (i64, Vec<(&'a str, i64)>)>;

pub async fn completeness_per_field_and_owner(t: &T) {
    let fx = &t.fx;
    let a = &fx.admin;
    for body in [
        json!({"name": "Полная", "inn": "7707083893", "industry": "retail", "phones": ["+74951234567"], "emails": ["a@b.ru"], "website": "https://a.ru", "source": "web_form"}),
        json!({"name": "Пустая", "industry": ""}),
        json!({"name": "С телефоном", "phones": ["+74951234568"]}),
    ] {
        t.create(a, Entity::Company, body).await;
    }
    t.create(
        &fx.m1,
        Entity::Company,
        json!({"name": "Менеджерская", "inn": "500100732259"}),
    )
    .await;
    let deleted = id(&t
        .create(a, Entity::Company, json!({"name": "Удалённая"}))
        .await);
    t.store
        .delete(a, Entity::Company, deleted, None)
        .await
        .unwrap();

    let rows = t.store.completeness(a, Entity::Company).await.unwrap();
    let by_owner: ByOwner = rows
        .iter()
        .map(|r| {
            (
                r.owner_id.unwrap(),
                (r.total, r.missing.iter().map(|(k, v)| (*k, *v)).collect()),
            )
        })
        .collect();
    assert_eq!(
        by_owner[&a.user_id],
        (
            3,
            vec![
                ("emails", 2),
                ("industry", 2),
                ("inn", 2),
                ("phones", 1),
                ("source", 2),
                ("website", 2)
            ]
        )
    );
    assert_eq!(
        by_owner[&fx.m1.user_id],
        (
            1,
            vec![
                ("emails", 1),
                ("industry", 1),
                ("inn", 0),
                ("phones", 1),
                ("source", 1),
                ("website", 1)
            ]
        )
    );
    // Deals: open deals without amount.
    t.create(
        a,
        Entity::Deal,
        json!({"title": "Без суммы", "pipeline_id": fx.pipeline}),
    )
    .await;
    let rows = t.store.completeness(a, Entity::Deal).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].missing["amount"], 1);
}

pub async fn records_without_a_next_activity(t: &T) {
    let fx = &t.fx;
    let a = &fx.admin;
    let busy = id(&t
        .create(a, Entity::Company, json!({"name": "С задачей"}))
        .await);
    let done_only = id(&t
        .create(a, Entity::Company, json!({"name": "Только выполненное"}))
        .await);
    let idle = id(&t
        .create(a, Entity::Company, json!({"name": "Забытая"}))
        .await);
    t.create(
        a,
        Entity::Activity,
        json!({"kind": "task", "subject": "Позвонить", "company_id": busy}),
    )
    .await;
    t.create(
        a,
        Entity::Activity,
        json!({"kind": "call", "subject": "Звонок", "company_id": done_only, "done": true}),
    )
    .await;
    let got: Vec<i64> = t
        .store
        .without_next_activity(a, Entity::Company, None, 50)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(got, vec![done_only, idle]);
    // Paging.
    let got: Vec<i64> = t
        .store
        .without_next_activity(a, Entity::Company, Some(done_only), 50)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(got, vec![idle]);

    // Open deals only: a won deal without activities is not listed.
    let open = id(&t
        .create(
            a,
            Entity::Deal,
            json!({"title": "Открытая", "pipeline_id": fx.pipeline}),
        )
        .await);
    let won = t.fx.stage("Успешно");
    let w = id(&t
        .create(
            a,
            Entity::Deal,
            json!({"title": "Закрытая", "pipeline_id": fx.pipeline}),
        )
        .await);
    let mut tx = t.store.pool().begin_write().await.unwrap();
    tx.raw(&format!("UPDATE deals SET stage_id = {won} WHERE id = {w}"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let got: Vec<i64> = t
        .store
        .without_next_activity(a, Entity::Deal, None, 50)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(got, vec![open]);
    // m1 sees only their own deals: none.
    assert!(t
        .store
        .without_next_activity(&fx.m1, Entity::Deal, None, 50)
        .await
        .unwrap()
        .is_empty());
}
