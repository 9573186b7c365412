//! The store's error: a domain error the client caused, or an internal failure.

use plotina_core::error::{DomainError, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::Domain(DomainError::Conflict(unique_field(
                    db.constraint().unwrap_or_default(),
                    db.message(),
                )));
            }
            if db.is_foreign_key_violation() {
                return StoreError::Domain(DomainError::invalid("", "link_not_found"));
            }
        }
        StoreError::Internal(anyhow::Error::new(e))
    }
}

/// Names the field behind a unique constraint: PostgreSQL reports the index name,
/// SQLite only the columns in its message.
fn unique_field(constraint: &str, message: &str) -> FieldError {
    let known = [
        ("users_login_key", "users.login", "login", "login_taken"),
        (
            "custom_fields_entity_key",
            "custom_fields.key",
            "key",
            "custom_key_taken",
        ),
        ("roles_code_key", "roles.code", "code", "code_taken"),
        (
            "idempotency_keys_pkey",
            "idempotency_keys.",
            "Idempotency-Key",
            "idempotency_in_progress",
        ),
    ];
    for (name, columns, field, code) in known {
        if constraint == name || message.contains(columns) {
            return FieldError::new(field, code);
        }
    }
    FieldError::new("", "duplicate_value")
}

impl StoreError {
    pub fn not_found() -> Self {
        StoreError::Domain(DomainError::NotFound)
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::Domain(DomainError::NotFound))
    }
}

/// Shorthand for returning a domain error from store code.
pub fn fail<T>(e: DomainError) -> Result<T> {
    Err(StoreError::Domain(e))
}

/// The database stayed locked by another writer past the wait limit (the write queue or
/// SQLite's busy timeout, a PostgreSQL lock or serialization failure): nothing was written and the
/// same request can simply be sent again, so it is a 503 with `Retry-After`, not a bug.
pub fn is_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        if cause.is::<crate::db::WriteQueueTimeout>() {
            return true;
        }
        let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() else {
            return false;
        };
        matches!(
            db.code().as_deref(),
            // SQLITE_BUSY, SQLITE_LOCKED; serialization_failure, deadlock_detected,
            // lock_not_available.
            Some("5" | "6" | "40001" | "40P01" | "55P03")
        )
    })
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection};

    #[tokio::test]
    async fn a_locked_sqlite_database_is_busy_not_a_bug() {
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteConnectOptions::new()
            .filename(dir.path().join("db.sqlite"))
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let mut holder = opts.connect().await.unwrap();
        let mut waiter = opts.connect().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut holder)
            .await
            .unwrap();
        let err = sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut waiter)
            .await
            .unwrap_err();
        let err = anyhow::Error::new(err).context("begin a write transaction");
        assert!(super::is_busy(&err));
        assert!(!super::is_busy(&anyhow::anyhow!("disk full")));
        holder.close().await.unwrap();
    }
}
