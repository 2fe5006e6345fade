#!/usr/bin/env python3
"""Score span predictions against the labelled corpus.

    python score.py --labels corpus/labels.jsonl --corpus corpus/corpus.txt [--decoys corpus/decoys.jsonl] \\
        --pred presidio=out/presidio.spans.jsonl --pred ward-strict=out/ward-strict.spans.jsonl \\
        [--timings out/timings.json] [--json out/scores.json] [--per-type]

Labels and predictions are JSONL, one span per line: {"line": N (0-based), "start": byte, "end": byte
(exclusive), "type": "<type>"}; byte offsets into the UTF-8 line without its newline.  A prediction
may say "kind" instead of "type"; other fields are ignored.

Matching rule (the same for every tool)
--------------------------------------
* A label is FOUND when the predictions overlapping it cover at least 50% of its bytes (their union,
  so two halves count).  Typed variant: only predictions of the label's type count.
* A prediction is a TRUE POSITIVE when some label overlaps it by at least 50% of the shorter of the
  two spans: min(len(pred), len(label)).  So a prediction that swallows its label whole (the full
  `postgres://user:pass@host` URL around a labelled password) counts, a prediction inside a long
  label (part of a PEM block) counts, and one that merely touches a label does not.  Typed variant:
  the label must have the prediction's type.  Type-agnostic variant: overlapping predictions are
  first merged into one span (a tool reporting the same bytes as three entities counts once).
* recall = found labels / labels (micro: frequent types such as ipv4 weigh more); macro-recall = the
  mean of the per-type recalls (every type counts the same); precision = true-positive predictions /
  predictions.
* leaked-character rate = labelled bytes covered by no prediction (any type) / labelled bytes.
* leaked secrets = labels of a secret type (types.json) with a run of >= 8 consecutive uncovered
  bytes (or entirely uncovered, if shorter than 8): what is left would still be usable.
* over-redaction = predicted bytes outside every label / unlabelled bytes of the corpus.
* "touched" = labels overlapped by any prediction at all (a detector that reports only the
  `BEGIN RSA PRIVATE KEY` header touches the key but does not find it).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIN_LABEL_COVER = 0.5
MIN_PRED_OVERLAP = 0.5
LEAK_RUN = 8


def load_spans(path, key=("type", "kind")):
    by_line = collections.defaultdict(list)
    bad = 0
    with open(path, encoding="utf-8") as f:
        for raw in f:
            raw = raw.strip()
            if not raw:
                continue
            r = json.loads(raw)
            t = next((r[k] for k in key if k in r), None)
            s, e = int(r["start"]), int(r["end"])
            if e <= s:
                bad += 1
                continue
            by_line[int(r["line"])].append((s, e, str(t)))
    return by_line, bad


def dedupe(spans):
    return sorted(set(spans))


def merge(intervals):
    out = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def covered(ls, le, preds):
    """Bytes of [ls, le) covered by the union of preds [(s, e), ...]."""
    clip = [(max(s, ls), min(e, le)) for s, e in preds if s < le and e > ls]
    return sum(e - s for s, e in merge(clip))


def longest_gap(ls, le, preds):
    clip = merge([(max(s, ls), min(e, le)) for s, e in preds if s < le and e > ls])
    gaps, pos = [], ls
    for s, e in clip:
        gaps.append(s - pos)
        pos = e
    gaps.append(le - pos)
    return max(gaps)


def overlap(a0, a1, b0, b1):
    return max(0, min(a1, b1) - max(a0, b0))


def ratio(a, b):
    return a / b if b else None


def f1(p, r):
    return 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)


def score(labels, preds, types, line_lengths=None, decoys=None):
    """labels, preds: {line: [(start, end, type)]}; types: {type: {"secret": bool}}."""
    per_type = collections.defaultdict(lambda: collections.Counter())
    pred_types = collections.defaultdict(lambda: collections.Counter())
    fp_decoy = collections.Counter()
    tot = collections.Counter()
    out_of_range = 0
    lines = sorted(set(labels) | set(preds))
    for ln in lines:
        labs = labels.get(ln, [])
        prs = dedupe(preds.get(ln, []))
        if line_lengths is not None:
            n = line_lengths[ln] if ln < len(line_lengths) else -1
            if n < 0 or any(e > n for _, e, _ in prs):
                out_of_range += 1
        any_iv = [(s, e) for s, e, _ in prs]
        # ---- labels: recall, leaks
        for ls, le, lt in labs:
            n = le - ls
            pt = per_type[lt]
            pt["n"] += 1
            pt["bytes"] += n
            cov_any = covered(ls, le, any_iv)
            cov_typed = covered(ls, le, [(s, e) for s, e, t in prs if t == lt])
            pt["found_any"] += cov_any >= MIN_LABEL_COVER * n
            pt["found_typed"] += cov_typed >= MIN_LABEL_COVER * n
            pt["touched"] += cov_any > 0
            pt["leaked_bytes"] += n - cov_any
            if types.get(lt, {}).get("secret"):
                pt["secret"] = 1
                pt["leaked_secret"] += longest_gap(ls, le, any_iv) >= min(LEAK_RUN, n)
        # ---- predictions, typed
        for ps, pe, ptyp in prs:
            pc = pred_types[ptyp]
            pc["n"] += 1
            best_typed = any(lt == ptyp and overlap(ps, pe, ls, le) >= MIN_PRED_OVERLAP * min(pe - ps, le - ls) for ls, le, lt in labs)
            best_any = [lt for ls, le, lt in labs if overlap(ps, pe, ls, le) >= MIN_PRED_OVERLAP * min(pe - ps, le - ls)]
            pc["tp_typed"] += best_typed
            pc["tp_any"] += bool(best_any)
            if not best_any:
                # false positive: what decoy did it hit?
                kinds = [k for ds, de, k in (decoys or {}).get(ln, []) if overlap(ps, pe, ds, de) > 0]
                fp_decoy[kinds[0] if kinds else ("(label edge)" if any(overlap(ps, pe, ls, le) for ls, le, _ in labs) else "(other text)")] += 1
        # ---- predictions, agnostic (merged)
        merged = merge(any_iv)
        tot["pred_any"] += len(merged)
        for ms, me in merged:
            tot["tp_pred_any"] += any(overlap(ms, me, ls, le) >= MIN_PRED_OVERLAP * min(me - ms, le - ls) for ls, le, _ in labs)
            tot["pred_bytes_outside"] += (me - ms) - sum(overlap(ms, me, ls, le) for ls, le, _ in labs)
    n_labels = sum(c["n"] for c in per_type.values())
    label_bytes = sum(c["bytes"] for c in per_type.values())
    n_pred = sum(c["n"] for c in pred_types.values())
    found_any = sum(c["found_any"] for c in per_type.values())
    found_typed = sum(c["found_typed"] for c in per_type.values())
    tp_typed = sum(c["tp_typed"] for c in pred_types.values())
    secret_n = sum(c["n"] for c in per_type.values() if c["secret"])
    res = {
        "labels": n_labels,
        "predictions": n_pred,
        "predictions_merged": tot["pred_any"],
        "agnostic": {"recall": ratio(found_any, n_labels), "precision": ratio(tot["tp_pred_any"], tot["pred_any"]),
                     "found": found_any, "tp_predictions": tot["tp_pred_any"]},
        "typed": {"recall": ratio(found_typed, n_labels), "precision": ratio(tp_typed, n_pred), "found": found_typed, "tp_predictions": tp_typed},
        "touched": ratio(sum(c["touched"] for c in per_type.values()), n_labels),
        "leaked_char_rate": ratio(sum(c["leaked_bytes"] for c in per_type.values()), label_bytes),
        "leaked_secrets": sum(c["leaked_secret"] for c in per_type.values()),
        "secret_labels": secret_n,
        "false_positives_by_pred_type": {t: c["n"] - c["tp_any"] for t, c in sorted(pred_types.items()) if c["n"] - c["tp_any"]},
        "false_positives_by_decoy": dict(fp_decoy.most_common()),
        "per_label_type": {t: {"n": c["n"], "recall_any": ratio(c["found_any"], c["n"]), "recall_typed": ratio(c["found_typed"], c["n"]),
                               "touched": ratio(c["touched"], c["n"]), "leaked_char_rate": ratio(c["leaked_bytes"], c["bytes"]),
                               **({"leaked_secrets": c["leaked_secret"]} if c["secret"] else {})}
                           for t, c in sorted(per_type.items())},
        "per_pred_type": {t: {"n": c["n"], "precision_any": ratio(c["tp_any"], c["n"]), "precision_typed": ratio(c["tp_typed"], c["n"])}
                          for t, c in sorted(pred_types.items())},
        "spans_out_of_range_lines": out_of_range,
    }
    recalls = [v["recall_any"] for v in res["per_label_type"].values()]
    res["agnostic"]["macro_recall"] = sum(recalls) / len(recalls) if recalls else None
    typed_recalls = [v["recall_typed"] for v in res["per_label_type"].values()]
    res["typed"]["macro_recall"] = sum(typed_recalls) / len(typed_recalls) if typed_recalls else None
    res["agnostic"]["f1"] = f1(res["agnostic"]["precision"], res["agnostic"]["recall"])
    res["typed"]["f1"] = f1(res["typed"]["precision"], res["typed"]["recall"])
    if line_lengths is not None:
        unlabelled = sum(line_lengths) - label_bytes
        res["over_redaction"] = ratio(tot["pred_bytes_outside"], unlabelled)
    return res


def pct(x, digits=1):
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def summary_table(results, timings):
    hdr = ["tool", "MB/s", "recall", "macro-rec", "precision", "F1", "recall(typed)", "prec(typed)", "leaked chars", "leaked secrets",
           "over-redact"]
    rows = []
    for name, r in results.items():
        t = timings.get(name, {})
        mbps = t.get("mb_per_s")
        rows.append([name, "-" if mbps is None else f"{mbps:.2f}", pct(r["agnostic"]["recall"]), pct(r["agnostic"]["macro_recall"]),
                     pct(r["agnostic"]["precision"]),
                     pct(r["agnostic"]["f1"]), pct(r["typed"]["recall"]), pct(r["typed"]["precision"]), pct(r["leaked_char_rate"]),
                     f"{r['leaked_secrets']}/{r['secret_labels']}", pct(r.get("over_redaction"), 2)])
    return fmt_table(hdr, rows)


def per_type_table(results, types):
    names = list(results)
    all_types = sorted({t for r in results.values() for t in r["per_label_type"]}, key=lambda t: (types.get(t, {}).get("secret", False), t))
    hdr = ["label type", "n"] + [f"{n} recall" for n in names]
    rows = []
    for t in all_types:
        n = next(r["per_label_type"][t]["n"] for r in results.values() if t in r["per_label_type"])
        row = [t + (" *" if types.get(t, {}).get("secret") else ""), str(n)]
        for name in names:
            pt = results[name]["per_label_type"].get(t)
            row.append("-" if not pt else f"{pct(pt['recall_any'], 0)} ({pct(pt['recall_typed'], 0)})")
        rows.append(row)
    return fmt_table(hdr, rows) + "\n(* secret type; cell = type-agnostic recall (typed recall))"


def fmt_table(hdr, rows):
    w = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
    line = lambda r: "  ".join(str(x).ljust(w[i]) if i == 0 else str(x).rjust(w[i]) for i, x in enumerate(r))  # noqa: E731
    return "\n".join([line(hdr), line(["-" * n for n in w])] + [line(r) for r in rows])


def line_lengths_of(corpus):
    data = Path(corpus).read_bytes()
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return [len(p) for p in parts]


def run(labels_path, corpus, preds: dict, types_path=HERE / "types.json", decoys_path=None, timings=None):
    types = json.loads(Path(types_path).read_text())
    labels, _ = load_spans(labels_path)
    decoys = load_spans(decoys_path, key=("kind",))[0] if decoys_path and Path(decoys_path).exists() else None
    lens = line_lengths_of(corpus) if corpus else None
    results = {}
    for name, path in preds.items():
        p, bad = load_spans(path)
        r = score(labels, p, types, lens, decoys)
        r["invalid_spans_skipped"] = bad
        if timings and name in timings:
            r["timing"] = timings[name]
        results[name] = r
    return results, types


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--corpus", help="corpus.txt (for line lengths: over-redaction and span sanity checks)")
    ap.add_argument("--decoys", help="decoys.jsonl (false positives are attributed to the decoy they hit)")
    ap.add_argument("--types", default=str(HERE / "types.json"))
    ap.add_argument("--pred", action="append", default=[], metavar="NAME=PATH", required=True)
    ap.add_argument("--timings", help="JSON {name: {seconds, bytes, mb_per_s, ...}}")
    ap.add_argument("--json", help="write all results here")
    ap.add_argument("--per-type", action="store_true", help="print the per-type recall table")
    ap.add_argument("--fp", action="store_true", help="print false positives by decoy kind and predicted type")
    a = ap.parse_args(argv)
    preds = dict(p.split("=", 1) for p in a.pred)
    timings = json.loads(Path(a.timings).read_text()) if a.timings and Path(a.timings).exists() else {}
    results, types = run(a.labels, a.corpus, preds, a.types, a.decoys, timings)
    print(summary_table(results, timings))
    if a.per_type:
        print()
        print(per_type_table(results, types))
    if a.fp:
        for name, r in results.items():
            print(f"\n{name}: false positives by decoy hit: {r['false_positives_by_decoy']}")
            print(f"{name}: false positives by predicted type: {r['false_positives_by_pred_type']}")
    for name, r in results.items():
        if r["spans_out_of_range_lines"] or r["invalid_spans_skipped"]:
            print(f"warning: {name}: {r['spans_out_of_range_lines']} lines with spans past the line end, "
                  f"{r['invalid_spans_skipped']} empty spans skipped (are offsets 0-based UTF-8 bytes?)", file=sys.stderr)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
