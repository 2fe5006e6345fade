"""End-to-end fixtures: start the real `ward` binary and talk to it over loopback.

The binary is `$WARD_BIN` (default: /work/main/target/debug/ward). One Ward process serves the
whole session; tests keep out of each other's way by using their own service names.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

DEFAULT_WARD_BIN = "/work/main/target/debug/ward"
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    """A free loopback port (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_session() -> requests.Session:
    """A session that never goes through a proxy (everything here is on 127.0.0.1)."""
    s = requests.Session()
    s.trust_env = False
    return s


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    """Polls `predicate` until it returns a truthy value; returns that value or fails."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(interval)


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_openmetrics(text: str) -> dict[tuple[str, frozenset], float]:
    """Samples of an OpenMetrics/Prometheus text page: {(name, labels): value}."""
    samples: dict[tuple[str, frozenset], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        label_set = frozenset(_LABEL.findall(labels))
        try:
            samples[(name, label_set)] = float(value)
        except ValueError:
            continue
    return samples


class Ward:
    """A running `ward serve` with its ports, admin key and a few ready-made keys."""

    def __init__(self, binary: str, workdir: Path, admin_key: str | None = None, tls_dir: Path | None = None,
                 extra_env: dict[str, str] | None = None):
        """`admin_key`: the key of an earlier run on the same `workdir` (a restart).
        `tls_dir`: certificates made by `ward dev-cert`; Ward then serves TLS on both ports and
        the helpers trust its `ca.pem`. `extra_env`: further `WARD_*` settings."""
        self.binary = binary
        self.workdir = workdir
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.http = f"http://127.0.0.1:{self.http_port}"
        self.grpc = f"127.0.0.1:{self.grpc_port}"
        self.admin_key = admin_key
        self.restart = admin_key is not None
        self.proc: subprocess.Popen | None = None
        self.stderr_lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None
        self.session = http_session()
        self.ingest_key = ""
        self.read_key = ""
        self.metrics_key = ""
        self.tls_dir = tls_dir
        self.extra_env = dict(extra_env or {})
        if tls_dir is not None:
            self.http = f"https://127.0.0.1:{self.http_port}"
            self.session.verify = str(tls_dir / "ca.pem")

    # ----------------------------------------------------------------- lifecycle

    def stderr_text(self) -> str:
        return "\n".join(self.stderr_lines)

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stderr_lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WARD_")}
        env.update(
            {
                "WARD_DATA_DIR": str(self.workdir / "data"),
                "WARD_SERVER_LISTEN": f"127.0.0.1:{self.http_port}",
                "WARD_SERVER_GRPC_LISTEN": f"127.0.0.1:{self.grpc_port}",
            }
        )
        if self.tls_dir is not None:
            env["WARD_TLS_CERT"] = str(self.tls_dir / "cert.pem")
            env["WARD_TLS_KEY"] = str(self.tls_dir / "key.pem")
        env.update(self.extra_env)
        # The tests poll the query API in tight loops; rate limiting has tests of its own.
        config = self.workdir / "ward.toml"
        if not config.exists():
            config.write_text(
                "[rate_limits.query]\n"
                "per_key = { rate = 10000, burst = 20000 }\n"
                "per_ip = { rate = 10000, burst = 20000 }\n"
            )
        env["WARD_CONFIG"] = str(config)
        stdout = open(self.workdir / "ward.stdout", "wb")
        try:
            self.proc = subprocess.Popen(
                [self.binary, "serve"],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.PIPE,
            )
        finally:
            stdout.close()
        self._reader = threading.Thread(target=self._read_stderr, name="ward-stderr", daemon=True)
        self._reader.start()

        deadline = time.monotonic() + READY_TIMEOUT_S
        ready = False
        while not ready:
            left = deadline - time.monotonic()
            if left <= 0:
                self._abort()
                pytest.fail(f"Ward did not print 'Ward is ready' within {READY_TIMEOUT_S}s; stderr:\n{self.stderr_text()}")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait(timeout=5)
                pytest.fail(f"Ward exited with code {code} before it was ready; stderr:\n{self.stderr_text()}")
            stripped = line.strip()
            if stripped.startswith("ward_"):
                if self.restart:
                    self._abort()
                    pytest.fail(f"Ward printed a new admin key on a restart with existing keys; stderr:\n{self.stderr_text()}")
                if self.admin_key is None:
                    self.admin_key = stripped
            if "Ward is ready" in line:
                ready = True
        key_file = self.workdir / "data" / "admin.key"
        if key_file.exists():
            # Not on a terminal, Ward writes the first admin key to a private file instead of stderr.
            if self.restart:
                pytest.fail("Ward wrote a new admin key on a restart with existing keys")
            assert oct(key_file.stat().st_mode & 0o777) == "0o600", oct(key_file.stat().st_mode)
            self.admin_key = key_file.read_text().strip()
            key_file.unlink()
        assert self.admin_key, f"Ward made no admin key on first start; stderr:\n{self.stderr_text()}"
        ready_line = next(l for l in self.stderr_lines if "Ward is ready" in l)
        try:
            json.loads(ready_line)
        except ValueError:
            pytest.fail(f"the 'Ward is ready' line is not a JSON log line: {ready_line!r}")

    def make_keys(self) -> None:
        """Creates the ingest, read and metrics keys the helpers use."""
        self.ingest_key = self.create_key(["ingest"], name="e2e ingest")["key"]
        self.read_key = self.create_key(["read"], name="e2e read")["key"]
        self.metrics_key = self.create_key(["metrics"], name="e2e metrics")["key"]

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=5)

    def _abort(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> int | None:
        """SIGTERM, then wait; returns the exit code, or None if Ward did not exit in time."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._abort()
            return None
        if self._reader is not None:
            self._reader.join(timeout=5)
        return code

    # ----------------------------------------------------------------- API helpers

    def create_key(self, scopes: list[str], tenant: str = "default", name: str | None = None) -> dict:
        """`POST /api/v1/keys` with the admin key; returns the answer (its `key` is the secret)."""
        body = {"tenant": tenant, "scopes": list(scopes), "name": name or f"e2e {'+'.join(scopes)}"}
        r = self.session.post(
            f"{self.http}/api/v1/keys",
            json=body,
            headers={"Authorization": f"Bearer {self.admin_key}"},
            timeout=10,
        )
        assert r.status_code == 201, f"POST /api/v1/keys {body} -> {r.status_code}: {r.text}"
        answer = r.json()
        assert answer["key"].startswith("ward_"), answer
        assert answer["scopes"] == list(scopes), answer
        assert answer["tenant"] == tenant, answer
        assert answer.get("id"), answer
        return answer

    def get_raw(self, path: str, params: dict | None = None, key: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {key if key is not None else self.read_key}"}
        return self.session.get(f"{self.http}{path}", params=params, headers=headers, timeout=15)

    def get(self, path: str, params: dict | None = None, key: str | None = None) -> Any:
        """GET with the read key (or `key`); asserts 200 and returns the JSON answer."""
        r = self.get_raw(path, params, key)
        assert r.status_code == 200, f"GET {path} {params} -> {r.status_code}: {r.text}"
        assert r.headers.get("content-type", "").startswith("application/json"), r.headers
        return r.json()

    def logs(self, q: str, **params: Any) -> list[dict]:
        """Every log matching `q` (follows `next_cursor`)."""
        out: list[dict] = []
        cursor = None
        base = {"q": q, "limit": 1000, **params}
        for _ in range(100):
            p = dict(base)
            if cursor:
                p["cursor"] = cursor
            page = self.get("/api/v1/logs", p)
            out.extend(page["logs"])
            cursor = page.get("next_cursor")
            if not cursor:
                return out
        pytest.fail("more than 100 pages of logs")

    def service(self, name: str) -> dict | None:
        """The `/api/v1/services` entry of `name`, if any."""
        services = self.get("/api/v1/services")["services"]
        for s in services:
            if s["name"] == name:
                return s
        return None

    def metrics_text(self) -> str:
        r = self.get_raw("/metrics", key=self.metrics_key)
        assert r.status_code == 200, f"GET /metrics -> {r.status_code}: {r.text}"
        return r.text

    def metrics(self) -> dict[tuple[str, frozenset], float]:
        return parse_openmetrics(self.metrics_text())

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample of Ward's own metrics (0 when absent)."""
        return self.metrics().get((name, frozenset(labels.items())), 0.0)

    def ingest_records(self, signal: str, protocol: str) -> float:
        return self.metric("ward_ingest_records_total", tenant="default", signal=signal, protocol=protocol)


def ward_binary() -> str:
    binary = os.environ.get("WARD_BIN", DEFAULT_WARD_BIN)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.fail(f"the ward binary {binary!r} does not exist or is not executable (set WARD_BIN)")
    return binary


@pytest.fixture(scope="session")
def ward(tmp_path_factory: pytest.TempPathFactory):
    w = Ward(ward_binary(), tmp_path_factory.mktemp("ward"))
    w.start()
    try:
        w.make_keys()
    except BaseException:
        w.stop()
        raise
    yield w
    code = w.stop()
    assert code is not None, f"Ward did not exit within {STOP_TIMEOUT_S}s of SIGTERM; stderr:\n{w.stderr_text()[-5000:]}"
    assert code == 0, f"Ward exited with code {code} after SIGTERM; stderr:\n{w.stderr_text()[-5000:]}"


def dev_cert(binary: str, out: Path, *args: str) -> Path:
    """Runs `ward dev-cert --out OUT ARGS…` and returns OUT."""
    done = subprocess.run([binary, "dev-cert", "--out", str(out), *args], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    return out


@pytest.fixture(scope="session")
def ward_tls(tmp_path_factory: pytest.TempPathFactory):
    """A second Ward serving TLS on both ports with certificates from `ward dev-cert`."""
    binary = ward_binary()
    certs = dev_cert(binary, tmp_path_factory.mktemp("certs") / "dev", "--client", "e2e")
    w = Ward(binary, tmp_path_factory.mktemp("ward-tls"), tls_dir=certs)
    w.start()
    try:
        w.make_keys()
    except BaseException:
        w.stop()
        raise
    yield w
    code = w.stop()
    assert code == 0, f"Ward (TLS) exited with code {code} after SIGTERM; stderr:\n{w.stderr_text()[-5000:]}"


@pytest.fixture
def service_name(request: pytest.FixtureRequest) -> str:
    """A service name used by this test only."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return f"e2e-{base}-{uuid.uuid4().hex[:8]}"
