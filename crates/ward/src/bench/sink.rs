//! `ward bench sink`: the HTTP-only peer of the ingest bench. It does what Ward does with an
//! OTLP/HTTP logs export up to the point of storing it (read the body, undo any
//! `Content-Encoding`, decode the protobuf, convert and validate the records into Ward's
//! model) and then answers 200 with an empty `ExportLogsServiceResponse`. It authenticates
//! nobody and stores nothing.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;
use ward_ingest::otlp::proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use ward_ingest::otlp::{self, Encoding};
use ward_ingest::{Normalize, decompress};

/// The largest body the sink reads, as Ward's default `server.max_body_size`.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// The largest decompressed body, as Ward's default `server.max_decompressed_size`.
const MAX_DECOMPRESSED: usize = 64 * 1024 * 1024;

/// Options of `ward bench sink`.
#[derive(Debug, Args)]
pub struct SinkArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:4390")]
    pub listen: SocketAddr,
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn run(args: SinkArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "the sink listens on loopback addresses only, not {}",
        args.listen
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let app = Router::new()
        .route("/v1/logs", post(logs))
        .route("/readyz", get(|| async { "ok\n" }));
    // The SIGTERM handler is installed before the first request can be answered, so a stop
    // right after readiness is always graceful.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot handle SIGTERM")?;
    let stop = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    eprintln!("bench sink listening on {}", args.listen);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
        .context("sink server failed")
}

fn reply(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-protobuf"),
    );
    response
}

/// `POST /v1/logs`.
async fn logs(headers: HeaderMap, body: Body) -> Response {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let encoding = match Encoding::from_content_type(text(header::CONTENT_TYPE)) {
        Ok(e) => e,
        Err(e) => return (StatusCode::UNSUPPORTED_MEDIA_TYPE, e.to_string()).into_response(),
    };
    let raw = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response(),
    };
    let plain = match decompress(&raw, text(header::CONTENT_ENCODING), MAX_DECOMPRESSED) {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let request = match otlp::decode_logs(&plain, encoding) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let converted =
        otlp::logs_to_model(request, &Normalize::new(ward_model::time::now_unix_nanos()));
    let rejected = converted.rejected.len() as i64;
    let message = converted.partial_success_message();
    // Keep the conversion from being optimised away.
    std::hint::black_box(&converted.records);
    drop(converted);
    let response = ExportLogsServiceResponse {
        partial_success: (rejected > 0).then_some(ExportLogsPartialSuccess {
            rejected_log_records: rejected,
            error_message: message,
        }),
    };
    reply(StatusCode::OK, otlp::encode_protobuf(&response))
}
