#!/usr/bin/env bash
# One command for the redaction benchmark: venv, corpus, peers, Ward (if built with `ward redact`),
# scores.  Usage: bench/redact/run.sh [--lines N] [--seed S] [--tools presidio,detect-secrets,gitleaks]
#                                     [--timeout SECS] [--no-peers]
# Env: WARD_BIN (default <repo>/target/release/ward), PYTHON (default python3).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LINES=20000
SEED=7
TOOLS="presidio,detect-secrets,gitleaks"
TIMEOUT=1800
PEERS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --lines) LINES="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --tools) TOOLS="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --no-peers) PEERS=0; shift ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

VENV="$HERE/.venv"
PY="$VENV/bin/python"
CORPUS_DIR="$HERE/corpus"
OUT="$HERE/out"
WARD_BIN="${WARD_BIN:-$REPO/target/release/ward}"

echo "== load: $(uptime)"
if [ ! -x "$PY" ]; then
  timeout 300 "${PYTHON:-python3}" -m venv "$VENV"
fi
echo "== installing requirements into $VENV"
timeout 900 "$PY" -m pip install -q --disable-pip-version-check -r "$HERE/requirements.txt" -r "$HERE/requirements-peers.txt"

echo "== generating corpus: $LINES lines, seed $SEED"
timeout 900 "$PY" "$HERE/generate.py" --lines "$LINES" --seed "$SEED" --out "$CORPUS_DIR"
mkdir -p "$OUT"
rm -f "$OUT"/*.spans.jsonl "$OUT"/*.meta.json "$OUT/timings.json" "$OUT/gitleaks.report.json"

PREDS=()
if [ "$PEERS" = 1 ]; then
  echo "== peers: $TOOLS (timeout ${TIMEOUT}s each)"
  timeout $((TIMEOUT * 4 + 600)) "$PY" "$HERE/peers.py" --corpus "$CORPUS_DIR/corpus.txt" --out "$OUT" \
    --tools "$TOOLS" --timeout "$TIMEOUT" || echo "!! peers.py failed (exit $?)" >&2
  for t in presidio presidio-inscope detect-secrets gitleaks; do
    if [ -f "$OUT/$t.spans.jsonl" ]; then PREDS+=(--pred "$t=$OUT/$t.spans.jsonl"); fi
  done
fi

WARD_NOTE=""
if [ -x "$WARD_BIN" ] && timeout 30 "$WARD_BIN" redact --help >/dev/null 2>&1; then
  for profile in strict default; do
    echo "== ward redact --profile $profile"
    if timeout $((TIMEOUT + 60)) "$PY" "$HERE/peers.py" --corpus "$CORPUS_DIR/corpus.txt" --out "$OUT" --timeout "$TIMEOUT" \
         --external "ward-$profile" -- "$WARD_BIN" redact --profile "$profile" --format spans; then
      PREDS+=(--pred "ward-$profile=$OUT/ward-$profile.spans.jsonl")
    else
      echo "!! ward redact --profile $profile failed; see $OUT/timings.json" >&2
    fi
  done
else
  WARD_NOTE="Ward skipped: $WARD_BIN is missing or has no \`redact\` subcommand (build it, or set WARD_BIN)."
fi

echo
echo "== scores ($LINES lines, $(stat -c %s "$CORPUS_DIR/corpus.txt") bytes; load: $(uptime | sed 's/.*load average/load average/'))"
if [ ${#PREDS[@]} -gt 0 ]; then
  timeout 900 "$PY" "$HERE/score.py" --labels "$CORPUS_DIR/labels.jsonl" --corpus "$CORPUS_DIR/corpus.txt" \
    --decoys "$CORPUS_DIR/decoys.jsonl" --timings "$OUT/timings.json" --json "$OUT/scores.json" --per-type "${PREDS[@]}"
else
  echo "no predictions to score"
fi
if [ -n "$WARD_NOTE" ]; then echo; echo "$WARD_NOTE"; fi
echo "results: $OUT/scores.json, timings: $OUT/timings.json, corpus stats: $CORPUS_DIR/stats.json"
