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

/// `axum::extract::Query` whose rejection is a problem (400), not axum's plain-text answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e| Problem::bad_request(e.body_text()))
    }
}

/// `axum::extract::Path` whose rejection is a problem (400), not axum's plain-text answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e| Problem::bad_request(e.body_text()))
    }
}

/// A JSON request body whose rejection is a problem: 415 without `Content-Type:
/// application/json`, 400 for a body that is not JSON or not the expected shape (axum alone
/// answers plain text, and 422 for the latter).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

/// The problem for a refused JSON body.
fn json_problem(e: axum::extract::rejection::JsonRejection) -> Problem {
    use axum::extract::rejection::JsonRejection;
    match e {
        JsonRejection::MissingJsonContentType(_) => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected a body with Content-Type: application/json",
        ),
        other => Problem::bad_request(other.body_text()),
    }
}

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Problem> {
        <axum::Json<T> as axum::extract::FromRequest<S>>::from_request(req, state)
            .await
            .map(|axum::Json(v)| JsonBody(v))
            .map_err(json_problem)
    }
}

impl<T, S> axum::extract::OptionalFromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Option<Self>, Problem> {
        <axum::Json<T> as axum::extract::OptionalFromRequest<S>>::from_request(req, state)
            .await
            .map(|o| o.map(|axum::Json(v)| JsonBody(v)))
            .map_err(json_problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::{FromRequest, FromRequestParts};

    #[derive(Debug, serde::Deserialize)]
    struct Params {
        #[allow(dead_code)]
        limit: Option<u32>,
    }

    fn content_type(p: &Problem) -> String {
        let r = p.clone().into_response();
        r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn bad_query_is_a_400_problem() {
        let req = axum::http::Request::get("/x?limit=null").body(()).unwrap();
        let (mut parts, ()) = req.into_parts();
        let p = Query::<Params>::from_request_parts(&mut parts, &())
            .await
            .unwrap_err();
        assert_eq!(p.status, 400);
        assert!(p.detail.as_deref().unwrap().contains("limit"), "{p:?}");
        assert_eq!(content_type(&p), "application/problem+json");
    }

    #[tokio::test]
    async fn json_body_without_content_type_is_415_and_bad_shape_is_400() {
        let req = axum::http::Request::post("/x")
            .body(Body::from("{}"))
            .unwrap();
        let p = JsonBody::<Params>::from_request(req, &())
            .await
            .unwrap_err();
        assert_eq!(p.status, 415);
        let req = axum::http::Request::post("/x")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"limit": {}}"#))
            .unwrap();
        let p = JsonBody::<Params>::from_request(req, &())
            .await
            .unwrap_err();
        assert_eq!(p.status, 400);
        assert_eq!(content_type(&p), "application/problem+json");
    }
}
