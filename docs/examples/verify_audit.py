#!/usr/bin/env python3
"""Verify a Ward audit export (JSON lines) without Ward. See docs/audit.md.
Usage: verify_audit.py EXPORT.jsonl PUBLIC_KEY_HEX   (exit 0 intact, 1 broken, 2 usage)"""
import base64, hashlib, json, struct, sys

OUTCOMES = ["success", "failure", "denied", "error"]
def s(x): b = x.encode(); return struct.pack(">I", len(b)) + b
def field(f):
    if isinstance(f, str): return b"\x01" + s(f)
    z = f["sealed"]; return b"\x02" + s(z["subject"]) + s(z["nonce"]) + s(z["ciphertext"])
def entry_hash(e):
    k, a, t = e["kind"], e["actor"], e.get("trace_id")
    out = b"\x01" + s(e["tenant"]) + struct.pack(">Qq", e["seq"], e["time_unix_nano"])
    out += {"agent": b"\x00", "system": b"\x01"}.get(k["type"]) or (
        b"\x02" + struct.pack(">Q", k["through_seq"]) + bytes.fromhex(k["last_hash"]))
    out += s(a["agent"]) + (b"\x00" if a.get("on_behalf_of") is None else field(a["on_behalf_of"]))
    out += s(e["action"]) + field(e["resource"]) + bytes([OUTCOMES.index(e["outcome"])])
    out += (b"\x00" if t is None else b"\x01" + s(t)) + s(e["details"]) + bytes.fromhex(e["prev_hash"])
    return hashlib.sha256(b"ward-audit/entry/v1\0" + out).hexdigest()
def main(path, pub_hex):
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub_hex))
    except ImportError:
        pub = None; print("note: python 'cryptography' not installed: signatures NOT checked")
    key_id = hashlib.sha256(bytes.fromhex(pub_hex)).hexdigest()[:16]
    last, hashes, signed = None, {}, None
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        r = json.loads(line)
        if r["record"] == "entry":
            seq, h = r["seq"], entry_hash(r)
            if h != r["hash"]: return f"line {n}: seq {seq} changed (hash mismatch)"
            if last is None and seq == 1 and r["prev_hash"] != "0" * 64: return "seq 1 does not link to genesis"
            if last is not None and seq != last[0] + 1: return f"line {n}: seq {seq} follows seq {last[0]}"
            if last is not None and r["prev_hash"] != last[1]: return f"line {n}: seq {seq} does not link to seq {last[0]}"
            last = (seq, h); hashes[seq] = h
        else:
            msg = b"ward-audit/checkpoint/v1\0" + s(r["tenant"]) + struct.pack(">Q", r["seq"]) + \
                bytes.fromhex(r["hash"]) + struct.pack(">q", r["time_unix_nano"])
            if r["key_id"] != key_id: return f"line {n}: checkpoint signed by unknown key {r['key_id']}"
            if pub is not None:
                try: pub.verify(base64.b64decode(r["signature"]), msg)
                except Exception: return f"line {n}: bad checkpoint signature"
            if hashes.get(r["seq"], r["hash"]) != r["hash"]: return f"seq {r['seq']} changed after it was signed"
            signed = r
    if signed and (last is None or signed["seq"] > last[0]): return f"truncated: checkpoint at seq {signed['seq']}"
    if last is None: return "no entries"
    print(f"intact up to seq {last[0]}, hash {last[1]}" +
          (f", signed checkpoint at seq {signed['seq']}" if signed else ", no checkpoint"))
if __name__ == "__main__":
    if len(sys.argv) != 3: print(__doc__); sys.exit(2)
    err = main(sys.argv[1], sys.argv[2])
    if err: print("BROKEN:", err); sys.exit(1)
