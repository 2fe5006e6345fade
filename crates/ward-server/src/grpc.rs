//! OTLP/gRPC: the three collector services on their own listener (4317 by default).
//!
//! Authentication reads the same `authorization: Bearer …` metadata the HTTP side reads; refusals
//! map to the gRPC codes the OTLP specification prescribes (`RESOURCE_EXHAUSTED` with a retry
//! delay under overload, so exporters back off and retry).

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};
use ward_ingest::otlp;

use crate::AppState;
use crate::auth::{AuthError, Principal};
use crate::authz::Permission;
use crate::gate::{Admission, Refusal, RouteClass};
use crate::listener::{Conn, ConnInfo};
use crate::pipeline::{Accepted, IngestError, SignalKind};
use crate::routes::ingest::{ingest_error_status, normalize};

/// The gRPC status of a refusal: the codes the OTLP specification prescribes, with
/// `retry-after` metadata where waiting helps.
fn refusal_status(refusal: Refusal) -> Status {
    let mut status = match &refusal {
        Refusal::Unauthenticated(AuthError::Unavailable) => {
            Status::unavailable(refusal.to_string())
        }
        Refusal::Unauthenticated(_) => Status::unauthenticated(refusal.to_string()),
        Refusal::Forbidden(_) => Status::permission_denied(refusal.to_string()),
        Refusal::RateLimited(_) | Refusal::Blocked(_) => {
            Status::resource_exhausted(refusal.to_string())
        }
    };
    if let Some(value) = refusal
        .retry_after_secs()
        .and_then(|s| s.to_string().parse().ok())
    {
        status.metadata_mut().insert("retry-after", value);
    }
    status
}

/// The OTLP collector services, sharing Ward's state.
#[derive(Clone)]
pub struct OtlpGrpc {
    state: AppState,
}

impl OtlpGrpc {
    async fn authenticate<T>(
        &self,
        request: &Request<T>,
        route: &str,
    ) -> Result<Principal, Status> {
        let client_certificate = request
            .extensions()
            .get::<ConnInfo>()
            .is_some_and(|c| c.client_certificate.is_some());
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let admission = Admission {
            authorization,
            source: request.remote_addr().map(|a| a.ip()),
            need: Permission::Ingest,
            class: RouteClass::Ingest,
            route,
            client_certificate,
        };
        self.state
            .gate
            .admit(&admission)
            .await
            .map(|admitted| admitted.principal)
            .map_err(refusal_status)
    }

    fn failure(&self, e: IngestError) -> Status {
        let (_, code, retry) =
            ingest_error_status(&e, self.state.settings.config.server.retry_after_seconds);
        let mut status = Status::new(code, e.to_string());
        if let Ok(value) = retry.to_string().parse() {
            status.metadata_mut().insert("retry-after", value);
        }
        status
    }

    fn count<M: Message>(&self, principal: &Principal, signal: SignalKind, message: &M) {
        self.state.pipeline.count_bytes(
            &principal.tenant,
            signal,
            "otlp_grpc",
            message.encoded_len(),
        );
    }
}

fn partial(accepted: &Accepted) -> Option<(i64, String)> {
    (accepted.rejected > 0).then(|| (accepted.rejected as i64, accepted.message.clone()))
}

#[tonic::async_trait]
impl LogsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let principal = self
            .authenticate(&request, "gRPC LogsService/Export")
            .await?;
        self.count(&principal, SignalKind::Logs, request.get_ref());
        let converted = otlp::logs_to_model(request.into_inner(), &normalize(&self.state));
        let accepted = self
            .state
            .pipeline
            .accept(principal.tenant, converted, "otlp_grpc")
            .await
            .map_err(|e| self.failure(e))?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: partial(&accepted).map(|(rejected_log_records, error_message)| {
                ExportLogsPartialSuccess {
                    rejected_log_records,
                    error_message,
                }
            }),
        }))
    }
}

#[tonic::async_trait]
impl TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let principal = self
            .authenticate(&request, "gRPC TraceService/Export")
            .await?;
        self.count(&principal, SignalKind::Traces, request.get_ref());
        let converted = otlp::traces_to_model(request.into_inner(), &normalize(&self.state));
        let accepted = self
            .state
            .pipeline
            .accept(principal.tenant, converted, "otlp_grpc")
            .await
            .map_err(|e| self.failure(e))?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: partial(&accepted).map(|(rejected_spans, error_message)| {
                ExportTracePartialSuccess {
                    rejected_spans,
                    error_message,
                }
            }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let principal = self
            .authenticate(&request, "gRPC MetricsService/Export")
            .await?;
        self.count(&principal, SignalKind::Metrics, request.get_ref());
        let converted = otlp::metrics_to_model(request.into_inner(), &normalize(&self.state));
        let accepted = self
            .state
            .pipeline
            .accept(principal.tenant, converted, "otlp_grpc")
            .await
            .map_err(|e| self.failure(e))?;
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: partial(&accepted).map(|(rejected_data_points, error_message)| {
                ExportMetricsPartialSuccess {
                    rejected_data_points,
                    error_message,
                }
            }),
        }))
    }
}

/// Serves OTLP/gRPC on the connections of `incoming` (see [`crate::listener::incoming`]) until
/// `shutdown` resolves.
pub async fn serve(
    state: AppState,
    incoming: impl futures::Stream<Item = std::io::Result<Conn>> + Send + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let limit = state.settings.max_decompressed_bytes;
    let service = OtlpGrpc { state };
    // tonic's `Request::remote_addr` reads `TcpConnectInfo`; Ward's connections carry
    // `ConnInfo` (with the client certificate), so both are provided.
    let remote_addr = tower::util::MapRequestLayer::new(|mut request: http::Request<_>| {
        if let Some(info) = request.extensions().get::<ConnInfo>() {
            let tcp = tonic::transport::server::TcpConnectInfo {
                local_addr: None,
                remote_addr: Some(info.peer),
            };
            request.extensions_mut().insert(tcp);
        }
        request
    });
    tonic::transport::Server::builder()
        .layer(remote_addr)
        .add_service(
            LogsServiceServer::new(service.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit),
        )
        .add_service(
            TraceServiceServer::new(service.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit),
        )
        .add_service(
            MetricsServiceServer::new(service)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit),
        )
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
