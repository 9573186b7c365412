//! Bulk edit of a whole filtered set: permissions per record, one history entry per
//! changed record, all or nothing.

use plotina_store::bulk::{BulkCounts, BulkOp};

use super::*;

fn counts(matched: u64, changed: u64, unchanged: u64, skipped_forbidden: u64) -> BulkCounts {
    BulkCounts {
        matched,
        changed,
        unchanged,
        skipped_forbidden,
    }
}

pub async fn bulk_edit_covers_the_whole_filtered_set(t: &T) {
    let fx = &t.fx;
    let a = &fx.admin;
    let wave = |name: &str| json!({"name": name, "tags": ["волна"]});
    let ca = id(&t.create(a, Entity::Company, wave("Адм-1")).await);
    let cb = id(&t.create(a, Entity::Company, wave("Адм-2")).await);
    let cc = id(&t.create(&fx.m1, Entity::Company, wave("Мен-1")).await);
    let cd = id(&t.create(&fx.m1, Entity::Company, wave("Мен-2")).await);
    let ce = id(&t
        .create(&fx.m1, Entity::Company, json!({"name": "Вне волны"}))
        .await);
    let params = |filter: &str| ListParams {
        filter: Some(filter.into()),
        ..Default::default()
    };
    let set = |v: Json| BulkOp::Set(obj(v));

    // A manager reads every company but edits only their own.
    let out = t
        .store
        .bulk_edit(
            &fx.m1,
            Entity::Company,
            &params("tags = \"волна\""),
            &set(json!({"industry": "retail"})),
        )
        .await
        .unwrap();
    assert_eq!(out, counts(4, 2, 0, 2));
    for (cid, industry) in [
        (ca, Json::Null),
        (cb, Json::Null),
        (cc, json!("retail")),
        (cd, json!("retail")),
        (ce, Json::Null),
    ] {
        assert_eq!(
            t.get(a, Entity::Company, cid).await.unwrap()["industry"],
            industry,
            "{cid}"
        );
    }
    let h = t.history(Entity::Company, cc).await;
    assert_eq!(h[0].field.as_deref(), Some("industry"));
    assert_eq!(h.iter().filter(|e| e.action == "update").count(), 1);
    // Again: nothing to change.
    let out = t
        .store
        .bulk_edit(
            &fx.m1,
            Entity::Company,
            &params("tags = \"волна\""),
            &set(json!({"industry": "retail"})),
        )
        .await
        .unwrap();
    assert_eq!(out, counts(4, 0, 2, 2));

    // Add a tag to all, twice.
    let tag = BulkOp::AddTag("ключевой".into());
    let out = t
        .store
        .bulk_edit(a, Entity::Company, &params("tags = \"волна\""), &tag)
        .await
        .unwrap();
    assert_eq!(out, counts(4, 4, 0, 0));
    assert_eq!(
        t.get(a, Entity::Company, cc).await.unwrap()["tags"],
        json!(["волна", "ключевой"])
    );
    let out = t
        .store
        .bulk_edit(a, Entity::Company, &params("tags = \"волна\""), &tag)
        .await
        .unwrap();
    assert_eq!(out, counts(4, 0, 4, 0));
    assert_eq!(
        t.ids(a, Entity::Company, "tags = \"ключевой\"").await,
        vec![ca, cb, cc, cd]
    );

    // Assign an owner.
    let out = t
        .store
        .bulk_edit(
            a,
            Entity::Company,
            &params("name = \"Вне волны\""),
            &set(json!({"owner_id": fx.m2.user_id})),
        )
        .await
        .unwrap();
    assert_eq!(out, counts(1, 1, 0, 0));
    assert_eq!(
        t.get(a, Entity::Company, ce).await.unwrap()["owner_id"],
        fx.m2.user_id
    );

    // Bad input changes nothing.
    let before = testing::row_counts(t.store.pool()).await;
    assert_invalid(
        t.store
            .bulk_edit(
                a,
                Entity::Company,
                &params("tags = \"волна\""),
                &set(json!({"inn": "123"})),
            )
            .await,
        "inn",
        "inn_length",
    );
    let (code, _) = bad_filter(
        t.store
            .bulk_edit(a, Entity::Company, &params("tags = "), &tag)
            .await,
    );
    assert!(!code.is_empty());
    assert_forbidden(
        t.store
            .bulk_edit(&fx.support, Entity::Deal, &params(""), &tag)
            .await,
    );
    assert_eq!(testing::row_counts(t.store.pool()).await, before);
}
