"""GenAI spans from the OpenTelemetry Python SDK, written in two attribute dialects (the
OpenTelemetry GenAI conventions with their pre-1.37 names, and OpenInference), land on Ward's
`/metrics` as the conventions' client metrics, `gen_ai_client_token_usage` and
`gen_ai_client_operation_duration_seconds`, with the same labels for the same call."""

from __future__ import annotations

import uuid

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from conftest import Ward
from otel_helpers import Recording, resource, span_exporter


def test_genai_spans_of_two_dialects_feed_the_conventions_metrics(ward: Ward, service_name: str):
    model = f"e2e-model-{uuid.uuid4().hex[:8]}"
    exporter = Recording(span_exporter(ward, "http"))
    provider = TracerProvider(resource=resource(service_name))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("e2e.genai", "0.1.0")
    try:
        with tracer.start_as_current_span("chat " + model) as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": model,
                    "gen_ai.response.model": model,
                    "gen_ai.usage.prompt_tokens": 120,
                    "gen_ai.usage.completion_tokens": 30,
                }
            )
        with tracer.start_as_current_span("ChatCompletion") as span:
            span.set_attributes(
                {
                    "openinference.span.kind": "LLM",
                    "llm.system": "openai",
                    "llm.request.model_name": model,
                    "llm.model_name": model,
                    "llm.token_count.prompt": 80,
                    "llm.token_count.completion": 20,
                }
            )
        assert provider.force_flush(timeout_millis=15_000)
        assert exporter.all_succeeded(), exporter.result_names()
    finally:
        provider.shutdown()

    labels = dict(
        tenant="default",
        gen_ai_operation_name="chat",
        gen_ai_provider_name="openai",
        gen_ai_request_model=model,
        gen_ai_response_model=model,
    )
    # Acknowledged means committed and counted: no polling.
    assert ward.metric("gen_ai_client_token_usage_count", gen_ai_token_type="input", **labels) == 2
    assert ward.metric("gen_ai_client_token_usage_sum", gen_ai_token_type="input", **labels) == 200
    assert ward.metric("gen_ai_client_token_usage_sum", gen_ai_token_type="output", **labels) == 50
    assert ward.metric("gen_ai_client_operation_duration_seconds_count", **labels) == 2
