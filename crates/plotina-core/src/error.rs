//! Domain errors: what went wrong, in codes; the HTTP edge turns them into localized
//! problem+json responses and the CLI into messages.

use crate::filter::FilterError;

/// One problem with one field. `code` keys the localized message; `args` fill it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    #[serde(skip)]
    pub args: Vec<(&'static str, String)>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str) -> Self {
        FieldError {
            field: field.into(),
            code,
            args: Vec::new(),
        }
    }
    pub fn with(mut self, key: &'static str, value: impl ToString) -> Self {
        self.args.push((key, value.to_string()));
        self
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    #[error("not found")]
    NotFound,
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    /// The input is well-formed but breaks a rule or a uniqueness constraint.
    #[error("conflict: {0:?}")]
    Conflict(FieldError),
    #[error("stale version, current is {current}")]
    Stale { current: i64 },
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("bad filter: {0:?}")]
    BadFilter(FilterError),
    #[error("bad request: {0:?}")]
    BadRequest(FieldError),
    /// A gate refuses the action until the caller handles the listed notebook items
    /// (HTTP 423).
    #[error("locked by a gate: {0:?}")]
    Locked(Box<GateRefusal>),
}

/// Why a gate refused: `reason` keys the message and carries its arguments; `items` is
/// the JSON list of blocking items.
#[derive(Debug, Clone, PartialEq)]
pub struct GateRefusal {
    pub reason: FieldError,
    pub items: serde_json::Value,
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, code: &'static str) -> Self {
        DomainError::Invalid(vec![FieldError::new(field, code)])
    }
    pub fn conflict(field: impl Into<String>, code: &'static str) -> Self {
        DomainError::Conflict(FieldError::new(field, code))
    }
    pub fn bad_request(field: impl Into<String>, code: &'static str) -> Self {
        DomainError::BadRequest(FieldError::new(field, code))
    }
}
