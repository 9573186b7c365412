//! Duplicates: the check on create/edit (every reason, hidden candidates without their
//! data, confirmation), and the finder over the whole base.

use plotina_store::duplicates::{Candidate, Checked, FindParams};

use super::*;

async fn checked_create(t: &T, a: &Actor, e: Entity, body: Json) -> Vec<Candidate> {
    match t
        .store
        .create_checked(a, e, &obj(body), None, false)
        .await
        .expect("checked create")
    {
        Checked::Duplicates(c) => c,
        Checked::Done(_) => Vec::new(),
    }
}

fn summary(c: &[Candidate]) -> Vec<(Entity, i64, Vec<&'static str>)> {
    c.iter()
        .map(|c| (c.entity, c.id, c.reasons.clone()))
        .collect()
}

pub async fn duplicates_are_found_on_create_by_every_reason(t: &T) {
    let a = &t.fx.admin;
    let romashka = id(&t
        .create(
            a,
            Entity::Company,
            json!({"name": "ООО «Ромашка»", "inn": "7707083893", "kpp": "773601001",
                   "phones": ["+7 495 123-45-67"], "emails": ["Info@Romashka.ru"]}),
        )
        .await);
    let lutik = id(&t
        .create(
            a,
            Entity::Company,
            json!({"name": "Лютик", "inn": "7707083893", "kpp": "771001001"}),
        )
        .await);
    let companies_before = testing::row_count(t.store.pool(), "companies").await;
    let keys_before = testing::row_count(t.store.pool(), "dedup_keys").await;

    // Same INN and KPP: inn_kpp for Ромашка, inn for Лютик (other KPP).
    let c = checked_create(
        t,
        a,
        Entity::Company,
        json!({"name": "Другое имя", "inn": "7707083893", "kpp": "773601001"}),
    )
    .await;
    assert_eq!(
        summary(&c),
        vec![
            (Entity::Company, romashka, vec!["inn_kpp"]),
            (Entity::Company, lutik, vec!["inn"]),
        ]
    );
    assert_eq!(c[0].title.as_deref(), Some("ООО «Ромашка»"));
    assert!(c[0].visible);
    // Nothing was written by the refused creates.
    assert_eq!(
        testing::row_count(t.store.pool(), "companies").await,
        companies_before
    );
    assert_eq!(
        testing::row_count(t.store.pool(), "dedup_keys").await,
        keys_before
    );

    // The phone typed another way, the e-mail in another case, the name spelled with
    // Latin look-alikes and another legal form.
    let c = checked_create(
        t,
        a,
        Entity::Company,
        json!({"name": "Pомашкa LLC", "phones": ["8 (495) 1234567"], "emails": ["info@romashka.RU"]}),
    )
    .await;
    assert_eq!(
        summary(&c),
        vec![(Entity::Company, romashka, vec!["phone", "email", "name"])]
    );
    // Nothing in common: created.
    let c = checked_create(t, a, Entity::Company, json!({"name": "Василёк"})).await;
    assert!(c.is_empty());
    assert_eq!(
        testing::row_count(t.store.pool(), "companies").await,
        companies_before + 1
    );

    // Confirmed: created although it matches.
    let out = t
        .store
        .create_checked(
            a,
            Entity::Company,
            &obj(json!({"name": "Ромашка"})),
            None,
            true,
        )
        .await
        .unwrap();
    assert!(matches!(out, Checked::Done(_)));

    // Contacts: same person with words in another order and ё.
    let anna = id(&t
        .create(
            a,
            Entity::Contact,
            json!({"last_name": "Фёдорова", "first_name": "Анна", "emails": ["anna@example.ru"]}),
        )
        .await);
    let c = checked_create(
        t,
        a,
        Entity::Contact,
        json!({"last_name": "Анна", "first_name": "Федорова"}),
    )
    .await;
    assert_eq!(summary(&c), vec![(Entity::Contact, anna, vec!["name"])]);

    // A lead is checked against leads, companies and contacts.
    let c = checked_create(
        t,
        a,
        Entity::Lead,
        json!({"title": "Заявка с сайта", "company_name": "ооо ромашка",
               "contact_name": "Федорова Анна", "email": "ANNA@example.ru"}),
    )
    .await;
    let got = summary(&c);
    assert!(
        got.contains(&(Entity::Company, romashka, vec!["name"])),
        "{got:?}"
    );
    assert!(
        got.contains(&(Entity::Contact, anna, vec!["email", "name"])),
        "{got:?}"
    );
}

