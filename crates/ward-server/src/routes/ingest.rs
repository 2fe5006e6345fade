//! Ingest over HTTP: OTLP/HTTP (`/v1/logs`, `/v1/traces`, `/v1/metrics`, protobuf or JSON,
//! optionally gzip) and JSON log lines (`/api/v1/ingest/logs`).
//!
//! OTLP answers follow the OTLP/HTTP specification: a success carries the `Export*Response` in
//! the request's encoding, with `partial_success` naming refused records; a failure carries a
//! `google.rpc.Status` in the request's encoding. The JSON-lines endpoint answers in JSON and
//! its failures are problem+json.

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use serde::{Deserialize, Serialize};
use ward_ingest::otlp::{self, Encoding};
use ward_ingest::{DecodeError, Normalize, decompress, jsonlines};

use crate::AppState;
use crate::auth::Principal;
use crate::pipeline::{Accepted, IngestError, SignalKind};
use crate::problem::{Problem, Query};

/// `google.rpc.Status`, the error body OTLP/HTTP prescribes.
#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub struct RpcStatus {
    /// gRPC status code.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// Developer-facing message.
    #[prost(string, tag = "2")]
    pub message: String,
}

/// Reads a body up to `limit` bytes; `Err` when it is larger.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, usize> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(limit);
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| limit)
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The request's clock and limits for record validation.
pub(crate) fn normalize(state: &AppState) -> Normalize {
    let s = &state.settings;
    Normalize {
        now_unix_nano: ward_model::time::now_unix_nanos(),
        max_future_nanos: s.max_future_nanos,
        max_age_nanos: s.max_age_nanos,
        max_attribute_value_bytes: s.max_attribute_value_bytes,
    }
}

/// An OTLP/HTTP answer in the request's encoding.
fn otlp_reply<M: prost::Message + Serialize>(
    status: StatusCode,
    encoding: Encoding,
    message: &M,
) -> Response {
    let (content_type, body) = match encoding {
        Encoding::Protobuf => ("application/x-protobuf", message.encode_to_vec()),
        Encoding::Json => (
            "application/json",
            serde_json::to_vec(message).unwrap_or_default(),
        ),
    };
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn otlp_error(
    status: StatusCode,
    grpc_code: tonic::Code,
    encoding: Encoding,
    message: String,
    retry_after: Option<u32>,
) -> Response {
    let mut response = otlp_reply(
        status,
        encoding,
        &RpcStatus {
            code: grpc_code as i32,
            message,
        },
    );
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn decode_error_status(e: &DecodeError) -> StatusCode {
    match e {
        DecodeError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        DecodeError::UnsupportedContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        DecodeError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Maps a pipeline failure to (status, gRPC code, retry-after).
pub(crate) fn ingest_error_status(
    e: &IngestError,
    retry_after: u32,
) -> (StatusCode, tonic::Code, u32) {
    match e {
        IngestError::Overloaded(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            tonic::Code::ResourceExhausted,
            retry_after,
        ),
        IngestError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, tonic::Code::Unavailable, 5),
        IngestError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, tonic::Code::Unavailable, 5),
    }
}

/// The three OTLP signals over HTTP share everything but their message types.
async fn otlp_http(
    state: AppState,
    principal: Principal,
    headers: HeaderMap,
    body: Body,
    signal: SignalKind,
) -> Response {
    let encoding = match Encoding::from_content_type(header_str(&headers, header::CONTENT_TYPE)) {
        Ok(e) => e,
        Err(e) => {
            state.metrics.reject(signal.as_str(), e.reason(), 1);
            return otlp_error(
                decode_error_status(&e),
                tonic::Code::InvalidArgument,
                Encoding::Protobuf,
                e.to_string(),
                None,
            );
        }
    };
    let raw = match read_body(&headers, body, state.settings.max_body_bytes).await {
        Ok(b) => b,
        Err(limit) => {
            state.metrics.reject(signal.as_str(), "too_large", 1);
            return otlp_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                tonic::Code::InvalidArgument,
                encoding,
                format!("request body exceeds {limit} bytes (server.max_body_size)"),
                None,
            );
        }
    };
    state
        .pipeline
        .count_bytes(&principal.tenant, signal, "otlp_http", raw.len());
    let decoded = decompress(
        &raw,
        header_str(&headers, header::CONTENT_ENCODING),
        state.settings.max_decompressed_bytes,
    );
    let body = match decoded {
        Ok(b) => b,
        Err(e) => {
            state.metrics.reject(signal.as_str(), e.reason(), 1);
            return otlp_error(
                decode_error_status(&e),
                tonic::Code::InvalidArgument,
                encoding,
                e.to_string(),
                None,
            );
        }
    };
    let n = normalize(&state);
    let tenant = principal.tenant.clone();
    let result = match signal {
        SignalKind::Logs => match otlp::decode_logs(&body, encoding) {
            Ok(req) => Ok(state
                .pipeline
                .accept(tenant, otlp::logs_to_model(req, &n), "otlp_http")
                .await),
            Err(e) => Err(e),
        },
        SignalKind::Traces => match otlp::decode_traces(&body, encoding) {
            Ok(req) => Ok(state
                .pipeline
                .accept(tenant, otlp::traces_to_model(req, &n), "otlp_http")
                .await),
            Err(e) => Err(e),
        },
        SignalKind::Metrics => match otlp::decode_metrics(&body, encoding) {
            Ok(req) => Ok(state
                .pipeline
                .accept(tenant, otlp::metrics_to_model(req, &n), "otlp_http")
                .await),
            Err(e) => Err(e),
        },
    };
    match result {
        Err(e) => {
            state.metrics.reject(signal.as_str(), e.reason(), 1);
            otlp_error(
                decode_error_status(&e),
                tonic::Code::InvalidArgument,
                encoding,
                e.to_string(),
                None,
            )
        }
        Ok(Err(e)) => {
            let (status, code, retry) =
                ingest_error_status(&e, state.settings.config.server.retry_after_seconds);
            otlp_error(status, code, encoding, e.to_string(), Some(retry))
        }
        Ok(Ok(accepted)) => otlp_success(signal, encoding, accepted),
    }
}

fn otlp_success(signal: SignalKind, encoding: Encoding, accepted: Accepted) -> Response {
    let rejected = accepted.rejected as i64;
    let partial = rejected > 0 || !accepted.message.is_empty();
    let message = accepted.message;
    match signal {
        SignalKind::Logs => otlp_reply(
            StatusCode::OK,
            encoding,
            &ExportLogsServiceResponse {
                partial_success: partial.then_some(ExportLogsPartialSuccess {
                    rejected_log_records: rejected,
                    error_message: message,
                }),
            },
        ),
        SignalKind::Traces => otlp_reply(
            StatusCode::OK,
            encoding,
            &ExportTraceServiceResponse {
                partial_success: partial.then_some(ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: message,
                }),
            },
        ),
        SignalKind::Metrics => otlp_reply(
            StatusCode::OK,
            encoding,
            &ExportMetricsServiceResponse {
                partial_success: partial.then_some(ExportMetricsPartialSuccess {
                    rejected_data_points: rejected,
                    error_message: message,
                }),
            },
        ),
    }
}

