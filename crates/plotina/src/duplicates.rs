//! `plotina duplicates`: the finder from the command line, re-keying records written
//! without name keys, and a benchmark of the finder over a purpose-built set of contacts.

use std::time::Instant;

use anyhow::Context;
use plotina_core::policy::Actor;
use plotina_core::schema::Entity;
use plotina_store::duplicates::{FindParams, REASONS};
use plotina_store::Store;

fn entity(code: &str) -> anyhow::Result<Entity> {
    Entity::from_code(code)
        .filter(|e| plotina_store::duplicates::ENTITIES.contains(e))
        .with_context(|| format!("entity must be company, contact or lead, not {code:?}"))
}

fn reason(r: Option<&str>) -> anyhow::Result<Option<&'static str>> {
    match r {
        None => Ok(None),
        Some(r) => REASONS
            .iter()
            .find(|x| **x == r)
            .copied()
            .map(Some)
            .with_context(|| format!("reason must be one of {REASONS:?}")),
    }
}

/// Prints the groups as JSON lines.
pub async fn find(
    store: &Store,
    actor: &Actor,
    code: &str,
    r: Option<&str>,
    limit: u64,
) -> anyhow::Result<()> {
    let p = FindParams {
        entity: entity(code)?,
        reason: reason(r)?,
        after: None,
        limit: limit.clamp(1, 100_000),
    };
    let start = Instant::now();
    let groups = store
        .find_duplicates(actor, &p)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    for g in &groups {
        println!("{}", serde_json::to_string(g)?);
    }
    eprintln!(
        "{} groups in {:.3}s",
        groups.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

pub async fn reindex(store: &Store) -> anyhow::Result<()> {
    let n = store
        .reindex_duplicate_keys()
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    println!("{n} records keyed");
    Ok(())
}

/// Fills an empty database with `n` contacts and times the finder on them.
pub async fn bench(store: &Store, actor: &Actor, n: u64) -> anyhow::Result<()> {
    let existing = plotina_store::duplicates::bench_data::contact_count(store).await?;
    if existing == 0 {
        let start = Instant::now();
        plotina_store::duplicates::bench_data::fill_contacts(store, actor.user_id, n).await?;
        eprintln!(
            "generated {n} contacts in {:.1}s",
            start.elapsed().as_secs_f64()
        );
        if store.backend() == plotina_store::Backend::Postgres {
            let mut tx = store.pool().begin().await?;
            tx.raw("ANALYZE contacts, record_lookup, dedup_keys")
                .await?;
            tx.commit().await?;
        } else {
            let mut tx = store.pool().begin().await?;
            tx.raw("ANALYZE").await?;
            tx.commit().await?;
        }
    } else {
        eprintln!("using the {existing} contacts already there");
    }
    println!("| reason | first page (100 groups) | full pass | groups |");
    println!("|---|---|---|---|");
    for reason in ["phone", "email", "name"] {
        let mut p = FindParams {
            entity: Entity::Contact,
            reason: Some(reason),
            after: None,
            limit: 100,
        };
        let start = Instant::now();
        store
            .find_duplicates(actor, &p)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let first = start.elapsed();
        p.limit = 500;
        let start = Instant::now();
        let mut total = 0usize;
        loop {
            let page = store
                .find_duplicates(actor, &p)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            total += page.len();
            if (page.len() as u64) < p.limit {
                break;
            }
            p.after = page.last().map(|g| g.value.clone());
        }
        println!(
            "| {reason} | {:.3}s | {:.1}s | {total} |",
            first.as_secs_f64(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