pub async fn hidden_duplicates_are_reported_without_their_data(t: &T) {
    let fx = &t.fx;
    // m2's private company: m1 may not read it.
    let hidden = id(&t
        .create(
            &fx.m2,
            Entity::Company,
            json!({"name": "Секретная", "inn": "500100732259", "private": true}),
        )
        .await);
    assert_not_found(t.get(&fx.m1, Entity::Company, hidden).await);
    let c = checked_create(
        t,
        &fx.m1,
        Entity::Company,
        json!({"name": "Совсем другая", "inn": "500100732259"}),
    )
    .await;
    assert_eq!(summary(&c), vec![(Entity::Company, hidden, vec!["inn"])]);
    assert!(!c[0].visible);
    assert_eq!(
        c[0].title, None,
        "the title of a hidden record must not leak"
    );
    assert_eq!(c[0].owner_name.as_deref(), Some("Менеджер Второй"));
}

pub async fn edits_are_checked_only_for_what_they_change(t: &T) {
    let a = &t.fx.admin;
    let first = id(&t
        .create(
            a,
            Entity::Company,
            json!({"name": "Альфа", "inn": "7707083893"}),
        )
        .await);
    // An old duplicate (created with confirmation)...
    let second = match t
        .store
        .create_checked(
            a,
            Entity::Company,
            &obj(json!({"name": "Альфа-2", "inn": "7707083893"})),
            None,
            true,
        )
        .await
        .unwrap()
    {
        Checked::Done((r, _)) => id(&r),
        Checked::Duplicates(c) => panic!("confirmed create refused: {c:?}"),
    };
    // ...may have its description edited without a question.
    let out = t
        .store
        .update_checked(
            a,
            Entity::Company,
            second,
            &obj(json!({"description": "заметка"})),
            None,
            false,
        )
        .await
        .unwrap();
    assert!(matches!(out, Checked::Done(_)));
    // Renaming it to the first one's name is a new match: refused, nothing changed.
    let out = t
        .store
        .update_checked(
            a,
            Entity::Company,
            second,
            &obj(json!({"name": "ООО «АЛЬФА»"})),
            None,
            false,
        )
        .await
        .unwrap();
    match out {
        Checked::Duplicates(c) => {
            assert_eq!(summary(&c), vec![(Entity::Company, first, vec!["name"])])
        }
        Checked::Done(_) => panic!("rename to a duplicate name was not stopped"),
    }
    let rec = t.get(a, Entity::Company, second).await.unwrap();
    assert_eq!(rec["name"], "Альфа-2");
    // Deleted records are not candidates.
    t.store
        .delete(a, Entity::Company, first, None)
        .await
        .unwrap();
    let out = t
        .store
        .update_checked(
            a,
            Entity::Company,
            second,
            &obj(json!({"name": "ООО «АЛЬФА»"})),
            None,
            false,
        )
        .await
        .unwrap();
    assert!(matches!(out, Checked::Done(_)));
}

