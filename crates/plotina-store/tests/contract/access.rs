//! Who sees what: role scopes, private companies, links across scopes, and the
//! credentials behind an actor.

use super::*;

async fn visible_deals(t: &T, a: &Actor) -> Vec<i64> {
    let ids = t.ids(a, Entity::Deal, "").await;
    let page = t
        .store
        .list(
            a,
            Entity::Deal,
            &ListParams {
                limit: Some(500),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(sorted(page.data.iter().map(id).collect()), ids);
    ids
}

pub async fn managers_see_only_their_own_deals(t: &T) {
    let fx = &t.fx;
    let deal = |a: &Actor, title: &str| {
        let (a, body) = (
            a.clone(),
            json!({"title": title, "pipeline_id": fx.pipeline}),
        );
        async move { id(&t.create(&a, Entity::Deal, body).await) }
    };
    let d_m1 = deal(&fx.m1, "Сделка первого").await;
    let d_m2 = deal(&fx.m2, "Сделка второго").await;
    let d_head = deal(&fx.head, "Сделка руководителя").await;
    let d_admin = deal(&fx.admin, "Сделка администратора").await;
    assert_forbidden(
        t.try_create(
            &fx.support,
            Entity::Deal,
            json!({"title": "Нельзя", "pipeline_id": fx.pipeline}),
        )
        .await,
    );

    assert_eq!(visible_deals(t, &fx.m1).await, [d_m1]);
    assert_eq!(visible_deals(t, &fx.m2).await, [d_m2]);
    assert_eq!(
        visible_deals(t, &fx.head).await,
        [d_m1, d_m2, d_head],
        "the department and its sub-departments"
    );
    assert_eq!(
        visible_deals(t, &fx.admin).await,
        [d_m1, d_m2, d_head, d_admin]
    );
    assert_eq!(
        visible_deals(t, &fx.support).await,
        Vec::<i64>::new(),
        "support's department has no deals"
    );

    // Exports follow their own scope: none for managers, the department for the head.
    let export = |a: &Actor| {
        let a = a.clone();
        async move {
            let params = ListParams {
                limit: Some(500),
                sort: Some("id".into()),
                ..Default::default()
            };
            let page = t
                .store
                .list_for(
                    &a,
                    Entity::Deal,
                    plotina_core::policy::Action::Export,
                    &params,
                )
                .await
                .unwrap();
            page.data.iter().map(id).collect::<Vec<_>>()
        }
    };
    assert_eq!(export(&fx.m1).await, Vec::<i64>::new());
    assert_eq!(export(&fx.head).await, [d_m1, d_m2, d_head]);
    assert_eq!(export(&fx.admin).await, [d_m1, d_m2, d_head, d_admin]);

    // Another manager's deal does not exist for m1: get, update, delete, history,
    // count, filter and search alike.
    let m1 = &fx.m1;
    let before = t.counts().await;
    assert_not_found(t.get(m1, Entity::Deal, d_m2).await);
    assert_not_found(
        t.update(m1, Entity::Deal, d_m2, json!({"title": "Моя"}), None)
            .await,
    );
    assert_not_found(t.store.delete(m1, Entity::Deal, d_m2, None).await);
    assert_not_found(t.store.restore(m1, Entity::Deal, d_m2).await);
    assert_not_found(t.store.history(m1, Entity::Deal, d_m2, None, 10).await);
    assert_eq!(
        t.ids(m1, Entity::Deal, &format!("id = {d_m2}")).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        t.ids(m1, Entity::Deal, "title ~ \"второго\"").await,
        Vec::<i64>::new()
    );
    assert!(t.store.search(m1, "второго", 10).await.unwrap().is_empty());
    assert_eq!(t.counts().await, before);

    // The head edits the department's deals; m1 edits own; nobody deletes beyond scope.
    t.update(&fx.head, Entity::Deal, d_m2, json!({"amount": 1000}), None)
        .await
        .unwrap();
    t.update(m1, Entity::Deal, d_m1, json!({"amount": 2000}), None)
        .await
        .unwrap();
    assert_forbidden(t.store.delete(m1, Entity::Deal, d_m1, None).await);
    assert_not_found(t.get(&fx.head, Entity::Deal, d_admin).await);
    assert_not_found(t.store.delete(&fx.head, Entity::Deal, d_admin, None).await);
    t.store
        .delete(&fx.head, Entity::Deal, d_m1, None)
        .await
        .unwrap();
    assert_eq!(visible_deals(t, &fx.m1).await, Vec::<i64>::new());

    // Handing a deal over moves it out of the old owner's sight.
    t.update(
        &fx.m2,
        Entity::Deal,
        d_m2,
        json!({"owner_id": m1.user_id}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(visible_deals(t, m1).await, [d_m2]);
    assert_eq!(visible_deals(t, &fx.m2).await, Vec::<i64>::new());

    // Visible but not editable is a 403, not a 404: companies are readable by all.
    let theirs = id(&t
        .create(&fx.m2, Entity::Company, json!({"name": "Чужая"}))
        .await);
    assert_eq!(
        t.get(m1, Entity::Company, theirs).await.unwrap()["name"],
        "Чужая"
    );
    assert_forbidden(
        t.update(m1, Entity::Company, theirs, json!({"name": "Моя"}), None)
            .await,
    );
}

pub async fn private_companies_stay_private(t: &T) {
    let fx = &t.fx;
    let (m1, m2) = (&fx.m1, &fx.m2);
    let secret = id(&t.create(m2, Entity::Company, json!({"name": "Секретная Компания", "inn": "7736050003", "private": true, "phones": ["+7 912 555-44-33"]})).await);
    let open = id(&t
        .create(m2, Entity::Company, json!({"name": "Открытая Компания"}))
        .await);

    for outsider in [m1, &fx.head, &fx.support] {
        assert_not_found(t.get(outsider, Entity::Company, secret).await);
        assert_not_found(
            t.update(
                outsider,
                Entity::Company,
                secret,
                json!({"name": "x"}),
                None,
            )
            .await,
        );
        assert_not_found(
            t.store
                .history(outsider, Entity::Company, secret, None, 10)
                .await,
        );
        assert_eq!(t.ids(outsider, Entity::Company, "").await, [open]);
        assert_eq!(
            t.ids(outsider, Entity::Company, "name ~ \"компания\"")
                .await,
            [open]
        );
        let params = ListParams {
            q: Some("Секретная".into()),
            ..Default::default()
        };
        assert_eq!(
            t.store
                .count(outsider, Entity::Company, &params, 100)
                .await
                .unwrap(),
            0
        );
        for q in ["Секретная", "7736050003", "8 912 555-44-33"] {
            assert!(
                t.store.search(outsider, q, 10).await.unwrap().is_empty(),
                "{q} finds nothing"
            );
        }
    }
    assert_eq!(
        t.get(m2, Entity::Company, secret).await.unwrap()["private"],
        json!(true)
    );
    assert_eq!(
        t.get(&fx.admin, Entity::Company, secret).await.unwrap()["name"],
        "Секретная Компания"
    );
    assert_eq!(t.store.search(m2, "7736050003", 10).await.unwrap().len(), 1);

    // Made public, it shows up for everybody.
    t.update(m2, Entity::Company, secret, json!({"private": false}), None)
        .await
        .unwrap();
    assert_eq!(
        t.get(m1, Entity::Company, secret).await.unwrap()["name"],
        "Секретная Компания"
    );
}

pub async fn links_to_invisible_records_fail(t: &T) {
    let fx = &t.fx;
    let (m1, m2) = (&fx.m1, &fx.m2);
    let secret = id(&t
        .create(
            m2,
            Entity::Company,
            json!({"name": "Секретная", "private": true}),
        )
        .await);
    let gone = id(&t
        .create(m1, Entity::Company, json!({"name": "Удалённая"}))
        .await);
    t.store
        .delete(&fx.admin, Entity::Company, gone, None)
        .await
        .unwrap();
    let their_deal = id(&t
        .create(
            m2,
            Entity::Deal,
            json!({"title": "Чужая", "pipeline_id": fx.pipeline}),
        )
        .await);
    let my_deal = t
        .create(
            m1,
            Entity::Deal,
            json!({"title": "Моя", "pipeline_id": fx.pipeline}),
        )
        .await;

    let before = t.counts().await;
    for company in [secret, gone, 999_999] {
        let body = json!({"title": "Д", "pipeline_id": fx.pipeline, "company_id": company});
        assert_invalid(
            t.try_create(m1, Entity::Deal, body).await,
            "company_id",
            "link_not_found",
        );
        assert_invalid(
            t.update(
                m1,
                Entity::Deal,
                id(&my_deal),
                json!({"company_id": company}),
                None,
            )
            .await,
            "company_id",
            "link_not_found",
        );
        assert_invalid(
            t.try_create(
                m1,
                Entity::Contact,
                json!({"last_name": "К", "companies": [company]}),
            )
            .await,
            "companies",
            "link_not_found",
        );
    }
    assert_invalid(
        t.try_create(
            m1,
            Entity::Activity,
            json!({"kind": "call", "deal_id": their_deal}),
        )
        .await,
        "deal_id",
        "link_not_found",
    );
    assert_invalid(
        t.update(
            m1,
            Entity::Deal,
            id(&my_deal),
            json!({"parent_id": their_deal}),
            None,
        )
        .await,
        "parent_id",
        "link_not_found",
    );
    assert_eq!(t.counts().await, before);
    assert_eq!(
        t.get(m1, Entity::Deal, id(&my_deal)).await.unwrap(),
        my_deal
    );

    // The owner may link it.
    let linked = t
        .create(
            m2,
            Entity::Deal,
            json!({"title": "Своя", "pipeline_id": fx.pipeline, "company_id": secret}),
        )
        .await;
    assert_eq!(linked["company_id"], json!(secret));
    // A deal cannot become its own ancestor.
    let child = id(&t
        .create(
            m2,
            Entity::Deal,
            json!({"title": "Дочерняя", "pipeline_id": fx.pipeline, "parent_id": their_deal}),
        )
        .await);
    assert_conflict(
        t.update(
            m2,
            Entity::Deal,
            their_deal,
            json!({"parent_id": child}),
            None,
        )
        .await,
        "parent_id",
        "parent_cycle",
    );
}

pub async fn auth_passwords_tokens_and_sessions(t: &T) {
    let pool = t.store.pool();
    let m1 = t.user("m1");
    assert_eq!(
        auth::verify_password(pool, "m1", PASSWORD).await.unwrap(),
        Some(m1)
    );
    assert_eq!(
        auth::verify_password(pool, " m1 ", PASSWORD).await.unwrap(),
        Some(m1)
    );
    assert_eq!(
        auth::verify_password(pool, "m1", "wrong").await.unwrap(),
        None
    );
    assert_eq!(
        auth::verify_password(pool, "nobody", PASSWORD)
            .await
            .unwrap(),
        None
    );
    assert_eq!(auth::user_id_by_login(pool, "m1").await.unwrap(), Some(m1));
    assert_eq!(auth::user_id_by_login(pool, "nobody").await.unwrap(), None);
    let stored = t
        .rows(&format!("SELECT password_hash FROM users WHERE id = {m1}"))
        .await[0]
        .text("password_hash")
        .unwrap()
        .unwrap();
    assert!(
        stored.starts_with("$argon2") && !stored.contains(PASSWORD),
        "only a hash is stored"
    );
    let card = t.get(&t.fx.m2, Entity::User, m1).await.unwrap();
    assert!(
        card.get("password_hash").is_none(),
        "user records never carry the hash"
    );

    // Sessions.
    let (cookie, csrf) = auth::create_session(pool, m1, Duration::hours(1))
        .await
        .unwrap();
    let s = auth::session(pool, &cookie)
        .await
        .unwrap()
        .expect("live session");
    assert_eq!((s.user_id, s.csrf_token.as_str()), (m1, csrf.as_str()));
    assert!(auth::session(pool, "forged").await.unwrap().is_none());
    let (expired, _) = auth::create_session(pool, m1, Duration::seconds(-1))
        .await
        .unwrap();
    assert!(
        auth::session(pool, &expired).await.unwrap().is_none(),
        "an expired session is gone"
    );
    auth::delete_session(pool, &cookie).await.unwrap();
    assert!(
        auth::session(pool, &cookie).await.unwrap().is_none(),
        "logged out"
    );

    // A new password ends every session.
    let (c1, _) = auth::create_session(pool, m1, Duration::hours(1))
        .await
        .unwrap();
    auth::set_password(pool, m1, "новый пароль").await.unwrap();
    assert!(auth::session(pool, &c1).await.unwrap().is_none());
    assert_eq!(
        auth::verify_password(pool, "m1", PASSWORD).await.unwrap(),
        None
    );
    assert_eq!(
        auth::verify_password(pool, "m1", "новый пароль")
            .await
            .unwrap(),
        Some(m1)
    );

    // API tokens: shown once, stored hashed, revocable.
    let (token_id, token) = auth::create_token(pool, m1, "1С").await.unwrap();
    assert!(token.starts_with("plt_"));
    assert_eq!(auth::token_user(pool, &token).await.unwrap(), Some(m1));
    assert_eq!(auth::token_user(pool, "plt_forged").await.unwrap(), None);
    let hashes = t
        .rows(&format!(
            "SELECT token_hash FROM api_tokens WHERE id = {token_id}"
        ))
        .await;
    assert_ne!(
        hashes[0].text("token_hash").unwrap().as_deref(),
        Some(token.as_str())
    );
    let (_, other) = auth::create_token(pool, m1, "АТС").await.unwrap();
    assert!(auth::revoke_token(pool, token_id).await.unwrap());
    assert!(
        !auth::revoke_token(pool, token_id).await.unwrap(),
        "revoking twice is a no-op"
    );
    assert_eq!(auth::token_user(pool, &token).await.unwrap(), None);
    assert_eq!(
        auth::token_user(pool, &other).await.unwrap(),
        Some(m1),
        "other tokens live on"
    );

    // A deactivated user cannot log in or act.
    t.update(
        &t.fx.admin,
        Entity::User,
        m1,
        json!({"active": false}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        auth::verify_password(pool, "m1", "новый пароль")
            .await
            .unwrap(),
        None
    );
    assert!(auth::actor_for(pool, m1).await.unwrap().is_none());

    // Seeding again (every start does) changes nothing; so does migrating again.
    let before = t.counts().await;
    plotina_store::bootstrap::seed_roles(pool).await.unwrap();
    plotina_store::bootstrap::seed_pipeline(&t.store, &t.fx.admin)
        .await
        .unwrap();
    pool.migrate().await.unwrap();
    assert_eq!(t.counts().await, before);
    assert_eq!(plotina_store::bootstrap::user_count(pool).await.unwrap(), 5);
    assert_eq!(
        plotina_store::bootstrap::role_id(pool, "manager")
            .await
            .unwrap(),
        Some(t.fx.roles["manager"])
    );
    assert_conflict(
        plotina_store::bootstrap::create_user(
            &t.store,
            None,
            "m2",
            "Дубль",
            "manager",
            PASSWORD,
            Map::new(),
        )
        .await,
        "login",
        "login_taken",
    );
    assert_invalid(
        plotina_store::bootstrap::create_user(
            &t.store,
            Some(&t.fx.admin),
            "x",
            "X",
            "astronaut",
            PASSWORD,
            Map::new(),
        )
        .await,
        "role_id",
        "link_not_found",
    );

    // The seeded actors carry their roles and departments.
    let fx = &t.fx;
    assert!(fx.admin.is_admin && !fx.head.is_admin);
    assert_eq!(
        sorted(fx.head.department_subtree.clone()),
        sorted(vec![fx.sales_dept, fx.ural_dept])
    );
    assert_eq!(fx.m2.department_subtree, [fx.ural_dept]);
    assert_eq!(fx.support.department_subtree, [fx.support_dept]);
    assert_eq!(fx.stages.len(), 7);
}
