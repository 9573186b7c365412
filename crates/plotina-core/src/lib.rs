//! Plotina's domain: record metadata, value parsing, permissions policy, pipeline rules
//! and the filter language. No IO and no async here, so every rule is unit-testable.

pub mod automation;
pub mod error;
pub mod filter;
pub mod pipeline;
pub mod policy;
pub mod record;
pub mod schema;
pub mod types;
pub mod value;

pub use error::{DomainError, FieldError};
pub use schema::{Entity, FieldDef, FieldKind};
pub use value::Value;
