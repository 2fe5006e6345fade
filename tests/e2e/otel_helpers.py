"""Builds OpenTelemetry SDK pipelines pointed at a Ward under test."""

from __future__ import annotations

from typing import Any

from conftest import Ward, http_session
from opentelemetry.sdk.resources import Resource

# gRPC must not try a proxy for 127.0.0.1.
GRPC_CHANNEL_OPTIONS = (("grpc.enable_http_proxy", 0),)
EXPORT_TIMEOUT_S = 10


class Recording:
    """Wraps an exporter and remembers what each export returned, so a test can tell a failed
    export from data Ward lost."""

    def __init__(self, inner: Any):
        self._inner = inner
        self.results: list[Any] = []
        self.exported = 0

    def export(self, batch: Any, *args: Any, **kwargs: Any) -> Any:
        result = self._inner.export(batch, *args, **kwargs)
        self.results.append(result)
        try:
            self.exported += len(batch)
        except TypeError:
            pass
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def result_names(self) -> list[str]:
        return [getattr(r, "name", str(r)) for r in self.results]

    def all_succeeded(self) -> bool:
        return bool(self.results) and all(n == "SUCCESS" for n in self.result_names())


def resource(service: str, **extra: Any) -> Resource:
    return Resource.create(
        {"service.name": service, "service.version": "1.2.3", "deployment.environment.name": "e2e", **extra}
    )


def _split(transport: str) -> tuple[str, bool]:
    """`http`, `grpc`, `http+gzip`, `grpc+gzip` -> (base, gzip?)."""
    base, _, compression = transport.partition("+")
    assert base in ("http", "grpc") and compression in ("", "gzip"), transport
    return base, compression == "gzip"


def _http_compression(gzip: bool):
    from opentelemetry.exporter.otlp.proto.http import Compression

    return Compression.Gzip if gzip else Compression.NoCompression


def _grpc_compression(gzip: bool):
    import grpc

    return grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression


def span_exporter(ward: Ward, transport: str, key: str | None = None):
    key = key if key is not None else ward.ingest_key
    transport, gzip = _split(transport)
    if transport == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(
            endpoint=f"{ward.http}/v1/traces",
            headers={"authorization": f"Bearer {key}"},
            timeout=EXPORT_TIMEOUT_S,
            compression=_http_compression(gzip),
            session=http_session(),
        )
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(
        endpoint=ward.grpc,
        insecure=True,
        headers=(("authorization", f"Bearer {key}"),),
        timeout=EXPORT_TIMEOUT_S,
        compression=_grpc_compression(gzip),
        channel_options=GRPC_CHANNEL_OPTIONS,
    )


def log_exporter(ward: Ward, transport: str, key: str | None = None):
    key = key if key is not None else ward.ingest_key
    transport, gzip = _split(transport)
    if transport == "http":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        return OTLPLogExporter(
            endpoint=f"{ward.http}/v1/logs",
            headers={"authorization": f"Bearer {key}"},
            timeout=EXPORT_TIMEOUT_S,
            compression=_http_compression(gzip),
            session=http_session(),
        )
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

    return OTLPLogExporter(
        endpoint=ward.grpc,
        insecure=True,
        headers=(("authorization", f"Bearer {key}"),),
        timeout=EXPORT_TIMEOUT_S,
        compression=_grpc_compression(gzip),
        channel_options=GRPC_CHANNEL_OPTIONS,
    )


def metric_exporter(ward: Ward, transport: str, key: str | None = None):
    key = key if key is not None else ward.ingest_key
    transport, gzip = _split(transport)
    if transport == "http":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter(
            endpoint=f"{ward.http}/v1/metrics",
            headers={"authorization": f"Bearer {key}"},
            timeout=EXPORT_TIMEOUT_S,
            compression=_http_compression(gzip),
            session=http_session(),
        )
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(
        endpoint=ward.grpc,
        insecure=True,
        headers=(("authorization", f"Bearer {key}"),),
        timeout=EXPORT_TIMEOUT_S,
        compression=_grpc_compression(gzip),
        channel_options=GRPC_CHANNEL_OPTIONS,
    )


def protocol(transport: str) -> str:
    """The `protocol` label of Ward's ingest counters for a transport."""
    return {"http": "otlp_http", "grpc": "otlp_grpc"}[_split(transport)[0]]
