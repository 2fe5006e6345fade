//! RFC 9457 problem details: every error of the API is answered with one.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

/// An API error as `application/problem+json`.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, human-readable summary of the type.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence, and how to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Extension members (e.g. `errors` listing rejected records).
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, Value>,
    /// Seconds to wait before retrying, sent as `Retry-After`.
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

impl Problem {
    /// A problem with a status and detail; the title is the status's reason phrase.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: Some(detail.into()),
            extensions: Default::default(),
            retry_after: None,
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 401 Unauthorized.
    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, detail)
    }

    /// 403 Forbidden.
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, detail)
    }

    /// 404 Not Found.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, detail)
    }

    /// 500 with nothing internal revealed; the cause goes to Ward's own log.
    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see Ward's log for the request id",
        )
    }

    /// 429 or 503 with `Retry-After`.
    pub fn retry_later(status: StatusCode, detail: impl Into<String>, seconds: u32) -> Problem {
        Problem {
            retry_after: Some(seconds),
            ..Problem::new(status, detail)
        }
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Problem {
        self.extensions.insert(key.into(), value.into());
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<ward_store::StoreError> for Problem {
    fn from(e: ward_store::StoreError) -> Problem {
        use ward_store::StoreError;
        match e {
            StoreError::InvalidCursor => Problem::bad_request(
                "invalid cursor: pass next_cursor from the previous page unchanged",
            ),
            StoreError::ShuttingDown => {
                Problem::retry_later(StatusCode::SERVICE_UNAVAILABLE, "Ward is shutting down", 5)
            }
            StoreError::Overloaded { .. } => {
                Problem::retry_later(StatusCode::TOO_MANY_REQUESTS, e.to_string(), 1)
            }
            other => {
                tracing::error!(error = %other, "store error");
                Problem::retry_later(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the store is unavailable",
                    5,
                )
            }
        }
    }
}