pub async fn finder_groups_the_base_by_reason(t: &T) {
    let fx = &t.fx;
    let a = &fx.admin;
    let mk = |owner: &Actor, body: Json| {
        let owner = owner.clone();
        async move {
            match t
                .store
                .create_checked(&owner, Entity::Company, &obj(body), None, true)
                .await
                .unwrap()
            {
                Checked::Done((r, _)) => id(&r),
                Checked::Duplicates(_) => unreachable!(),
            }
        }
    };
    let r1 = mk(a, json!({"name": "ООО «Ромашка»", "inn": "7707083893", "kpp": "773601001", "phones": ["+74951234567"]})).await;
    let r2 = mk(
        a,
        json!({"name": "Ромашка ООО", "inn": "7707083893", "kpp": "773601001"}),
    )
    .await;
    let r3 = mk(
        &fx.m1,
        json!({"name": "Pомашка", "phones": ["8 495 123 45 67"], "private": true}),
    )
    .await;
    let _single = mk(a, json!({"name": "Одиночка", "inn": "500100732259"})).await;
    let deleted = mk(a, json!({"name": "Ромашка", "inn": "7707083893"})).await;
    t.store
        .delete(a, Entity::Company, deleted, None)
        .await
        .unwrap();

    let find = |actor: &Actor, reason: Option<&'static str>| {
        let actor = actor.clone();
        async move {
            t.store
                .find_duplicates(
                    &actor,
                    &FindParams {
                        entity: Entity::Company,
                        reason,
                        after: None,
                        limit: 100,
                    },
                )
                .await
                .unwrap()
                .into_iter()
                .map(|g| {
                    (
                        g.reason,
                        g.value,
                        g.records.iter().map(|m| m.id).collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        find(a, None).await,
        vec![
            ("inn_kpp", "7707083893/773601001".to_string(), vec![r1, r2]),
            ("inn", "7707083893".to_string(), vec![r1, r2]),
            ("phone", "+74951234567".to_string(), vec![r1, r3]),
            ("name", "ромашка".to_string(), vec![r1, r2, r3]),
        ]
    );
    assert_eq!(
        find(a, Some("phone")).await,
        vec![("phone", "+74951234567".to_string(), vec![r1, r3])]
    );
    // m1's private company is hidden from m2: no phone group, and it is not a member
    // of the name group.
    assert_eq!(
        find(&fx.m2, None).await,
        vec![
            ("inn_kpp", "7707083893/773601001".to_string(), vec![r1, r2]),
            ("inn", "7707083893".to_string(), vec![r1, r2]),
            ("name", "ромашка".to_string(), vec![r1, r2]),
        ]
    );
    // Paging by value within a reason.
    let page = t
        .store
        .find_duplicates(
            a,
            &FindParams {
                entity: Entity::Company,
                reason: Some("name"),
                after: Some("ромашка".into()),
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(page.is_empty());
}

pub async fn reindex_keys_records_written_without_them(t: &T) {
    let a = &t.fx.admin;
    let c1 = id(&t
        .create(a, Entity::Company, json!({"name": "ООО «Берёза»"}))
        .await);
    let c2 = id(&t
        .create(
            a,
            Entity::Contact,
            json!({"first_name": "Пётр", "last_name": "Иванов"}),
        )
        .await);
    let mut tx = t.store.pool().begin_write().await.unwrap();
    tx.raw("DELETE FROM dedup_keys").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(t.store.reindex_duplicate_keys().await.unwrap(), 2);
    let mut tx = t.store.pool().begin().await.unwrap();
    let rows = tx
        .fetch_all_sql(
            "SELECT entity, record_id, kind, value FROM dedup_keys ORDER BY entity, record_id",
            no_values(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let got: Vec<(String, i64, String, String)> = rows
        .iter()
        .map(|r: &Row| {
            (
                r.text("entity").unwrap().unwrap(),
                r.i64("record_id").unwrap().unwrap(),
                r.text("kind").unwrap().unwrap(),
                r.text("value").unwrap().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("company".into(), c1, "company_name".into(), "береза".into()),
            (
                "contact".into(),
                c2,
                "person_name".into(),
                "иванов петр".into()
            ),
        ]
    );
    // A second run has nothing to do.
    assert_eq!(t.store.reindex_duplicate_keys().await.unwrap(), 0);
}
