//! Settings that every write reads on its way — automation rules, webhook subscriptions,
//! custom-field definitions, a pipeline's stages and rules, the notebook gates of an action
//! — kept in memory per pool.
//!
//! Why: a stage change read them all again in its transaction (five statements and the
//! JSON of every rule parsed anew), although they change a few times a day. Every change
//! to them moves the database's settings epoch (`config_epoch`, kept by triggers, so a
//! change made by another process or straight in SQL counts too). A transaction reads the
//! epoch once and takes what the cache holds for that epoch; after a statement of its own
//! that may have written, it reads the epoch again.
//!
//! The epoch is never reused: a new value is drawn at random (SQLite) or from a sequence
//! (PostgreSQL) by every change, not incremented. So settings a transaction read after
//! changing them itself, cached under its own new epoch, are never served to anybody if it
//! rolls back: no committed state carries that epoch. Settings are read after the epoch,
//! so what is cached under an epoch is never older than the epoch says.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::db::Tx;
use crate::error::Result;

type Entry = Arc<dyn Any + Send + Sync>;

/// What one pool holds: the entries read under one epoch.
#[derive(Default)]
pub struct ConfigCache {
    slots: Mutex<(i64, HashMap<String, Entry>)>,
}

impl std::fmt::Debug for ConfigCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigCache").finish_non_exhaustive()
    }
}

impl ConfigCache {
    fn get(&self, epoch: i64, key: &str) -> Option<Entry> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.0 != epoch {
            return None;
        }
        slots.1.get(key).cloned()
    }

    fn put(&self, epoch: i64, key: &str, value: Entry) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.0 != epoch {
            *slots = (epoch, HashMap::new());
        }
        slots.1.insert(key.to_string(), value);
    }
}

/// A loader of one setting, given the transaction to read it in.
pub type Load<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The setting `key` as this transaction sees it: from the cache when it was read under
/// the epoch the transaction sees, else read by `load` and kept.
pub async fn cached<T, F>(tx: &mut Tx, key: &str, load: F) -> Result<Arc<T>>
where
    T: Any + Send + Sync,
    F: for<'a> FnOnce(&'a mut Tx) -> Load<'a, T>,
{
    let (cache, epoch) = tx.config_epoch().await?;
    if let Some(hit) = cache.get(epoch, key).and_then(|e| e.downcast::<T>().ok()) {
        return Ok(hit);
    }
    let value = Arc::new(load(tx).await?);
    cache.put(epoch, key, value.clone());
    Ok(value)
}
