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

/// Checksums of every table but the append-only ones a merge and its undo add to.
async fn state(t: &T) -> Vec<(&'static str, u64, String)> {
    plotina_store::copy::checksums(t.store.pool())
        .await
        .unwrap()
        .into_iter()
        .filter(|c| !matches!(c.table, "history" | "merges"))
        .map(|c| (c.table, c.rows, c.checksum))
        .collect()
}

pub async fn merge_moves_every_link_and_undo_restores_exactly(t: &T) {
    let a = &t.fx.admin;
    let confirm = |e: Entity, body: Json| async move {
        match t
            .store
            .create_checked(a, e, &obj(body), None, true)
            .await
            .unwrap()
        {
            Checked::Done((r, _)) => id(&r),
            Checked::Duplicates(_) => unreachable!(),
        }
    };
    let survivor = confirm(
        Entity::Company,
        json!({"name": "ООО «Ромашка»", "phones": ["+74951234567"], "tags": ["vip"]}),
    )
    .await;
    let victim = confirm(
        Entity::Company,
        json!({"name": "Ромашка", "inn": "7707083893", "industry": "retail", "emails": ["info@romashka.ru"]}),
    )
    .await;
    let victim2 = confirm(Entity::Company, json!({"name": "Ромашка ООО"})).await;
    let deal = id(&t
        .create(a, Entity::Deal, json!({"title": "Поставка", "pipeline_id": t.fx.pipeline, "company_id": victim, "amount": "1500.50"}))
        .await);
    let act = id(&t
        .create(
            a,
            Entity::Activity,
            json!({"kind": "call", "subject": "Звонок", "company_id": victim2}),
        )
        .await);
    let lead = id(&t.create(a, Entity::Lead, json!({"title": "Заявка"})).await);
    // A lead's company is set by conversion; here straight in the table.
    let mut tx = t.store.pool().begin_write().await.unwrap();
    tx.raw(&format!(
        "UPDATE leads SET company_id = {victim} WHERE id = {lead}"
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // A contact of both the survivor and a victim, and one of a victim only.
    let both = id(&t
        .create(a, Entity::Contact, json!({"first_name": "Анна", "companies": [{"company_id": survivor}, {"company_id": victim, "role": "бухгалтер"}]}))
        .await);
    let only = id(&t
        .create(
            a,
            Entity::Contact,
            json!({"first_name": "Борис", "companies": [{"company_id": victim2}]}),
        )
        .await);
    let file = t
        .store
        .add_attachment(
            a,
            Entity::Company,
            victim,
            plotina_store::attachments::NewAttachment {
                file_name: "договор.pdf",
                content_type: "application/pdf",
                size: 3,
                sha256: "a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3",
            },
        )
        .await
        .unwrap();
    // Trash a linked activity too: links move for trashed records as well.
    t.store
        .delete(a, Entity::Activity, act, None)
        .await
        .unwrap();

    let before = state(t).await;
    let out = t
        .store
        .merge_duplicates(
            a,
            &plotina_store::duplicates::MergeRequest {
                entity: Entity::Company,
                survivor,
                victims: vec![victim, victim2],
                take: [
                    ("inn".to_string(), victim),
                    ("industry".to_string(), victim),
                    ("name".to_string(), survivor),
                ]
                .into_iter()
                .collect(),
            },
        )
        .await
        .unwrap();
    assert_eq!(out.survivor["inn"], "7707083893");
    assert_eq!(out.survivor["industry"], "retail");
    assert_eq!(out.survivor["name"], "ООО «Ромашка»");
    assert_eq!(out.survivor["phones"], json!(["+74951234567"]));
    assert_eq!(out.moved["deal.company_id"], 1);
    assert_eq!(out.moved["activity.company_id"], 1);
    assert_eq!(out.moved["lead.company_id"], 1);
    assert_eq!(out.moved["contact.companies"], 2);
    assert_eq!(out.moved["attachments"], 1);

    let deal_rec = t.get(a, Entity::Deal, deal).await.unwrap();
    assert_eq!(deal_rec["company_id"], survivor);
    assert_eq!(deal_rec["amount"], "1500.50");
    let lead_rec = t.get(a, Entity::Lead, lead).await.unwrap();
    assert_eq!(lead_rec["company_id"], survivor);
    let act_rec = t
        .store
        .get_in(a, Entity::Activity, act, true)
        .await
        .unwrap();
    assert_eq!(act_rec["company_id"], survivor);
    let both_rec = t.get(a, Entity::Contact, both).await.unwrap();
    assert_eq!(
        both_rec["companies"],
        json!([{"company_id": survivor, "role": null}])
    );
    let only_rec = t.get(a, Entity::Contact, only).await.unwrap();
    assert_eq!(only_rec["companies"][0]["company_id"], survivor);
    // The contact filter by company goes through record_lookup: it follows the move.
    assert_eq!(
        t.ids(a, Entity::Contact, &format!("companies = {survivor}"))
            .await,
        vec![both, only]
    );
    assert_not_found(t.get(a, Entity::Company, victim).await);
    assert_not_found(t.get(a, Entity::Company, victim2).await);
    let files = t
        .store
        .attachments(a, Entity::Company, survivor)
        .await
        .unwrap();
    assert_eq!(
        files.iter().map(|f| f.id).collect::<Vec<_>>(),
        vec![file.id]
    );
    // The moved deal's history names the move.
    let h = t.history(Entity::Deal, deal).await;
    assert_eq!(h[0].field.as_deref(), Some("company_id"));
    assert_eq!(h[0].old_value, json!(victim));
    assert_eq!(h[0].new_value, json!(survivor));
    assert_ne!(state(t).await, before);

    // Undo: every table as it was.
    t.store.undo_merge(a, out.merge_id).await.unwrap();
    assert_eq!(state(t).await, before);
    assert_eq!(
        t.get(a, Entity::Company, victim).await.unwrap()["inn"],
        "7707083893"
    );
    assert_eq!(
        t.get(a, Entity::Deal, deal).await.unwrap()["company_id"],
        victim
    );
    // Twice is refused.
    assert_conflict(
        t.store.undo_merge(a, out.merge_id).await,
        "id",
        "merge_already_undone",
    );
}

pub async fn merge_refusals_change_nothing(t: &T) {
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
    let s = mk(a, json!({"name": "Альфа"})).await;
    let v = mk(a, json!({"name": "Альфа ООО"})).await;
    let private = mk(&fx.m2, json!({"name": "Альфа", "private": true})).await;
    let own = mk(&fx.m1, json!({"name": "Альфа М1"})).await;
    let counts = testing::row_counts(t.store.pool()).await;
    let req = |survivor: i64, victims: Vec<i64>, take: &[(&str, i64)]| {
        plotina_store::duplicates::MergeRequest {
            entity: Entity::Company,
            survivor,
            victims,
            take: take.iter().map(|(f, i)| (f.to_string(), *i)).collect(),
        }
    };
    assert_invalid(
        t.store.merge_duplicates(a, &req(s, vec![], &[])).await,
        "victims",
        "merge_victims_invalid",
    );
    assert_invalid(
        t.store.merge_duplicates(a, &req(s, vec![s], &[])).await,
        "victims",
        "merge_survivor_is_victim",
    );
    assert_invalid(
        t.store
            .merge_duplicates(a, &req(s, vec![v], &[("nonsense", v)]))
            .await,
        "take.nonsense",
        "merge_field_invalid",
    );
    assert_invalid(
        t.store
            .merge_duplicates(a, &req(s, vec![v], &[("name", 999_999)]))
            .await,
        "take.name",
        "merge_source_invalid",
    );
    // m1 cannot see m2's private company: it is not there for them.
    assert_not_found(
        t.store
            .merge_duplicates(&fx.m1, &req(own, vec![private], &[]))
            .await,
    );
    assert_not_found(
        t.store
            .merge_duplicates(a, &req(s, vec![424_242], &[]))
            .await,
    );
    assert_eq!(testing::row_counts(t.store.pool()).await, counts);

    // An undo is refused once a touched record changed again.
    let out = t
        .store
        .merge_duplicates(a, &req(s, vec![v], &[]))
        .await
        .unwrap();
    t.update(
        a,
        Entity::Company,
        s,
        json!({"description": "после слияния"}),
        None,
    )
    .await
    .unwrap();
    assert_conflict(
        t.store.undo_merge(a, out.merge_id).await,
        "id",
        "merge_changed_since",
    );
    assert_not_found(t.store.undo_merge(a, 777_777).await);
}
