"""The audit trail as an auditor meets it: entries recorded over the API, exported, and verified
without Ward by `docs/examples/verify_audit.py` (hashes, links, contiguity and Ed25519 checkpoint
signatures, with the `cryptography` package), before and after a GDPR erasure, and refused once
a line of the export is edited."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERIFIER = REPO / "docs" / "examples" / "verify_audit.py"
TENANT = "audit-e2e"


def run_verifier(export: Path, public_key: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(VERIFIER), str(export), public_key],
        capture_output=True,
        text=True,
        timeout=60,
    )


def export_to(ward, key: str, path: Path) -> list[dict]:
    r = ward.session.get(f"{ward.http}/api/v1/audit/export", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    path.write_text(r.text)
    return [json.loads(line) for line in r.text.splitlines()]


def test_an_export_verifies_without_ward_before_and_after_erasure(ward, tmp_path):
    writer = ward.create_key(["audit:write"], tenant=TENANT)["key"]
    reader = ward.create_key(["audit:read"], tenant=TENANT)["key"]
    admin = ward.create_key(["admin"], tenant=TENANT)["key"]
    entries = [
        {
            "agent": f"agent-{i % 3}",
            "on_behalf_of": f"user-{i % 4}",
            "action": "tool.call",
            "resource": f"crm/ticket/{i}",
            "outcome": "success" if i % 5 else "denied",
            "details": {"step": i},
        }
        for i in range(40)
    ]
    seqs = []
    for start in range(0, len(entries), 10):
        r = ward.session.post(
            f"{ward.http}/api/v1/audit",
            json=entries[start : start + 10],
            headers={"Authorization": f"Bearer {writer}"},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        seqs += [e["seq"] for e in r.json()["entries"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 40

    public = ward.session.get(f"{ward.http}/api/v1/audit/public-key", timeout=10).json()
    assert public["algorithm"] == "Ed25519"

    export = tmp_path / "trail.jsonl"
    lines = export_to(ward, reader, export)
    assert sum(1 for l in lines if l["record"] == "entry") >= 40
    assert any(l["record"] == "checkpoint" for l in lines), "the trail was never signed"
    # Personal fields travel sealed.
    assert "user-1" not in export.read_text()
    done = run_verifier(export, public["public_key"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "intact" in done.stdout and "NOT checked" not in done.stdout, done.stdout

    # Erase user-1: their entries become unreadable, the export still verifies.
    r = ward.session.post(
        f"{ward.http}/api/v1/audit/erasures",
        json={"subject": "user:user-1"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    assert r.json()["entries"] == 10
    page = ward.session.get(
        f"{ward.http}/api/v1/audit", params={"user": "user-1"}, headers={"Authorization": f"Bearer {reader}"}, timeout=10
    ).json()
    assert page["entries"] == []
    newest = ward.session.get(
        f"{ward.http}/api/v1/audit", params={"limit": 50}, headers={"Authorization": f"Bearer {reader}"}, timeout=10
    ).json()["entries"]
    assert newest[0]["action"] == "audit.erase" and newest[0]["kind"] == "system"
    assert sum(1 for e in newest if e["erased"]) == 10
    lines = export_to(ward, reader, export)
    done = run_verifier(export, public["public_key"])
    assert done.returncode == 0, done.stdout + done.stderr

    # One edited line (an outcome turned into success) is refused.
    tampered = tmp_path / "tampered.jsonl"
    edited = False
    out = []
    for line in lines:
        if not edited and line["record"] == "entry" and line["outcome"] == "denied":
            line["outcome"] = "success"
            edited = True
        out.append(json.dumps(line))
    assert edited
    tampered.write_text("\n".join(out) + "\n")
    done = run_verifier(tampered, public["public_key"])
    assert done.returncode == 1, done.stdout + done.stderr

    # Ward's verdict agrees with the outside verifier on the untouched trail.
    verdict = ward.session.get(
        f"{ward.http}/api/v1/audit/verify", headers={"Authorization": f"Bearer {reader}"}, timeout=30
    ).json()
    assert verdict["verdict"] == "intact", verdict
    assert verdict["summary"].startswith("intact:"), verdict
