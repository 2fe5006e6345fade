"""Property-based API conformance: schemathesis generates requests for every operation of
`crates/ward-server/openapi.json` (the document Ward serves at `/api/openapi.json`) and checks
each answer against the same document.

A Ward of its own (fixture `ward_fuzz`) serves this file, so generated requests (keys created,
revoked and rotated, junk ingested) never disturb the other tests. Its `[rate_limits]` are raised
far above what schemathesis sends, so a 429 here would mean a rate limit fired that should not;
routes that can still answer 429 in production document it.

Checks on every generated request: no 5xx (`not_a_server_error`), the status code is documented
(`status_code_conformance`), the content type is the documented one (`content_type_conformance`),
the body matches the documented schema (`response_schema_conformance`) and documented headers are
present and valid (`response_headers_conformance`).

Nothing is excluded from generation. Adjustments, each for a reason:
- `GET /api/v1/logs/tail` is an endless Server-Sent-Events stream: a normal call would never
  return. It is called with `stream=True` and a short timeout; the status line, headers and
  content type are checked, and the body is read only for error answers (which end).
- `application/x-ndjson` and `application/x-protobuf` request bodies have no built-in
  serializer in schemathesis; the two registered below send the generated string or bytes as
  they are, so those content types are generated too (mostly as junk Ward must refuse with 400).
- Key-mutating operations (`DELETE /api/v1/keys/{id}`, `POST /api/v1/keys/{id}/rotate`) run with
  a fresh `admin` key made for each example, so a request that revokes or rotates the key it
  carries cannot lock the rest of the run out; afterwards the fixture's admin key must still work.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import STOP_TIMEOUT_S, Ward, http_session, ward_binary

# Examples per operation: enough to reach past the documented examples into generated bodies
# and parameters, small enough that the file runs in well under three minutes on two cores.
MAX_EXAMPLES = 100

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# Limits far above anything this file sends (and the brute-force guard out of the way of the
# generated unauthenticated requests), so a 429 or block here is a bug, not load.
WARD_TOML = """
[rate_limits.ingest]
per_key = { rate = 100000, burst = 100000 }
per_ip = { rate = 100000, burst = 100000 }
[rate_limits.query]
per_key = { rate = 100000, burst = 100000 }
per_ip = { rate = 100000, burst = 100000 }
[rate_limits.admin]
per_key = { rate = 100000, burst = 100000 }
per_ip = { rate = 100000, burst = 100000 }
[rate_limits.auth]
per_key = { rate = 100000, burst = 100000 }
per_ip = { rate = 100000, burst = 100000 }
[rate_limits.brute_force]
failures_before_delay = 1000000
failures_before_block = 1000000
"""

KEY_MUTATING = {("DELETE", "/api/v1/keys/{id}"), ("POST", "/api/v1/keys/{id}/rotate")}
STREAMING = {("GET", "/api/v1/logs/tail")}


@pytest.fixture(scope="module")
def ward_fuzz(tmp_path_factory: pytest.TempPathFactory):
    """A Ward for this file only, with rate limits raised (read from `./ward.toml`)."""
    workdir = tmp_path_factory.mktemp("ward-schemathesis")
    (workdir / "ward.toml").write_text(WARD_TOML)
    w = Ward(ward_binary(), workdir)
    w.start()
    try:
        w.make_keys()
        # Something to find: a few log records, so queries answer with data, not only empties.
        r = w.session.post(
            f"{w.http}/api/v1/ingest/logs",
            data='{"level":"info","msg":"schemathesis seed","service":"fuzz"}\n' * 3,
            headers={"Authorization": f"Bearer {w.ingest_key}", "Content-Type": "application/x-ndjson"},
            timeout=10,
        )
        assert r.status_code == 200, r.text
    except BaseException:
        w.stop()
        raise
    yield w
    # The run must not have locked out its own admin key.
    r = w.session.get(f"{w.http}/api/v1/keys", headers={"Authorization": f"Bearer {w.admin_key}"}, timeout=10)
    code = w.stop()
    assert r.status_code == 200, f"the admin key stopped working during the run: {r.status_code} {r.text}"
    assert code == 0, f"Ward exited with code {code} (limit {STOP_TIMEOUT_S}s); stderr:\n{w.stderr_text()[-5000:]}"


OPENAPI = Path(__file__).resolve().parents[2] / "crates" / "ward-server" / "openapi.json"

# The document is loaded from the source tree at collection time (one test per operation);
# `test_served_document_is_the_source` checks that Ward serves exactly this document.
# (schemathesis's `pytest.from_fixture`, which would load it from the running Ward, relies on a
# private pytest attribute that pytest 9 no longer has.)
schema = schemathesis.openapi.from_path(str(OPENAPI))


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value):
    """JSON-lines ingest bodies: the generated string, as UTF-8."""
    return {"data": value if isinstance(value, bytes) else str(value).encode("utf-8")}


@schemathesis.serializer("application/x-protobuf")
def _protobuf(ctx, value):
    """OTLP protobuf bodies: the generated bytes as they are (mostly undecodable, which must be a
    documented 400, never a 5xx)."""
    if isinstance(value, bytes):
        return {"data": value}
    data = getattr(value, "data", None)
    return {"data": data if isinstance(data, bytes) else str(value).encode("utf-8")}
schema.config.generation.update(max_examples=MAX_EXAMPLES)


def test_served_document_is_the_source(ward_fuzz: Ward):
    r = ward_fuzz.session.get(f"{ward_fuzz.http}/api/openapi.json", timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == json.loads(OPENAPI.read_text())


def throwaway_admin(w: Ward) -> str:
    """A fresh key with every permission, for one request that may revoke or rotate it."""
    return w.create_key(["admin"], name="schemathesis throwaway")["key"]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms(case, ward_fuzz: Ward):
    op = (case.method.upper(), case.path)
    headers = {"Authorization": f"Bearer {ward_fuzz.admin_key}"}
    if op in KEY_MUTATING:
        headers = {"Authorization": f"Bearer {throwaway_admin(ward_fuzz)}"}
    session = http_session()
    if op in STREAMING:
        # An endless stream: open it, check the status line and headers, hang up. Error answers
        # end, so their bodies get every check.
        kwargs = case.as_transport_kwargs(base_url=ward_fuzz.http, headers=headers)
        with session.request(**kwargs, stream=True, timeout=5) as response:
            if response.status_code == 200:
                ctype = response.headers.get("content-type", "")
                assert ctype.startswith("text/event-stream"), ctype
            else:
                response.content  # read the whole (finite) error answer
                case.validate_response(response, checks=CHECKS)
        return
    case.call_and_validate(base_url=ward_fuzz.http, session=session, headers=headers, checks=CHECKS, timeout=15)


def test_tail_streams_events(ward_fuzz: Ward):
    """The live tail, excluded from body checks above, sends a well-formed SSE stream."""
    s = http_session()
    with s.get(
        f"{ward_fuzz.http}/api/v1/logs/tail",
        headers={"Authorization": f"Bearer {ward_fuzz.read_key}"},
        stream=True,
        timeout=5,
    ) as r:
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/event-stream"), r.headers
        # The stream is open (headers arrived): a record ingested now must come through it.
        w = ward_fuzz.session.post(
            f"{ward_fuzz.http}/api/v1/ingest/logs",
            data='{"level":"warn","msg":"schemathesis tail","service":"fuzz-tail"}\n',
            headers={"Authorization": f"Bearer {ward_fuzz.ingest_key}", "Content-Type": "application/x-ndjson"},
            timeout=10,
        )
        assert w.status_code == 200, w.text
        deadline = time.monotonic() + 5
        for line in r.iter_lines(decode_unicode=True):
            if line and line.startswith("data:") and "schemathesis tail" in line:
                return
            if time.monotonic() > deadline:
                break
    pytest.fail("the live tail sent no event for a record ingested while it was open")
