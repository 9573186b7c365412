//! Sorting, cursor pagination, list parameters and search.

use super::*;

/// The value of a sort key in a record, for checking an order.
fn sort_value(rec: &Record, name: &str) -> Option<f64> {
    let v = match name.strip_prefix("custom.") {
        Some(k) => rec["custom"].get(k).cloned().unwrap_or(Json::Null),
        None => rec[name].clone(),
    };
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s
            .parse()
            .ok()
            .or_else(|| Some(s.replace('-', "").parse::<f64>().unwrap_or(0.0))),
        _ => None,
    }
}

/// Every id of a list, page by page through the cursors.
async fn walk(t: &T, a: &Actor, entity: Entity, sort: &str, limit: u64) -> Vec<i64> {
    let sort = (!sort.is_empty()).then(|| sort.to_string());
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let params = ListParams {
            sort: sort.clone(),
            limit: Some(limit),
            cursor: cursor.clone(),
            ..Default::default()
        };
        let page = t
            .store
            .list(a, entity, &params)
            .await
            .unwrap_or_else(|e| panic!("sort {sort:?} limit {limit}: {e:?}"));
        assert!(page.data.len() as u64 <= limit);
        seen.extend(page.data.iter().map(id));
        pages += 1;
        assert!(
            pages <= 1000,
            "sort {sort:?} limit {limit}: the walk does not end"
        );
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return seen,
        }
    }
}

