"""Ward serving TLS, fed by the OpenTelemetry Python SDK over OTLP/gRPC and OTLP/HTTP with the
CA of `ward dev-cert`, the way a deployment outside loopback would be."""

from __future__ import annotations

import grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from conftest import Ward, dev_cert, http_session, ward_binary
from otel_helpers import EXPORT_TIMEOUT_S, GRPC_CHANNEL_OPTIONS, Recording, resource


def grpc_span_exporter(ward: Ward, credentials: grpc.ChannelCredentials | None, timeout: float = EXPORT_TIMEOUT_S):
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(
        endpoint=ward.grpc,
        insecure=credentials is None,
        credentials=credentials,
        headers=(("authorization", f"Bearer {ward.ingest_key}"),),
        timeout=timeout,
        channel_options=GRPC_CHANNEL_OPTIONS,
    )


def emit(exporter, service: str) -> str:
    """Two spans of one trace; returns the trace id (hex)."""
    provider = TracerProvider(resource=resource(service))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        tracer = provider.get_tracer("e2e.tls")
        with tracer.start_as_current_span("POST /chat", kind=SpanKind.SERVER) as root:
            with tracer.start_as_current_span("llm.chat", kind=SpanKind.CLIENT):
                pass
        return format(root.get_span_context().trace_id, "032x")
    finally:
        provider.shutdown()


def test_grpc_spans_over_tls_are_stored(ward_tls: Ward, service_name: str):
    assert ward_tls.tls_dir is not None
    ca = (ward_tls.tls_dir / "ca.pem").read_bytes()
    exporter = Recording(grpc_span_exporter(ward_tls, grpc.ssl_channel_credentials(root_certificates=ca)))
    trace_id = emit(exporter, service_name)
    assert exporter.all_succeeded(), exporter.result_names()
    # Read back over HTTPS, trusting the same CA.
    trace = ward_tls.get(f"/api/v1/traces/{trace_id}")
    assert trace["span_count"] == 2, trace
    assert [r["name"] for r in trace["roots"]] == ["POST /chat"], trace
    assert ward_tls.ingest_records("traces", "otlp_grpc") >= 2


def test_http_spans_over_tls_with_certificate_file(ward_tls: Ward, service_name: str):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    assert ward_tls.tls_dir is not None
    exporter = Recording(
        OTLPSpanExporter(
            endpoint=f"{ward_tls.http}/v1/traces",
            certificate_file=str(ward_tls.tls_dir / "ca.pem"),
            headers={"authorization": f"Bearer {ward_tls.ingest_key}"},
            timeout=EXPORT_TIMEOUT_S,
            # trust_env off: requests would otherwise let REQUESTS_CA_BUNDLE override the CA.
            session=http_session(),
        )
    )
    trace_id = emit(exporter, service_name)
    assert exporter.all_succeeded(), exporter.result_names()
    assert ward_tls.get(f"/api/v1/traces/{trace_id}")["span_count"] == 2


def test_plaintext_and_untrusted_grpc_clients_fail(ward_tls: Ward, service_name: str, tmp_path):
    # Short timeouts: the exporter retries failures until its timeout.
    plaintext = Recording(grpc_span_exporter(ward_tls, None, timeout=2))
    emit(plaintext, service_name)
    assert plaintext.results and not plaintext.all_succeeded(), plaintext.result_names()

    other = dev_cert(ward_tls.binary, tmp_path / "other")
    untrusted = Recording(
        grpc_span_exporter(ward_tls, grpc.ssl_channel_credentials(root_certificates=(other / "ca.pem").read_bytes()), timeout=2)
    )
    emit(untrusted, service_name)
    assert untrusted.results and not untrusted.all_succeeded(), untrusted.result_names()
    assert ward_tls.service(service_name) is None
    # Ward keeps serving.
    assert ward_tls.session.get(f"{ward_tls.http}/livez", timeout=5).status_code == 200


def test_grpc_ingest_requires_a_client_certificate_when_configured(tmp_path, service_name: str):
    binary = ward_binary()
    certs = dev_cert(binary, tmp_path / "certs", "--client", "e2e")
    w = Ward(
        binary,
        tmp_path,
        tls_dir=certs,
        extra_env={"WARD_TLS_CLIENT_CA": str(certs / "ca.pem"), "WARD_TLS_CLIENT_AUTH": "ingest"},
    )
    w.start()
    try:
        w.make_keys()
        ca = (certs / "ca.pem").read_bytes()
        anonymous = Recording(grpc_span_exporter(w, grpc.ssl_channel_credentials(root_certificates=ca), timeout=2))
        emit(anonymous, service_name)
        assert anonymous.results and not anonymous.all_succeeded(), anonymous.result_names()
        assert w.service(service_name) is None

        with_cert = Recording(
            grpc_span_exporter(
                w,
                grpc.ssl_channel_credentials(
                    root_certificates=ca,
                    private_key=(certs / "client.key").read_bytes(),
                    certificate_chain=(certs / "client.pem").read_bytes(),
                ),
            )
        )
        trace_id = emit(with_cert, service_name)
        assert with_cert.all_succeeded(), with_cert.result_names()
        assert w.get(f"/api/v1/traces/{trace_id}")["span_count"] == 2
    finally:
        assert w.stop() == 0, w.stderr_text()[-3000:]
