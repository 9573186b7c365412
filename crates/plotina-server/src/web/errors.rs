//! Errors of page handlers: rendered as an HTML page in the user's language by the web
//! layer (which knows who is asking), never as JSON.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use plotina_core::DomainError;
use plotina_store::StoreError;

use crate::error::ApiError;

#[derive(Debug)]
pub enum WebError {
    NotFound,
    Forbidden(&'static str),
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// Not signed in: go to the login page and come back to this path.
    Login(String),
    Domain(DomainError),
    Internal(anyhow::Error),
}

/// What the web layer renders as an error page.
#[derive(Debug, Clone)]
pub struct WebProblem {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: Option<(&'static str, Vec<(&'static str, String)>)>,
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => d.into(),
            StoreError::Internal(e) => WebError::Internal(e),
        }
    }
}

impl From<DomainError> for WebError {
    fn from(d: DomainError) -> Self {
        match d {
            DomainError::NotFound => WebError::NotFound,
            DomainError::Forbidden(code) => WebError::Forbidden(code),
            other => WebError::Domain(other),
        }
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Domain(d) => d.into(),
            ApiError::Internal(e) => WebError::Internal(e),
            ApiError::Unauthorized => WebError::Login("/".into()),
            other => WebError::Internal(anyhow::anyhow!("{other:?}")),
        }
    }
}

impl From<anyhow::Error> for WebError {
    fn from(e: anyhow::Error) -> Self {
        WebError::Internal(e)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let problem = match self {
            WebError::Login(next) => {
                let to = format!("/login{}", super::urls::query(&[("next", &next)]));
                return super::redirect(&to);
            }
            WebError::NotFound => WebProblem {
                status: StatusCode::NOT_FOUND,
                title: "ui-error-not-found",
                detail: None,
            },
            WebError::Forbidden("too_many_requests") => WebProblem {
                status: StatusCode::TOO_MANY_REQUESTS,
                title: "problem-too_many_requests",
                detail: None,
            },
            WebError::Forbidden(code) => WebProblem {
                status: StatusCode::FORBIDDEN,
                title: "ui-error-forbidden",
                detail: Some((code, vec![])),
            },
            WebError::Csrf => WebProblem {
                status: StatusCode::FORBIDDEN,
                title: "problem-csrf_failed",
                detail: None,
            },
            WebError::Domain(DomainError::Locked(r)) => {
                return super::notebook::gate_refusal(&r.reason);
            }
            WebError::Domain(d) => {
                let parts = ApiError::Domain(d).parts();
                let detail = parts.errors.first().map(|e| (e.code, e.args.clone()));
                WebProblem {
                    status: parts.status,
                    title: "ui-error-bad-request",
                    detail,
                }
            }
            WebError::Internal(e) => {
                tracing::error!(error = ?e, "page failed");
                WebProblem {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    title: "problem-internal_error",
                    detail: None,
                }
            }
        };
        let mut resp = problem.status.into_response();
        resp.extensions_mut().insert(problem);
        resp
    }
}
