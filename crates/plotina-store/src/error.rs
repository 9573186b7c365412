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
