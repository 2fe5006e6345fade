//! Health and self-observation: `/livez`, `/readyz`, `/healthz`, `/metrics`, `/api/openapi.json`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;
use crate::metrics::resident_memory_bytes;
use crate::problem::Problem;

/// `GET /livez`: the process is up and serving HTTP.
pub async fn livez() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: Ward can take traffic: the store is writable and Ward is not shutting down.
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, Problem> {
    if *state.shutdown.borrow() {
        return Err(Problem::retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "Ward is shutting down",
            5,
        ));
    }
    state.store.check_writable().map_err(|e| {
        Problem::retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store is not writable: {e}"),
            5,
        )
    })?;
    Ok("ok\n")
}

/// `GET /healthz`: a JSON report of every component.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let stopping = *state.shutdown.borrow();
    let store = state.store.check_writable();
    let status = if stopping {
        "shutting_down"
    } else if store.is_ok() {
        "ok"
    } else {
        "degraded"
    };
    let body = json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started.elapsed().as_secs(),
        "components": {
            "store": {
                "status": if store.is_ok() { "ok" } else { "failing" },
                "error": store.err().map(|e| e.to_string()),
                "size_bytes": state.store.size_bytes(),
                "queue_depth": state.store.queue_depth(),
            },
            "http": { "status": "ok", "listen": state.settings.listen.to_string() },
            "grpc": {
                "status": if state.settings.grpc_listen.is_some() { "ok" } else { "disabled" },
                "listen": state.settings.grpc_listen.map(|a| a.to_string()),
            },
            "tail": { "subscribers": state.metrics.tail_subscribers.get() },
        },
    });
    let code = if status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// `GET /metrics`: OpenMetrics text.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    m.queue_depth.set(state.store.queue_depth() as i64);
    m.store_size.set(state.store.size_bytes() as i64);
    m.resident_memory.set(resident_memory_bytes() as i64);
    let mut response = m.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

/// The OpenAPI document of the HTTP API.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// `GET /api/openapi.json`.
pub async fn openapi() -> Response {
    let mut response = OPENAPI.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
