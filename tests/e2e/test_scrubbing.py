"""What an instrumented application leaks (e-mails in log messages, keys in attributes, passwords in
exception messages) never reaches Ward's store: sent by the OpenTelemetry Python SDK, read back
through the API, and reported as security events that name the place but not the value."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from conftest import Ward
from otel_helpers import Recording, log_exporter, resource, span_exporter

EMAIL = "maria.lopez@example.org"
OPENAI_KEY = "sk-proj-" + "Xq7PzR2mK9vL4nB8wT3yH6jF1dS5aG0cE" + "T3BlbkFJ" + "Wm4Kp9Lq2Rz7Xv3Nb8Yc5Hd1Gf6Jt0Se4"
DB_URL = "postgresql://billing:Pa55-w0rd-x9Z@db.internal:5432/billing"
SECRETS = [EMAIL, OPENAI_KEY, "Pa55-w0rd-x9Z"]


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked: {text[:2000]}"


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_sdk_telemetry_is_scrubbed_and_credentials_are_reported(ward: Ward, service_name: str, transport: str):
    # Logs: the message and the attributes carry personal data and a provider key.
    exporter = Recording(log_exporter(ward, transport))
    provider = LoggerProvider(resource=resource(service_name))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = logging.getLogger(f"e2e.scrub.{service_name}")
    logger.propagate = False
    handler = LoggingHandler(level=logging.NOTSET, logger_provider=provider)
    logger.addHandler(handler)
    try:
        logger.warning(f"password reset requested by {EMAIL}", extra={"llm.api_key_used": f"key={OPENAI_KEY}"})
        assert provider.force_flush(timeout_millis=15_000)
        assert exporter.all_succeeded(), exporter.result_names()
    finally:
        logger.removeHandler(handler)
        provider.shutdown()

    # Traces: a GenAI prompt with an e-mail and an exception with a connection string.
    spans = Recording(span_exporter(ward, transport))
    tracer_provider = TracerProvider(resource=resource(service_name))
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    tracer = tracer_provider.get_tracer("e2e.scrub")
    with tracer.start_as_current_span("chat", attributes={"gen_ai.prompt": f"write to {EMAIL} please"}) as span:
        span.record_exception(ConnectionError(f"could not connect to {DB_URL}"))
        trace_id = format(span.get_span_context().trace_id, "032x")
    tracer_provider.shutdown()
    assert spans.all_succeeded(), spans.result_names()

    logs = ward.logs(f"service:{service_name}")
    assert len(logs) == 1, logs
    assert_clean(str(logs))
    assert logs[0]["body"] == "password reset requested by [EMAIL]"
    assert logs[0]["attributes"]["llm.api_key_used"] == "key=[OPENAI_KEY]"

    trace = ward.get(f"/api/v1/traces/{trace_id}")
    assert_clean(str(trace))
    root = trace["roots"][0]
    assert root["attributes"]["gen_ai.prompt"] == "write to [EMAIL] please"
    message = root["events"][0]["attributes"]["exception.message"]
    assert "db.internal" in message and "[CONNECTION_STRING]" in message, message

    events = ward.get("/api/v1/security/events", {"kind": "credential_in_telemetry", "limit": 1000}, key=ward.admin_key)["events"]
    mine = [e for e in events if e["service"] == service_name]
    assert_clean(str(mine))
    found = {(e["details"]["credential_type"], e["details"]["location"], e["details"]["signal"]) for e in mine}
    assert ("openai_key", "llm.api_key_used", "logs") in found, found
    assert any(kind == "connection_string" and signal == "traces" for kind, _, signal in found), found

    metrics = ward.metrics()
    assert metrics.get(("ward_redactions_total", frozenset({"tenant": "default", "type": "email"}.items())), 0) >= 2
