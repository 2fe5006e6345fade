"""Ward fed by the OpenTelemetry Python SDK, over OTLP/HTTP (protobuf) and OTLP/gRPC, the way an
instrumented application would, and read back through the query API."""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import datetime

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from conftest import Ward, parse_openmetrics, ward_binary
from otel_helpers import GRPC_CHANNEL_OPTIONS, Recording, protocol, log_exporter, metric_exporter, resource, span_exporter

TRANSPORTS = ["http", "grpc"]
# Each transport plain and gzip-compressed.
ALL_TRANSPORTS = ["http", "http+gzip", "grpc", "grpc+gzip"]
# The span the chat request follows from (a link to another trace).
LINKED_TRACE = "5b8efff798038103d269b633813fc60c"
LINKED_SPAN = "eee19b7ec3c1b174"
HEX = set("0123456789abcdef")


def hex32(trace_id: int) -> str:
    return format(trace_id, "032x")


def hex16(span_id: int) -> str:
    return format(span_id, "016x")


def rfc3339_nanos(text: str) -> int:
    """Unix nanoseconds of an RFC 3339 time (to the microsecond)."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert dt.utcoffset() is not None and dt.utcoffset().total_seconds() == 0, f"not UTC: {text}"
    return int(dt.timestamp() * 1_000_000) * 1000


# --------------------------------------------------------------------------------------- traces


def emit_chat_trace(tracer) -> dict[str, str]:
    """A request as a chat backend would record it:

    POST /chat (server)
    ├── llm.chat (client, gen_ai.* attributes)
    │   └── tokenize (internal)
    └── validate (internal, exception event, status error)
    """
    ids: dict[str, str] = {}
    linked = SpanContext(int(LINKED_TRACE, 16), int(LINKED_SPAN, 16), is_remote=True, trace_flags=TraceFlags(1))
    with tracer.start_as_current_span(
        "POST /chat",
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "POST", "http.route": "/chat", "http.response.status_code": 200},
        links=[Link(linked, {"link.reason": "retry-of"})],
    ) as root:
        ids["root"] = hex16(root.get_span_context().span_id)
        ids["trace"] = hex32(root.get_span_context().trace_id)
        with tracer.start_as_current_span(
            "llm.chat",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.request.temperature": 0.25,
                "gen_ai.usage.input_tokens": 42,
                "gen_ai.usage.output_tokens": 7,
                "gen_ai.response.finish_reasons": ["stop"],
                "llm.streaming": False,
            },
        ) as llm:
            ids["llm"] = hex16(llm.get_span_context().span_id)
            llm.add_event("prompt.sent", {"prompt.length": 128})
            with tracer.start_as_current_span("tokenize") as tok:
                ids["tokenize"] = hex16(tok.get_span_context().span_id)
                tok.set_attribute("tokenizer.name", "cl100k_base")
                time.sleep(0.002)
        with tracer.start_as_current_span("validate", kind=SpanKind.INTERNAL) as val:
            ids["validate"] = hex16(val.get_span_context().span_id)
            try:
                raise ValueError("bad input")
            except ValueError as exc:
                val.record_exception(exc)
                val.set_status(Status(StatusCode.ERROR, "bad input"))
    return ids


def walk(span: dict):
    yield span
    for child in span["children"]:
        yield from walk(child)


def check_common_span(span: dict, trace_id: str, service: str) -> None:
    assert span["trace_id"] == trace_id
    assert len(span["span_id"]) == 16 and set(span["span_id"]) <= HEX, span["span_id"]
    assert span["service"] == service
    assert span["resource"].get("service.version") == "1.2.3", span["resource"]
    assert span["resource"].get("deployment.environment.name") == "e2e", span["resource"]
    assert span["resource"].get("telemetry.sdk.language") == "python", span["resource"]
    assert "service.name" not in span["resource"], "service.name belongs in `service`, not `resource`"
    assert span["scope"] == {"name": "e2e.chat", "version": "0.1.0"}, span.get("scope")
    assert span["end_time_unix_nano"] >= span["start_time_unix_nano"] > 0
    expected_ms = (span["end_time_unix_nano"] - span["start_time_unix_nano"]) / 1e6
    assert span["duration_ms"] == pytest.approx(expected_ms, abs=1e-3)
    assert abs(rfc3339_nanos(span["start_time"]) - span["start_time_unix_nano"]) < 1_000_000, span["start_time"]
    assert abs(span["start_time_unix_nano"] - time.time_ns()) < 120 * 10**9, "span start is not recent"


def check_chat_trace(trace: dict, ids: dict[str, str], service: str) -> None:
    tid = ids["trace"]
    assert trace["trace_id"] == tid
    assert trace["span_count"] == 4, trace
    assert trace["error_count"] == 1, trace
    assert trace["services"] == [service]
    assert len(trace["roots"]) == 1, [r["name"] for r in trace["roots"]]

    root = trace["roots"][0]
    all_spans = list(walk(root))
    assert len(all_spans) == 4
    for s in all_spans:
        check_common_span(s, tid, service)

    # The tree: root -> (llm.chat -> tokenize, validate), children by start time.
    assert root["name"] == "POST /chat"
    assert root["span_id"] == ids["root"]
    assert "parent_span_id" not in root or root["parent_span_id"] is None
    assert root["kind"] == "server"
    assert root["status"]["code"] == "unset"
    assert root["attributes"]["http.route"] == "/chat"
    assert root["attributes"]["http.response.status_code"] == 200
    assert root["links"] == [{"trace_id": LINKED_TRACE, "span_id": LINKED_SPAN, "attributes": {"link.reason": "retry-of"}}]
    assert root["events"] == []
    assert [c["name"] for c in root["children"]] == ["llm.chat", "validate"]
    llm, validate = root["children"]

    assert llm["span_id"] == ids["llm"]
    assert llm["parent_span_id"] == ids["root"]
    assert llm["kind"] == "client"
    assert llm["attributes"]["gen_ai.request.model"] == "gpt-4o-mini"
    assert llm["attributes"]["gen_ai.system"] == "openai"
    assert llm["attributes"]["gen_ai.request.temperature"] == pytest.approx(0.25)
    assert llm["attributes"]["gen_ai.usage.input_tokens"] == 42
    assert llm["attributes"]["gen_ai.usage.output_tokens"] == 7
    assert llm["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]
    assert llm["attributes"]["llm.streaming"] is False
    assert [e["name"] for e in llm["events"]] == ["prompt.sent"]
    assert llm["events"][0]["attributes"] == {"prompt.length": 128}
    assert [c["name"] for c in llm["children"]] == ["tokenize"]

    tokenize = llm["children"][0]
    assert tokenize["span_id"] == ids["tokenize"]
    assert tokenize["parent_span_id"] == ids["llm"]
    assert tokenize["kind"] == "internal"
    assert tokenize["attributes"] == {"tokenizer.name": "cl100k_base"}
    assert tokenize["children"] == []
    assert tokenize["links"] == [] and tokenize["events"] == []
    assert tokenize["duration_ms"] >= 1.5, tokenize["duration_ms"]
    # A child lies within its parent.
    assert llm["start_time_unix_nano"] <= tokenize["start_time_unix_nano"]
    assert tokenize["end_time_unix_nano"] <= llm["end_time_unix_nano"]

    assert validate["span_id"] == ids["validate"]
    assert validate["parent_span_id"] == ids["root"]
    assert validate["kind"] == "internal"
    assert validate["status"] == {"code": "error", "message": "bad input"}
    assert validate["children"] == []
    assert len(validate["events"]) == 1, validate["events"]
    exc = validate["events"][0]
    assert exc["name"] == "exception"
    assert exc["attributes"]["exception.type"] == "ValueError"
    assert exc["attributes"]["exception.message"] == "bad input"
    stack = exc["attributes"]["exception.stacktrace"]
    assert "Traceback (most recent call last)" in stack and "ValueError: bad input" in stack, stack
    assert "emit_chat_trace" in stack, stack
    assert validate["start_time_unix_nano"] <= exc["time_unix_nano"] <= validate["end_time_unix_nano"]
    assert abs(rfc3339_nanos(exc["time"]) - exc["time_unix_nano"]) < 1_000_000

    assert llm["start_time_unix_nano"] <= validate["start_time_unix_nano"], "children are ordered by start time"
    assert trace["duration_ms"] == pytest.approx(
        (root["end_time_unix_nano"] - root["start_time_unix_nano"]) / 1e6, abs=1e-3
    )
    assert abs(rfc3339_nanos(trace["start_time"]) - root["start_time_unix_nano"]) < 1_000_000


@pytest.mark.parametrize("transport", ALL_TRANSPORTS)
def test_trace_tree_round_trip(ward: Ward, service_name: str, transport: str):
    before = ward.ingest_records("traces", protocol(transport))
    exporter = Recording(span_exporter(ward, transport))
    provider = TracerProvider(resource=resource(service_name))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    try:
        ids = emit_chat_trace(provider.get_tracer("e2e.chat", "0.1.0"))
        assert provider.force_flush(timeout_millis=15_000)
        assert exporter.all_succeeded(), f"export over {transport} failed: {exporter.result_names()}"
        assert exporter.exported == 4
    finally:
        provider.shutdown()

    # A 2xx means committed: the trace is readable at once, no polling.
    trace = ward.get(f"/api/v1/traces/{ids['trace']}")
    check_chat_trace(trace, ids, service_name)
    assert ward.ingest_records("traces", protocol(transport)) - before == 4

    svc = ward.service(service_name)
    assert svc is not None, f"{service_name} missing from /api/v1/services"
    assert svc["span_count"] == 4 and svc["log_count"] == 0 and svc["metric_count"] == 0, svc


def test_trace_exported_span_by_span(ward: Ward, service_name: str):
    """SimpleSpanProcessor sends each span in its own request, children before parents: Ward
    must still assemble one tree."""
    exporter = Recording(span_exporter(ward, "http"))
    provider = TracerProvider(resource=resource(service_name))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        ids = emit_chat_trace(provider.get_tracer("e2e.chat", "0.1.0"))
    finally:
        provider.shutdown()
    assert len(exporter.results) == 4 and exporter.all_succeeded(), exporter.result_names()
    check_chat_trace(ward.get(f"/api/v1/traces/{ids['trace']}"), ids, service_name)


def test_trace_search(ward: Ward, service_name: str):
    exporter = Recording(span_exporter(ward, "http"))
    provider = TracerProvider(resource=resource(service_name))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("e2e.chat", "0.1.0")
    try:
        chat = emit_chat_trace(tracer)["trace"]
        with tracer.start_as_current_span("GET /health", kind=SpanKind.SERVER) as s:
            health = hex32(s.get_span_context().trace_id)
        with tracer.start_as_current_span("POST /slow", kind=SpanKind.SERVER) as s:
            slow = hex32(s.get_span_context().trace_id)
            time.sleep(0.3)
        assert provider.force_flush(timeout_millis=15_000)
        assert exporter.all_succeeded(), exporter.result_names()
    finally:
        provider.shutdown()

    def search(**params) -> list[str]:
        answer = ward.get("/api/v1/traces", {"service": service_name, **params})
        return [t["trace_id"] for t in answer["traces"]]

    everything = ward.get("/api/v1/traces", {"service": service_name})["traces"]
    assert [t["trace_id"] for t in everything] == [slow, health, chat], "newest first"
    summary = everything[2]
    assert summary["root_service"] == service_name
    assert summary["root_name"] == "POST /chat"
    assert summary["span_count"] == 4
    assert summary["error_count"] == 1
    assert summary["services"] == [service_name]
    assert summary["duration_nanos"] > 0
    assert abs(summary["start_time_unix_nano"] - time.time_ns()) < 120 * 10**9
    assert everything[0]["duration_nanos"] >= 300_000_000, everything[0]

    assert search(status="error") == [chat]
    assert search(operation="llm.chat") == [chat]
    assert search(q='name:"GET /health"') == [health]
    assert search(min_duration="250ms") == [slow]
    assert search(q="gen_ai.request.model=gpt-4o-mini") == [chat]
    assert search(q="gen_ai.usage.input_tokens>=40") == [chat]
    assert search(q="gen_ai.usage.input_tokens>=43") == []
    assert search(q="kind:client") == [chat]
    assert search(q="-status:error") == [slow, health, chat], "every trace has a span that is not an error"
    assert ward.get("/api/v1/traces", {"service": service_name + "-nobody"})["traces"] == []


def test_unknown_trace_is_404(ward: Ward):
    r = ward.get_raw("/api/v1/traces/" + "ab" * 16)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert r.json()["detail"], r.text
    r = ward.get_raw("/api/v1/traces/not-a-trace-id")
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers


# ----------------------------------------------------------------------------------------- logs


def emit_logs(logger: logging.Logger, tracer) -> dict[str, str]:
    """Application logging through the stdlib, as most Python services do it."""
    logger.debug("cache warmed in %d ms", 12)
    logger.info("user signed in", extra={"user.id": "u-42", "auth.method": "password"})
    logger.info("listing orders")
    logger.warning("disk %d%% full", 91)
    with tracer.start_as_current_span("POST /orders") as span:
        ctx = span.get_span_context()
        logger.error("payment failed for order %s", "o-7", extra={"order.amount": 12.5, "retry.count": 3})
    try:
        1 / 0
    except ZeroDivisionError:
        logger.exception("could not compute ratio")
    logger.critical("out of memory")
    logger.info("café ☕ prêt: 日本語のログ")
    logger.info({"event": "checkout", "items": 3, "ok": True})
    return {"trace": hex32(ctx.trace_id), "span": hex16(ctx.span_id)}


LOG_BODIES = {
    "cache warmed in 12 ms": ("debug", 5, "DEBUG"),
    "user signed in": ("info", 9, "INFO"),
    "listing orders": ("info", 9, "INFO"),
    "disk 91% full": ("warn", 13, "WARN"),
    "payment failed for order o-7": ("error", 17, "ERROR"),
    "could not compute ratio": ("error", 17, "ERROR"),
    "out of memory": ("fatal", 21, "FATAL"),
    "café ☕ prêt: 日本語のログ": ("info", 9, "INFO"),
    # A structured body is stored as its JSON text (compared parsed, below).
    '{"event":"checkout","items":3,"ok":true}': ("info", 9, "INFO"),
}
STRUCTURED = {"event": "checkout", "items": 3, "ok": True}


def normalized_body(body: str) -> str:
    """Structured bodies as compact JSON, so key order and spacing do not matter."""
    try:
        value = json.loads(body)
    except ValueError:
        return body
    return json.dumps(value, separators=(",", ":"), sort_keys=True) if isinstance(value, dict) else body


@pytest.mark.parametrize("transport", ALL_TRANSPORTS)
def test_logs_round_trip_and_filters(ward: Ward, service_name: str, transport: str):
    before = ward.ingest_records("logs", protocol(transport))
    exporter = Recording(log_exporter(ward, transport))
    provider = LoggerProvider(resource=resource(service_name))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    logger = logging.getLogger(f"e2e.{service_name}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = LoggingHandler(level=logging.NOTSET, logger_provider=provider)
    logger.addHandler(handler)
    tracer = TracerProvider(resource=resource(service_name)).get_tracer("e2e.orders")
    started = time.time_ns()
    try:
        ctx = emit_logs(logger, tracer)
        assert provider.force_flush(timeout_millis=15_000)
        assert exporter.all_succeeded(), f"export over {transport} failed: {exporter.result_names()}"
        assert exporter.exported == len(LOG_BODIES)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()

    logs = ward.logs(f"service:{service_name}")
    assert sorted(normalized_body(l["body"]) for l in logs) == sorted(LOG_BODIES), [l["body"] for l in logs]
    times = [l["time_unix_nano"] for l in logs]
    assert times == sorted(times, reverse=True), "newest first"
    assert ward.ingest_records("logs", protocol(transport)) - before == len(LOG_BODIES)

    by_body = {normalized_body(l["body"]): l for l in logs}
    assert json.loads(by_body['{"event":"checkout","items":3,"ok":true}']["body"]) == STRUCTURED
    for body, (level, number, text) in LOG_BODIES.items():
        rec = by_body[body]
        assert (rec["level"], rec["severity_number"], rec["severity_text"]) == (level, number, text), rec
        assert rec["service"] == service_name
        assert rec["scope"]["name"] == logger.name, rec.get("scope")
        assert rec["resource"]["service.version"] == "1.2.3", rec["resource"]
        assert rec["resource"]["telemetry.sdk.language"] == "python", rec["resource"]
        assert "service.name" not in rec["resource"]
        assert started - 10**9 <= rec["time_unix_nano"] <= time.time_ns(), rec
        assert rec["observed_time_unix_nano"] >= rec["time_unix_nano"] - 10**9, rec
        assert abs(rfc3339_nanos(rec["time"]) - rec["time_unix_nano"]) < 1_000_000, rec["time"]
        assert rec["attributes"]["code.function.name"] == "emit_logs", rec["attributes"]
        assert rec["attributes"]["code.file.path"].endswith("test_otel_sdk.py"), rec["attributes"]
        assert isinstance(rec["attributes"]["code.line.number"], int), rec["attributes"]

    signed_in = by_body["user signed in"]
    assert signed_in["attributes"]["user.id"] == "u-42"
    assert signed_in["attributes"]["auth.method"] == "password"
    assert "trace_id" not in signed_in and "span_id" not in signed_in, "logged outside any span"

    failed = by_body["payment failed for order o-7"]
    assert failed["trace_id"] == ctx["trace"], failed
    assert failed["span_id"] == ctx["span"], failed
    assert failed["attributes"]["order.amount"] == pytest.approx(12.5)
    assert failed["attributes"]["retry.count"] == 3

    crashed = by_body["could not compute ratio"]
    assert crashed["attributes"]["exception.type"] == "ZeroDivisionError"
    assert crashed["attributes"]["exception.message"] == "division by zero"
    assert "Traceback" in crashed["attributes"]["exception.stacktrace"]

    def bodies(q: str, **params) -> set[str]:
        found = ward.logs(f"service:{service_name} {q}".strip(), **params)
        assert all(l["service"] == service_name for l in found)
        return {l["body"] for l in found}

    assert bodies("level>=warn") == {"disk 91% full", "payment failed for order o-7", "could not compute ratio", "out of memory"}
    assert bodies("level>error") == {"out of memory"}
    assert bodies("level=debug") == {"cache warmed in 12 ms"}
    assert bodies("level<info") == {"cache warmed in 12 ms"}
    assert bodies("user.id=u-42") == {"user signed in"}
    assert bodies("user.id=u-43") == set()
    assert {normalized_body(b) for b in bodies("-user.id=u-42")} == set(LOG_BODIES) - {"user signed in"}
    assert bodies(f"trace:{ctx['trace']}") == {"payment failed for order o-7"}
    assert bodies(f"span:{ctx['span']}") == {"payment failed for order o-7"}
    assert bodies('"payment failed"') == {"payment failed for order o-7"}
    assert bodies('"failed payment"') == set(), "a phrase keeps its word order"
    assert bodies("disk") == {"disk 91% full"}
    assert bodies("日本語のログ") == {"café ☕ prêt: 日本語のログ"}
    assert bodies("café") == {"café ☕ prêt: 日本語のログ"}
    assert bodies("DISK") == {"disk 91% full"}, "full text is case-insensitive"
    assert bodies("dis") == set(), "full text matches whole words"
    assert bodies("retry.count>=3") == {"payment failed for order o-7"}
    assert bodies("retry.count>3") == set()
    assert bodies("order.amount<13") == {"payment failed for order o-7"}
    assert bodies("exception.type=ZeroDivisionError") == {"could not compute ratio"}
    assert bodies("level>=warn -\"out of memory\"") == {"disk 91% full", "payment failed for order o-7", "could not compute ratio"}
    assert bodies("", trace_id=ctx["trace"]) == {"payment failed for order o-7"}
    assert bodies("", level="error") == {"payment failed for order o-7", "could not compute ratio", "out of memory"}
    # The service.name filter is exact, and other services' logs stay out.
    assert ward.logs(f"service:{service_name}-other") == []
    # Resource attributes are searchable too.
    assert {normalized_body(b) for b in bodies("service.version=1.2.3")} == set(LOG_BODIES)


def test_log_pagination(ward: Ward, service_name: str):
    exporter = Recording(log_exporter(ward, "http"))
    provider = LoggerProvider(resource=resource(service_name))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("e2e.pages")
    from opentelemetry._logs import LogRecord, SeverityNumber

    base = time.time_ns() - 5 * 10**9
    try:
        for i in range(7):
            logger.emit(
                LogRecord(
                    timestamp=base + i * 1_000_000,
                    severity_number=SeverityNumber.INFO,
                    severity_text="INFO",
                    body=f"page record {i}",
                    attributes={"seq": i},
                )
            )
    finally:
        provider.shutdown()
    assert len(exporter.results) == 7 and exporter.all_succeeded(), exporter.result_names()

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"q": f"service:{service_name}", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = ward.get("/api/v1/logs", params)
        pages += 1
        assert len(page["logs"]) <= 3
        seen.extend(l["body"] for l in page["logs"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
        assert pages < 10, "pagination does not end"
    assert seen == [f"page record {i}" for i in reversed(range(7))], seen
    assert pages == 3

    # from/to bound the range (to is exclusive).
    ranged = ward.get(
        "/api/v1/logs",
        {"q": f"service:{service_name}", "from": str(base + 2 * 1_000_000), "to": str(base + 5 * 1_000_000)},
    )
    assert [l["body"] for l in ranged["logs"]] == ["page record 4", "page record 3", "page record 2"]
    assert [l["attributes"]["seq"] for l in ranged["logs"]] == [4, 3, 2]


def test_bad_filter_is_a_problem(ward: Ward):
    r = ward.get_raw("/api/v1/logs", {"q": "level>=loud"})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert "loud" in r.json()["detail"], r.text
    r = ward.get_raw("/api/v1/logs", {"q": "status:error"})
    assert r.status_code == 400, "a trace-only term on logs is an error, not a silent no-match"


# -------------------------------------------------------------------------------------- metrics


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_metrics_ingest(ward: Ward, service_name: str, transport: str):
    before = ward.ingest_records("metrics", protocol(transport))
    exporter = Recording(metric_exporter(ward, transport))
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=resource(service_name), metric_readers=[reader])
    meter = provider.get_meter("e2e.metrics", "0.1.0")
    started = time.time_ns()
    try:
        requests_total = meter.create_counter("e2e.requests", unit="{request}", description="requests served")
        latency = meter.create_histogram("e2e.request.duration", unit="s", description="request latency")
        in_flight = meter.create_up_down_counter("e2e.requests.in_flight", unit="{request}")
        for _ in range(3):
            requests_total.add(1, {"http.route": "/chat"})
        requests_total.add(2, {"http.route": "/health"})
        for v in (0.05, 0.2, 1.5):
            latency.record(v, {"http.route": "/chat"})
        in_flight.add(5)
        in_flight.add(-2)
        assert provider.force_flush(timeout_millis=15_000)
        assert exporter.all_succeeded(), f"export over {transport} failed: {exporter.result_names()}"
        # Two counter series, one histogram series, one up-down counter series.
        assert ward.ingest_records("metrics", protocol(transport)) - before == 4
    finally:
        provider.shutdown()

    svc = ward.service(service_name)
    assert svc is not None, f"{service_name} missing from /api/v1/services"
    assert svc["metric_count"] >= 4, svc
    assert svc["log_count"] == 0 and svc["span_count"] == 0, svc
    assert started - 10**9 <= svc["first_seen_unix_nano"] <= svc["last_seen_unix_nano"] <= time.time_ns(), svc


# ----------------------------------------------------------------------------------- durability


def test_acknowledged_telemetry_survives_a_crash(tmp_path, service_name: str):
    """A 2xx means committed: SIGKILL right after the exporters return, restart on the same data
    directory, and everything acknowledged (and the keys) is still there."""
    first = Ward(ward_binary(), tmp_path)
    first.start()
    try:
        first.make_keys()
        spans = Recording(span_exporter(first, "grpc"))
        tracer_provider = TracerProvider(resource=resource(service_name))
        tracer_provider.add_span_processor(BatchSpanProcessor(spans))
        logs = Recording(log_exporter(first, "http"))
        logger_provider = LoggerProvider(resource=resource(service_name))
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(logs))
        logger = logger_provider.get_logger("e2e.crash")
        from opentelemetry._logs import LogRecord, SeverityNumber

        try:
            ids = emit_chat_trace(tracer_provider.get_tracer("e2e.chat", "0.1.0"))
            for i in range(50):
                logger.emit(LogRecord(severity_number=SeverityNumber.WARN, severity_text="WARN", body=f"before the crash {i}"))
            assert tracer_provider.force_flush(timeout_millis=15_000)
            assert logger_provider.force_flush(timeout_millis=15_000)
            assert spans.all_succeeded() and spans.exported == 4, spans.result_names()
            assert logs.all_succeeded() and logs.exported == 50, logs.result_names()
        finally:
            tracer_provider.shutdown()
            logger_provider.shutdown()
    finally:
        first.kill()

    second = Ward(ward_binary(), tmp_path, admin_key=first.admin_key)
    second.start()
    try:
        second.ingest_key, second.read_key, second.metrics_key = first.ingest_key, first.read_key, first.metrics_key
        check_chat_trace(second.get(f"/api/v1/traces/{ids['trace']}"), ids, service_name)
        found = second.logs(f"service:{service_name}")
        assert sorted(l["body"] for l in found) == sorted(f"before the crash {i}" for i in range(50))
        assert all(l["level"] == "warn" for l in found)
    finally:
        code = second.stop()
    assert code == 0, f"exit code {code} after SIGTERM; stderr:\n{second.stderr_text()[-5000:]}"


# ----------------------------------------------------------------------------------------- auth


def minimal_trace_request(service: str, trace_id: str, span_id: str, name: str) -> trace_service_pb2.ExportTraceServiceRequest:
    now = time.time_ns()
    span = trace_pb2.Span(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex(span_id),
        name=name,
        kind=trace_pb2.Span.SPAN_KIND_SERVER,
        start_time_unix_nano=now - 1_000_000,
        end_time_unix_nano=now,
    )
    res = resource_pb2.Resource(
        attributes=[common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value=service))]
    )
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[trace_pb2.ResourceSpans(resource=res, scope_spans=[trace_pb2.ScopeSpans(spans=[span])])]
    )


def test_ingest_needs_the_ingest_scope(ward: Ward, service_name: str):
    read_only = ward.create_key(["read", "metrics"], name="e2e no ingest")["key"]
    trace_id = secrets.token_hex(16)
    http_span, grpc_span = secrets.token_hex(8), secrets.token_hex(8)
    body = minimal_trace_request(service_name, trace_id, http_span, "over http").SerializeToString()
    headers = {"content-type": "application/x-protobuf"}

    r = ward.session.post(f"{ward.http}/v1/traces", data=body, headers={**headers, "authorization": f"Bearer {read_only}"}, timeout=10)
    assert r.status_code == 403, f"a key without 'ingest' must get 403, got {r.status_code}: {r.text}"
    assert "ingest" in r.text, r.text
    r = ward.session.post(f"{ward.http}/v1/traces", data=body, headers=headers, timeout=10)
    assert r.status_code == 401, f"no key must get 401, got {r.status_code}: {r.text}"
    bogus = "ward_aaaaaaaaaaaa_" + "a" * 40
    r = ward.session.post(f"{ward.http}/v1/traces", data=body, headers={**headers, "authorization": f"Bearer {bogus}"}, timeout=10)
    assert r.status_code == 401, f"an unknown key must get 401, got {r.status_code}: {r.text}"
    # The same request with the ingest key is accepted: the refusals above were about the key.
    r = ward.session.post(f"{ward.http}/v1/traces", data=body, headers={**headers, "authorization": f"Bearer {ward.ingest_key}"}, timeout=10)
    assert r.status_code == 200, r.text

    # The SDK exporters see the refusal too, over both transports, and nothing is stored.
    for transport in TRANSPORTS:
        exporter = Recording(span_exporter(ward, transport, key=read_only))
        provider = TracerProvider(resource=resource(service_name + "-refused"))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        try:
            with provider.get_tracer("e2e.auth").start_as_current_span("refused span") as s:
                tid = hex32(s.get_span_context().trace_id)
        finally:
            provider.shutdown()
        assert exporter.result_names() == ["FAILURE"], (transport, exporter.result_names())
        assert ward.get_raw(f"/api/v1/traces/{tid}").status_code == 404

    # gRPC answers PERMISSION_DENIED for a key without the scope, UNAUTHENTICATED without a key.
    with grpc.insecure_channel(ward.grpc, options=GRPC_CHANNEL_OPTIONS) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        request = minimal_trace_request(service_name, trace_id, grpc_span, "over grpc")
        with pytest.raises(grpc.RpcError) as denied:
            stub.Export(request, metadata=(("authorization", f"Bearer {read_only}"),), timeout=10)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED, denied.value
        with pytest.raises(grpc.RpcError) as anonymous:
            stub.Export(request, timeout=10)
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED, anonymous.value
        answer = stub.Export(request, metadata=(("authorization", f"Bearer {ward.ingest_key}"),), timeout=10)
        assert not answer.HasField("partial_success") or answer.partial_success.rejected_spans == 0

    # Only the two requests made with the ingest key were stored.
    trace = ward.get(f"/api/v1/traces/{trace_id}")
    assert trace["span_count"] == 2 and trace["services"] == [service_name], trace
    assert sorted((r["name"], r["span_id"]) for r in trace["roots"]) == [("over grpc", grpc_span), ("over http", http_span)]


def test_scopes_of_read_and_metrics(ward: Ward):
    # An ingest key cannot read, and a read key cannot scrape or manage keys.
    r = ward.get_raw("/api/v1/logs", key=ward.ingest_key)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert "read" in r.json()["detail"], r.text
    r = ward.get_raw("/metrics", key=ward.read_key)
    assert r.status_code == 403, r.text
    r = ward.session.post(
        f"{ward.http}/api/v1/keys",
        json={"tenant": "default", "scopes": ["ingest"], "name": "nope"},
        headers={"Authorization": f"Bearer {ward.read_key}"},
        timeout=10,
    )
    assert r.status_code == 403, r.text
    r = ward.get_raw("/api/v1/logs", key="")
    assert r.status_code == 401, r.text

    r = ward.get_raw("/metrics", key=ward.metrics_key)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/openmetrics-text"), r.headers
    assert r.text.rstrip().endswith("# EOF"), r.text[-200:]
    samples = parse_openmetrics(r.text)
    assert samples[("ward_process_resident_memory_bytes", frozenset())] > 1_000_000, samples
    assert samples[("ward_store_size_bytes", frozenset())] > 0, samples
    assert ("ward_ingest_queue_depth", frozenset()) in samples, samples
    # An admin key may scrape too.
    assert ward.get_raw("/metrics", key=ward.admin_key).status_code == 200


def test_tenants_are_isolated(ward: Ward, service_name: str):
    """Telemetry sent with one tenant's key is invisible to another tenant's keys."""
    tenant = "acme" + secrets.token_hex(3)
    acme_ingest = ward.create_key(["ingest"], tenant=tenant)["key"]
    acme_read = ward.create_key(["read"], tenant=tenant)["key"]

    spans = Recording(span_exporter(ward, "grpc", key=acme_ingest))
    tracer_provider = TracerProvider(resource=resource(service_name))
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logs = Recording(log_exporter(ward, "http", key=acme_ingest))
    logger_provider = LoggerProvider(resource=resource(service_name))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    from opentelemetry._logs import LogRecord, SeverityNumber

    try:
        with tracer_provider.get_tracer("e2e.tenants").start_as_current_span("acme op") as s:
            tid = hex32(s.get_span_context().trace_id)
        logger_provider.get_logger("e2e.tenants").emit(
            LogRecord(severity_number=SeverityNumber.INFO, body="acme secret record")
        )
    finally:
        tracer_provider.shutdown()
        logger_provider.shutdown()
    assert spans.all_succeeded() and logs.all_succeeded(), (spans.result_names(), logs.result_names())

    # The tenant's own read key sees everything.
    assert ward.get(f"/api/v1/traces/{tid}", key=acme_read)["span_count"] == 1
    page = ward.get("/api/v1/logs", {"q": f"service:{service_name}"}, key=acme_read)
    assert [l["body"] for l in page["logs"]] == ["acme secret record"]
    assert page["logs"][0]["level"] == "info"
    names = [s["name"] for s in ward.get("/api/v1/services", key=acme_read)["services"]]
    assert names == [service_name], names
    assert ward.metric("ward_ingest_records_total", tenant=tenant, signal="traces", protocol="otlp_grpc") == 1
    assert ward.metric("ward_ingest_records_total", tenant=tenant, signal="logs", protocol="otlp_http") == 1

    # The default tenant's keys see nothing of it.
    assert ward.get_raw(f"/api/v1/traces/{tid}").status_code == 404
    assert ward.logs(f"service:{service_name}") == []
    assert ward.logs('"acme secret record"') == []
    assert ward.service(service_name) is None
    assert tid not in [t["trace_id"] for t in ward.get("/api/v1/traces", {"q": f"service:{service_name}"})["traces"]]


def test_many_records_in_batches(ward: Ward, service_name: str):
    """Thousands of records through the SDK's batch processors (several requests each)."""
    n_logs, n_spans = 5000, 2000
    before_logs = ward.ingest_records("logs", "otlp_http")
    before_spans = ward.ingest_records("traces", "otlp_grpc")
    logs = Recording(log_exporter(ward, "http+gzip"))
    logger_provider = LoggerProvider(resource=resource(service_name))
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(logs, max_queue_size=n_logs, max_export_batch_size=512))
    spans = Recording(span_exporter(ward, "grpc"))
    tracer_provider = TracerProvider(resource=resource(service_name))
    tracer_provider.add_span_processor(BatchSpanProcessor(spans, max_queue_size=n_spans, max_export_batch_size=512))
    from opentelemetry._logs import LogRecord, SeverityNumber

    try:
        logger = logger_provider.get_logger("e2e.volume")
        for i in range(n_logs):
            logger.emit(LogRecord(severity_number=SeverityNumber.INFO, body=f"volume record {i}", attributes={"i": i}))
        tracer = tracer_provider.get_tracer("e2e.volume")
        with tracer.start_as_current_span("batch job") as root:
            tid = hex32(root.get_span_context().trace_id)
            for i in range(n_spans - 1):
                with tracer.start_as_current_span(f"item {i}"):
                    pass
        assert logger_provider.force_flush(timeout_millis=30_000)
        assert tracer_provider.force_flush(timeout_millis=30_000)
    finally:
        logger_provider.shutdown()
        tracer_provider.shutdown()
    assert logs.all_succeeded() and logs.exported == n_logs, (logs.result_names(), logs.exported)
    assert spans.all_succeeded() and spans.exported == n_spans, (spans.result_names(), spans.exported)
    assert len(logs.results) >= n_logs // 512

    assert ward.ingest_records("logs", "otlp_http") - before_logs == n_logs
    assert ward.ingest_records("traces", "otlp_grpc") - before_spans == n_spans
    svc = ward.service(service_name)
    assert svc is not None and svc["log_count"] == n_logs and svc["span_count"] == n_spans, svc
    found = ward.logs(f"service:{service_name} i>=4990")
    assert sorted(l["attributes"]["i"] for l in found) == list(range(4990, 5000))
    trace = ward.get(f"/api/v1/traces/{tid}")
    assert trace["span_count"] == n_spans
    assert len(trace["roots"]) == 1 and len(trace["roots"][0]["children"]) == n_spans - 1