pub async fn cursor_pagination_visits_every_row_once(t: &T) {
    let admin = &t.fx.admin;
    t.create(
        admin,
        Entity::CustomField,
        json!({"entity": "deal", "key": "size", "label": "Размер", "kind": "number"}),
    )
    .await;
    t.create(
        admin,
        Entity::CustomField,
        json!({"entity": "deal", "key": "vip", "label": "VIP", "kind": "bool"}),
    )
    .await;
    t.create(admin, Entity::CustomField, json!({"entity": "deal", "key": "region", "label": "Регион", "kind": "select", "options": ["Урал", "Сибирь"]})).await;
    let titles = ["Поставка", "Монтаж", "Аудит", "Сервис", "Обучение"];
    let stages = ["Новая", "Квалификация", "Переговоры", "Договор"];
    let total = 23;
    let mut all = Vec::new();
    for i in 0..total {
        let mut body = json!({"title": titles[i % titles.len()], "pipeline_id": t.fx.pipeline, "stage_id": t.fx.stage(stages[i % stages.len()])});
        if i % 4 != 0 {
            body["amount"] = json!(format!("{}.50", (i % 5) * 1000));
        }
        if i % 3 != 0 {
            body["close_date"] = json!(day((i % 7) as i64));
        }
        let mut custom = json!({"vip": i % 3 == 1});
        if i % 4 != 1 {
            custom["size"] = json!((i % 6) as f64 / 2.0);
        }
        if i % 5 != 2 {
            custom["region"] = json!(["Урал", "Сибирь"][i % 2]);
        }
        body["custom"] = custom;
        all.push(id(&t
            .create(
                if i % 2 == 0 { admin } else { &t.fx.m1 },
                Entity::Deal,
                body,
            )
            .await));
    }
    // Touch a few so that updated_at differs from creation order.
    for &d in [all[3], all[17], all[8]].iter() {
        t.update(
            admin,
            Entity::Deal,
            d,
            json!({"description": "тронута"}),
            None,
        )
        .await
        .unwrap();
    }
    let everything: BTreeSet<i64> = all.iter().copied().collect();
    let sorts = [
        "",
        "id",
        "-id",
        "title",
        "-title",
        "amount",
        "-amount",
        "close_date",
        "-close_date,title",
        "custom.size",
        "-custom.size",
        "custom.vip,-custom.size",
        "-custom.vip",
        "custom.region,title",
        "-custom.region",
        "stage_id,-amount",
        "-updated_at",
        "updated_at",
        "-created_at",
        "title,custom.size,-close_date",
    ];
    for sort in sorts {
        let sort_param = (!sort.is_empty()).then(|| sort.to_string());
        let full = t
            .store
            .list(
                admin,
                Entity::Deal,
                &ListParams {
                    sort: sort_param.clone(),
                    limit: Some(500),
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("sort {sort:?}: {e:?}"));
        assert!(full.next_cursor.is_none());
        let full_ids: Vec<i64> = full.data.iter().map(id).collect();
        assert_eq!(
            full_ids.iter().copied().collect::<BTreeSet<_>>(),
            everything,
            "sort {sort:?} lists everything"
        );

        // The first key's order holds, NULLs last in both directions.
        let first = sort.split(',').next().unwrap_or("");
        if matches!(
            first.trim_start_matches('-'),
            "amount" | "close_date" | "custom.size" | "id"
        ) {
            let desc = first.starts_with('-');
            let vals: Vec<Option<f64>> = full
                .data
                .iter()
                .map(|r| sort_value(r, first.trim_start_matches('-')))
                .collect();
            let non_null = vals.iter().take_while(|v| v.is_some()).count();
            assert!(
                vals[non_null..].iter().all(Option::is_none),
                "sort {sort:?}: NULLs last: {vals:?}"
            );
            let ok =
                vals[..non_null]
                    .windows(2)
                    .all(|w| if desc { w[0] >= w[1] } else { w[0] <= w[1] });
            assert!(ok, "sort {sort:?} out of order: {vals:?}");
        }

        for limit in [1, 4, 7, 10] {
            assert_eq!(
                walk(t, admin, Entity::Deal, sort, limit).await,
                full_ids,
                "sort {sort:?} limit {limit}: every row once, in order"
            );
        }
    }

    // Built-in booleans and texts on another entity, as a manager sees them.
    for i in 0..11 {
        let body = json!({"name": format!("Компания {}", i % 4), "private": i % 3 == 0, "industry": if i % 2 == 0 { json!("retail") } else { Json::Null }});
        t.create(&t.fx.m1, Entity::Company, body).await;
    }
    for sort in ["private,-name", "-private", "industry,private", "-industry"] {
        let full: Vec<i64> = t
            .store
            .list(
                &t.fx.m1,
                Entity::Company,
                &ListParams {
                    sort: Some(sort.into()),
                    limit: Some(500),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .data
            .iter()
            .map(id)
            .collect();
        assert_eq!(full.len(), 11);
        for limit in [2, 3, 5] {
            assert_eq!(
                walk(t, &t.fx.m1, Entity::Company, sort, limit).await,
                full,
                "companies sort {sort:?} limit {limit}"
            );
        }
    }

    // Cursors belong to their sort and are checked.
    let page = t
        .store
        .list(
            admin,
            Entity::Deal,
            &ListParams {
                sort: Some("title".into()),
                limit: Some(5),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let cursor = page.next_cursor.expect("more pages");
    let mismatch = ListParams {
        sort: Some("-title".into()),
        limit: Some(5),
        cursor: Some(cursor),
        ..Default::default()
    };
    assert_eq!(
        bad_request(t.store.list(admin, Entity::Deal, &mismatch).await),
        ("cursor".into(), "cursor_sort_mismatch")
    );
    let garbage = ListParams {
        cursor: Some("!!!".into()),
        ..Default::default()
    };
    assert_eq!(
        bad_request(t.store.list(admin, Entity::Deal, &garbage).await),
        ("cursor".into(), "cursor_invalid")
    );
}

pub async fn list_parameters_are_checked(t: &T) {
    let m1 = &t.fx.m1;
    let company = id(&t
        .create(m1, Entity::Company, json!({"name": "Ромашка"}))
        .await);
    for i in 0..5 {
        t.create(m1, Entity::Deal, json!({"title": format!("Д{i}"), "pipeline_id": t.fx.pipeline, "company_id": if i < 2 { json!(company) } else { Json::Null }})).await;
    }
    let list = |params: ListParams| async move { t.store.list(m1, Entity::Deal, &params).await };
    assert_eq!(
        bad_request(
            list(ListParams {
                limit: Some(0),
                ..Default::default()
            })
            .await
        ),
        ("limit".into(), "limit_range")
    );
    assert_eq!(
        bad_request(
            list(ListParams {
                limit: Some(501),
                ..Default::default()
            })
            .await
        ),
        ("limit".into(), "limit_range")
    );
    t.create(&t.fx.admin, Entity::CustomField, json!({"entity": "deal", "key": "channels", "label": "Каналы", "kind": "multi_select", "options": ["web"]})).await;
    for sort in [
        "colour",
        "tags",
        "custom.nope",
        "contact_ids",
        "custom.channels",
    ] {
        let r = list(ListParams {
            sort: Some(sort.into()),
            ..Default::default()
        })
        .await;
        assert_eq!(
            bad_request(r),
            ("sort".into(), "sort_unknown_field"),
            "{sort}"
        );
    }
    assert_eq!(
        list(ListParams {
            limit: Some(500),
            ..Default::default()
        })
        .await
        .unwrap()
        .data
        .len(),
        5
    );
    let related = ListParams {
        and: vec![plotina_store::eq_filter("company_id", company)],
        ..Default::default()
    };
    assert_eq!(list(related).await.unwrap().data.len(), 2);
    let params = ListParams::default();
    assert_eq!(
        t.store.count(m1, Entity::Deal, &params, 3).await.unwrap(),
        3,
        "counting stops at the cap"
    );
    assert_eq!(
        t.store
            .count(m1, Entity::Deal, &params, 1000)
            .await
            .unwrap(),
        5
    );
}

pub async fn search_by_phone_word_forms_inn_and_email(t: &T) {
    let (m1, m2) = (&t.fx.m1, &t.fx.m2);
    let company = id(&t
        .create(
            m1,
            Entity::Company,
            json!({"name": "ООО «Техснаб»", "inn": "7736050003", "phones": ["+7 912 345-67-89"]}),
        )
        .await);
    let contact = id(&t
        .create(m1, Entity::Contact, json!({"last_name": "Петров", "first_name": "Пётр", "phones": ["8 (912) 345-67-89"], "emails": ["Petrov@Tehsnab.ru"]}))
        .await);
    let lead = id(&t
        .create(
            m1,
            Entity::Lead,
            json!({"title": "Заявка Петрова", "phone": "+79123456789"}),
        )
        .await);
    let deal = id(&t
        .create(
            m1,
            Entity::Deal,
            json!({"title": "Поставка оборудования", "pipeline_id": t.fx.pipeline}),
        )
        .await);
    t.create(
        m1,
        Entity::Deal,
        json!({"title": "Ремонт", "pipeline_id": t.fx.pipeline}),
    )
    .await;

    let hits = |a: &Actor, q: &'static str| {
        let a = a.clone();
        async move {
            let mut out: Vec<(Entity, i64)> = t
                .store
                .search(&a, q, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|h| (h.entity, h.id))
                .collect();
            out.sort();
            out
        }
    };
    let phone_hits = vec![
        (Entity::Company, company),
        (Entity::Contact, contact),
        (Entity::Lead, lead),
    ];
    assert_eq!(
        hits(m1, "8 912 345-67-89").await,
        phone_hits,
        "a phone as typed finds every holder, and no deal"
    );
    assert_eq!(hits(m1, "+7 (912) 3456789").await, phone_hits);
    assert_eq!(
        hits(m1, "345-67-89").await,
        phone_hits,
        "a fragment of a number"
    );
    assert_eq!(
        hits(m1, "поставки").await,
        [(Entity::Deal, deal)],
        "another word form"
    );
    assert_eq!(
        hits(m1, "ПОСТАВКАМИ оборудованием").await,
        [(Entity::Deal, deal)]
    );
    assert_eq!(hits(m1, "техснаб").await, [(Entity::Company, company)]);
    assert_eq!(
        hits(m1, "7736050003").await,
        [(Entity::Company, company)],
        "by INN"
    );
    assert_eq!(
        hits(m1, "773605").await,
        [(Entity::Company, company)],
        "by the start of an INN"
    );
    assert_eq!(
        hits(m1, "petrov@tehsnab").await,
        [(Entity::Contact, contact)],
        "by e-mail"
    );
    assert_eq!(
        hits(m1, "петр").await,
        [(Entity::Contact, contact), (Entity::Lead, lead)],
        "ё and е are one letter"
    );
    assert_eq!(hits(m1, "марсоход").await, []);
    assert_eq!(
        hits(m2, "поставки").await,
        [],
        "another manager's deal is not found"
    );
    let titles: Vec<String> = t
        .store
        .search(m1, "поставки", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.title)
        .collect();
    assert_eq!(titles, ["Поставка оборудования"]);

    // `q` on a list, and counting it.
    let params = ListParams {
        q: Some("8 912 345 67 89".into()),
        ..Default::default()
    };
    assert_eq!(
        t.store
            .list(m1, Entity::Contact, &params)
            .await
            .unwrap()
            .data
            .len(),
        1
    );
    assert_eq!(
        t.store
            .count(m1, Entity::Contact, &params, 100)
            .await
            .unwrap(),
        1
    );

    // Entities without a search column match their title, case-insensitively too.
    let call = id(&t
        .create(
            m1,
            Entity::Activity,
            json!({"kind": "call", "subject": "Звонок Петрову"}),
        )
        .await);
    let q = |text: &str| ListParams {
        q: Some(text.into()),
        limit: Some(100),
        ..Default::default()
    };
    let found = |page: plotina_store::Page| page.data.iter().map(id).collect::<Vec<_>>();
    assert_eq!(
        found(
            t.store
                .list(m1, Entity::Activity, &q("звонок"))
                .await
                .unwrap()
        ),
        [call]
    );
    assert_eq!(
        found(
            t.store
                .list(m1, Entity::Activity, &q("ЗВОНОК петрову"))
                .await
                .unwrap()
        ),
        [call]
    );
    let managers = found(
        t.store
            .list(m1, Entity::User, &q("менеджер"))
            .await
            .unwrap(),
    );
    assert_eq!(
        sorted(managers),
        sorted(vec![t.fx.m1.user_id, t.fx.m2.user_id])
    );

    // Lookups follow updates.
    t.update(
        m1,
        Entity::Contact,
        contact,
        json!({"phones": ["+7 495 000-00-00"]}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        hits(m1, "8 912 345-67-89").await,
        [(Entity::Company, company), (Entity::Lead, lead)]
    );
    assert_eq!(
        hits(m1, "8 495 000 00 00").await,
        [(Entity::Contact, contact)]
    );
    t.update(m1, Entity::Deal, deal, json!({"title": "Монтаж"}), None)
        .await
        .unwrap();
    assert_eq!(hits(m1, "поставки").await, []);
    assert_eq!(hits(m1, "монтажа").await, [(Entity::Deal, deal)]);
}

pub async fn search_follows_renames_and_the_trash(t: &T) {
    let m1 = &t.fx.m1;
    let found = |q: &'static str| async move {
        t.store
            .search(&t.fx.m1, q, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.title)
            .collect::<Vec<_>>()
    };
    let c = id(&t
        .create(m1, Entity::Company, json!({"name": "Альфа Строй"}))
        .await);
    assert_eq!(found("альфу строй").await, ["Альфа Строй"]);
    t.update(
        m1,
        Entity::Company,
        c,
        json!({"name": "Бета Логистика"}),
        None,
    )
    .await
    .unwrap();
    assert!(found("альфа").await.is_empty(), "the old name is gone");
    assert!(
        found("\"\u{0}'% --").await.is_empty(),
        "odd input finds nothing, fails nothing"
    );
    assert_eq!(found("бета\u{0}логист").await, ["Бета Логистика"]);
    assert_eq!(found("логистики").await, ["Бета Логистика"]);
    assert_eq!(
        found("бет лог").await,
        ["Бета Логистика"],
        "beginnings of words match"
    );
    let admin = &t.fx.admin;
    t.store
        .delete(admin, Entity::Company, c, None)
        .await
        .unwrap();
    assert!(
        found("логистики").await.is_empty(),
        "the trash is not searched"
    );
    t.store.restore(admin, Entity::Company, c).await.unwrap();
    assert_eq!(found("бета").await, ["Бета Логистика"]);
}

/// A word that matches more records than the index-driven plan reads (so SQLite walks the
/// `updated_at` index instead): the list still gives the newest first, in `updated_at`
/// order rather than creation order, page after page; the global search gives the newest
/// records by creation, whatever was edited since.
pub async fn common_words_give_the_newest_matches_first(t: &T) {
    let m1 = &t.fx.m1;
    let many = plotina_store::search::DENSE_MATCHES as usize + 20;
    let mut made = Vec::with_capacity(many);
    for i in 0..many {
        made.push(id(&t
            .create(
                m1,
                Entity::Contact,
                json!({"last_name": "Воробьёв", "first_name": format!("Клиент{i}")}),
            )
            .await));
    }
    // A word that starts alike must not turn up.
    t.create(
        m1,
        Entity::Contact,
        json!({"last_name": "Воронцов", "first_name": "Ян"}),
    )
    .await;
    // An old match touched last is the newest by `updated_at`, though its id is small.
    let touched = made[4];
    t.update(
        m1,
        Entity::Contact,
        touched,
        json!({"position": "директор"}),
        None,
    )
    .await
    .unwrap();
    let mut newest: Vec<i64> = vec![touched];
    newest.extend(made.iter().rev().filter(|&&c| c != touched));

    let hits: Vec<i64> = t
        .store
        .search(m1, "воробьева", 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|h| h.entity == Entity::Contact)
        .map(|h| h.id)
        .collect();
    let created_last: Vec<i64> = made.iter().rev().take(10).copied().collect();
    assert_eq!(
        hits, created_last,
        "the ten last created of {many} matches, newest first"
    );
    // The list with the same search, page by page, visits every match once, in order.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = t
            .store
            .list(
                m1,
                Entity::Contact,
                &ListParams {
                    q: Some("Воробьёв".into()),
                    limit: Some(200),
                    cursor: cursor.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        seen.extend(page.data.iter().map(id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, newest, "every match once, newest first");

    // Another order reads the matches through the index as before: the same set.
    let by_id = t
        .store
        .list(
            m1,
            Entity::Contact,
            &ListParams {
                q: Some("воробьев".into()),
                sort: Some("-id".into()),
                limit: Some(500),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut expected = made.clone();
    expected.reverse();
    assert_eq!(
        by_id.data.iter().map(id).collect::<Vec<_>>(),
        expected[..500]
    );

    // Deleted matches are passed over, not counted against the page.
    for &gone in &created_last[..3] {
        t.store
            .delete(&t.fx.admin, Entity::Contact, gone, None)
            .await
            .unwrap();
    }
    let hits: Vec<i64> = t
        .store
        .search(m1, "Воробьёв", 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|h| h.entity == Entity::Contact)
        .map(|h| h.id)
        .collect();
    let live: Vec<i64> = made.iter().rev().skip(3).take(10).copied().collect();
    assert_eq!(hits, live, "the trash is skipped");
}

/// Lists read with only some columns (`list_many`) give the same rows, values and cursor
/// as whole lists; a board's columns (`board_cards`) are the per-stage lists, in scope.
pub async fn projected_lists_and_board_columns_match_whole_lists(t: &T) {
    let (admin, m1) = (&t.fx.admin, &t.fx.m1);
    let stages = ["Новая", "Квалификация", "Переговоры"];
    for i in 0..12 {
        t.create(
            if i % 4 == 0 { admin } else { m1 },
            Entity::Deal,
            json!({"title": format!("Сделка {}", 12 - i), "pipeline_id": t.fx.pipeline,
                   "stage_id": t.fx.stage(stages[i % 3]), "amount": format!("{i}000")}),
        )
        .await;
    }
    let mut params = ListParams {
        sort: Some("title".into()),
        limit: Some(4),
        ..Default::default()
    };
    let amount: &[&str] = &["amount"];
    let mut pages = 0;
    loop {
        let whole = t.store.list(m1, Entity::Deal, &params).await.unwrap();
        let narrow = t
            .store
            .list_many(m1, &[(Entity::Deal, params.clone(), Some(amount))])
            .await
            .unwrap()
            .remove(0);
        assert_eq!(narrow.next_cursor, whole.next_cursor);
        assert_eq!(narrow.data.len(), whole.data.len());
        for (n, w) in narrow.data.iter().zip(&whole.data) {
            let keys: BTreeSet<&str> = n.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                BTreeSet::from(["id", "title", "amount"]),
                "the asked column, the id and the order's field"
            );
            for k in keys {
                assert_eq!(n[k], w[k], "{k}");
            }
        }
        pages += 1;
        match narrow.next_cursor {
            Some(c) => params.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3, "m1's nine deals in pages of four");

    let base = ListParams {
        and: vec![plotina_store::eq_filter("pipeline_id", t.fx.pipeline)],
        ..Default::default()
    };
    let ids: Vec<i64> = stages.iter().map(|s| t.fx.stage(s)).collect();
    let columns = t.store.board_cards(m1, &base, &ids, 2).await.unwrap();
    assert_eq!(columns.len(), ids.len());
    for (stage, column) in ids.iter().zip(&columns) {
        let mut p = base.clone();
        p.and.push(plotina_store::eq_filter("stage_id", *stage));
        p.sort = Some("-updated_at".into());
        p.limit = Some(2);
        let one = t.store.list(m1, Entity::Deal, &p).await.unwrap();
        assert_eq!(column.data, one.data);
        assert_eq!(column.next_cursor, one.next_cursor);
        assert_eq!(column.data.len(), 2, "three of m1's deals in each stage");
        assert!(column
            .data
            .iter()
            .all(|d| d["owner_id"] == json!(m1.user_id) && d["stage_id"] == json!(stage)));
    }
    let titles = |pages: &[plotina_store::Page]| -> Vec<Vec<String>> {
        pages
            .iter()
            .map(|p| {
                p.data
                    .iter()
                    .map(|d| d["title"].as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    };
    // m1's deals, newest first: Новая has 3, 6, 9 (titles 9, 6, 3), and so on.
    assert_eq!(
        titles(&columns),
        [
            vec!["Сделка 3", "Сделка 6"],
            vec!["Сделка 2", "Сделка 5"],
            vec!["Сделка 1", "Сделка 7"]
        ]
    );

    // The board with only a card's columns, an empty stage among the others.
    let with_empty = [ids[0], t.fx.stage("Договор"), ids[1], ids[2]];
    let board = t
        .store
        .board(m1, &base, &with_empty, 2, Some(&["title"]))
        .await
        .unwrap();
    assert_eq!(
        titles(&board.columns),
        [
            vec!["Сделка 3", "Сделка 6"],
            vec![],
            vec!["Сделка 2", "Сделка 5"],
            vec!["Сделка 1", "Сделка 7"]
        ]
    );
    assert_eq!(board.columns[1].next_cursor, None);
    for (narrow, whole) in [0, 2, 3].iter().map(|i| &board.columns[*i]).zip(&columns) {
        assert_eq!(narrow.next_cursor, whole.next_cursor);
        for (n, w) in narrow.data.iter().zip(&whole.data) {
            let keys: BTreeSet<&str> = n.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                BTreeSet::from(["id", "title", "stage_id", "updated_at"]),
                "the asked column, the id, the stage and the order's field"
            );
            for k in keys {
                assert_eq!(n[k], w[k], "{k}");
            }
        }
    }
    // Three deals of m1 in Новая: the totals count them all, the cards stop at two.
    let new_total: i64 = board
        .totals
        .iter()
        .filter(|t| t.stage_id == ids[0])
        .map(|t| t.count)
        .sum();
    assert_eq!(new_total, 3);
}

/// Board totals of the default pipeline as (stage name, count, sum in kopecks), read the
/// maintained way (no filter) and by aggregating the deals (a filter that keeps all).
async fn board_totals(t: &T, a: &Actor, owner: Option<i64>) -> [Vec<(String, i64, i64)>; 2] {
    let mut and = vec![plotina_store::eq_filter("pipeline_id", t.fx.pipeline)];
    if let Some(o) = owner {
        and.push(plotina_store::eq_filter("owner_id", o));
    }
    let fast = ListParams {
        and: and.clone(),
        ..Default::default()
    };
    let slow = ListParams {
        filter: Some("id > 0".into()),
        and,
        ..Default::default()
    };
    let named = |totals: Vec<plotina_store::board::StageTotal>| {
        let mut out: Vec<(String, i64, i64)> = totals
            .into_iter()
            .map(|x| {
                let name =
                    t.fx.stages
                        .iter()
                        .find(|(_, id)| *id == x.stage_id)
                        .map(|(n, _)| n.clone())
                        .unwrap_or_default();
                (name, x.count, x.sum_minor)
            })
            .collect();
        out.sort();
        out
    };
    [
        named(t.store.stage_totals(a, &fast).await.unwrap()),
        named(t.store.stage_totals(a, &slow).await.unwrap()),
    ]
}

pub async fn board_totals_follow_every_change(t: &T) {
    let (admin, m1, m2) = (&t.fx.admin, &t.fx.m1, &t.fx.m2);
    let deal = |title: &str, amount: &str| json!({"title": title, "pipeline_id": t.fx.pipeline, "amount": amount});
    let a = id(&t.create(m1, Entity::Deal, deal("А", "100")).await);
    let b = id(&t.create(m1, Entity::Deal, deal("Б", "250.50")).await);
    let c = id(&t.create(m2, Entity::Deal, deal("В", "1000")).await);
    let new = |n: i64, sum: i64| vec![("Новая".to_string(), n, sum)];
    assert_eq!(
        board_totals(t, admin, None).await,
        [new(3, 135_050), new(3, 135_050)]
    );
    assert_eq!(
        board_totals(t, m1, None).await,
        [new(2, 35_050), new(2, 35_050)],
        "own deals only"
    );
    assert_eq!(
        board_totals(t, admin, Some(m2.user_id)).await,
        [new(1, 100_000), new(1, 100_000)]
    );

    // A move, an amount change, a hand-over to another owner, the trash and back.
    t.update(
        m1,
        Entity::Deal,
        a,
        json!({"stage_id": t.fx.stage("Квалификация"), "amount": "300"}),
        None,
    )
    .await
    .unwrap();
    t.update(
        admin,
        Entity::Deal,
        b,
        json!({"owner_id": m2.user_id}),
        None,
    )
    .await
    .unwrap();
    t.store.delete(admin, Entity::Deal, c, None).await.unwrap();
    let expected = vec![
        ("Квалификация".to_string(), 1, 30_000),
        ("Новая".to_string(), 1, 25_050),
    ];
    assert_eq!(
        board_totals(t, admin, None).await,
        [expected.clone(), expected]
    );
    let m1_view = vec![("Квалификация".to_string(), 1, 30_000)];
    assert_eq!(board_totals(t, m1, None).await, [m1_view.clone(), m1_view]);
    t.store.restore(admin, Entity::Deal, c).await.unwrap();
    let m2_view = vec![("Новая".to_string(), 2, 125_050)];
    assert_eq!(board_totals(t, m2, None).await, [m2_view.clone(), m2_view]);
}