/// `POST /v1/logs`.
pub async fn otlp_logs(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    otlp_http(state, p, headers, body, SignalKind::Logs).await
}

/// `POST /v1/traces`.
pub async fn otlp_traces(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    otlp_http(state, p, headers, body, SignalKind::Traces).await
}

/// `POST /v1/metrics`.
pub async fn otlp_metrics(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    otlp_http(state, p, headers, body, SignalKind::Metrics).await
}

/// Query parameters of `POST /api/v1/ingest/logs`.
#[derive(Debug, Deserialize)]
pub struct JsonIngestParams {
    /// Service name for lines that name none.
    pub service: Option<String>,
}

/// Most per-record errors listed in a JSON-lines answer.
const MAX_LISTED_ERRORS: usize = 100;

/// Answer of `POST /api/v1/ingest/logs`.
#[derive(Debug, Serialize)]
pub struct JsonIngestReply {
    /// Records stored.
    pub accepted: usize,
    /// Records refused.
    pub rejected: usize,
    /// The first refusals: where (`line N`), why, and a message.
    pub errors: Vec<ward_ingest::Rejection>,
}

/// `POST /api/v1/ingest/logs`: JSON lines or a JSON array of log objects.
pub async fn json_logs(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<JsonIngestParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let raw = read_body(&headers, body, state.settings.max_body_bytes)
        .await
        .map_err(|limit| {
            state.metrics.reject("logs", "too_large", 1);
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body exceeds {limit} bytes (server.max_body_size)"),
            )
        })?;
    state
        .pipeline
        .count_bytes(&principal.tenant, SignalKind::Logs, "json", raw.len());
    let body = decompress(
        &raw,
        header_str(&headers, header::CONTENT_ENCODING),
        state.settings.max_decompressed_bytes,
    )
    .map_err(|e| {
        state.metrics.reject("logs", e.reason(), 1);
        Problem::new(decode_error_status(&e), e.to_string())
    })?;
    let converted = jsonlines::parse(&body, params.service.as_deref(), &normalize(&state));
    let nothing_kept = converted.records.is_empty() && !converted.rejected.is_empty();
    let accepted = state
        .pipeline
        .accept(principal.tenant.clone(), converted, "json")
        .await
        .map_err(|e| {
            let (status, _, retry) =
                ingest_error_status(&e, state.settings.config.server.retry_after_seconds);
            Problem::retry_later(status, e.to_string(), retry)
        })?;
    let mut errors = accepted.rejections;
    errors.truncate(MAX_LISTED_ERRORS);
    if nothing_kept {
        let listed = serde_json::to_value(&errors).unwrap_or_default();
        return Err(
            Problem::bad_request(format!("no record was accepted: {}", accepted.message))
                .with("errors", listed),
        );
    }
    Ok(axum::Json(JsonIngestReply {
        accepted: accepted.stored,
        rejected: accepted.rejected,
        errors,
    })
    .into_response())
}
