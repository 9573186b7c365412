//! One error type at the HTTP edge. Handlers return `ApiError`; `problem::localize`
//! turns it into RFC 9457 problem+json in the caller's language. Server errors are
//! logged with their cause chain and answered with a generic body and the request id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use plotina_core::error::{DomainError, FieldError};
use plotina_store::StoreError;

#[derive(Debug)]
pub enum ApiError {
    Domain(DomainError),
    Unauthorized,
    /// The request itself is malformed (bad JSON, bad query string, bad header).
    Malformed {
        code: &'static str,
        field: String,
    },
    PayloadTooLarge,
    Internal(anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => ApiError::Domain(d),
            StoreError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::Domain(e)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

impl ApiError {
    pub fn malformed(field: impl Into<String>, code: &'static str) -> Self {
        ApiError::Malformed {
            code,
            field: field.into(),
        }
    }

    pub fn not_found() -> Self {
        ApiError::Domain(DomainError::NotFound)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Domain(d) => match d {
                DomainError::NotFound => StatusCode::NOT_FOUND,
                DomainError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                DomainError::Conflict(_) => StatusCode::CONFLICT,
                DomainError::Stale { .. } => StatusCode::PRECONDITION_FAILED,
                DomainError::Forbidden("too_many_requests") => StatusCode::TOO_MANY_REQUESTS,
                DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
                DomainError::BadFilter(_) | DomainError::BadRequest(_) => StatusCode::BAD_REQUEST,
                DomainError::Locked(_) => StatusCode::LOCKED,
            },
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Malformed { .. } => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(e) if plotina_store::is_busy(e) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem's own code and its field errors, before localisation.
    pub fn parts(&self) -> Problem {
        let (code, errors, extra): (
            &'static str,
            Vec<FieldError>,
            Option<(&'static str, serde_json::Value)>,
        ) = match self {
            ApiError::Domain(d) => match d {
                DomainError::NotFound => ("not_found", vec![], None),
                DomainError::Invalid(errs) => ("validation_failed", errs.clone(), None),
                DomainError::Conflict(e) => ("conflict", vec![e.clone()], None),
                DomainError::Stale { current } => (
                    "stale_version",
                    vec![],
                    Some(("current_version", serde_json::json!(current))),
                ),
                DomainError::Forbidden(code) => (code, vec![], None),
                DomainError::BadFilter(fe) => {
                    let mut e = FieldError::new("filter", fe.code).with("position", fe.pos);
                    for (k, v) in &fe.args {
                        e = e.with(k, v);
                    }
                    (
                        "bad_filter",
                        vec![e],
                        Some(("position", serde_json::json!(fe.pos))),
                    )
                }
                DomainError::BadRequest(e) => ("bad_request", vec![e.clone()], None),
                DomainError::Locked(r) => (
                    "gate_blocked",
                    vec![r.reason.clone()],
                    Some(("items", r.items.clone())),
                ),
            },
            ApiError::Unauthorized => ("unauthorized", vec![], None),
            ApiError::Malformed { code, field } => (
                "bad_request",
                vec![FieldError::new(field.clone(), code)],
                None,
            ),
            ApiError::PayloadTooLarge => ("payload_too_large", vec![], None),
            ApiError::Internal(e) if plotina_store::is_busy(e) => ("busy", vec![], None),
            ApiError::Internal(_) => ("internal_error", vec![], None),
        };
        Problem {
            status: self.status(),
            code,
            errors,
            extra,
        }
    }
}

/// An error on its way out, carried in the response until the localisation layer
/// renders it (the language is known there, not here).
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub errors: Vec<FieldError>,
    pub extra: Option<(&'static str, serde_json::Value)>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let problem = self.parts();
        let mut resp = problem.status.into_response();
        if problem.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("2"),
            );
        }
        resp.extensions_mut().insert(problem);
        resp
    }
}
