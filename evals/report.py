"""The eval report: DIR/report.json, DIR/report.html (tables and plots, self-contained: no scripts, no
network) and DIR/summary.md; plus the threshold gate (evals/thresholds.toml)."""

from __future__ import annotations

import datetime as dt
import html
import json
import tomllib
from pathlib import Path

from evals.run import HEADLINE

THRESHOLDS = Path(__file__).resolve().parent / "thresholds.toml"
LABELS = {
    "faithfulness": "Faithfulness (RAGAS)", "answer_relevancy": "Answer relevancy (RAGAS)",
    "context_precision": "Context precision (RAGAS)", "context_recall": "Context recall (RAGAS)",
    "layer_citation_accuracy": "Layer-citation accuracy", "citation_validity": "Citation validity",
    "calc_accuracy": "Calculation accuracy", "refusal_accuracy": "Refusal accuracy", "hit_at_5": "Retrieval hit@5",
    "nonllm_context_precision": "Context precision (RAGAS, string)", "nonllm_context_recall": "Context recall (RAGAS, string)",
    "id_context_precision": "Context precision (RAGAS, chunk ids)", "id_context_recall": "Context recall (RAGAS, chunk ids)",
}
LAYER_COLUMNS = ("hit_at_5", "layer_citation_accuracy", "refusal_accuracy", "calc_accuracy", "faithfulness",
                 "context_recall", "id_context_recall")


def load_thresholds(path: Path = THRESHOLDS) -> dict[str, float]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {k: float(v) for k, v in data.get("minimum", {}).items()}


def check(report: dict, thresholds: dict[str, float]) -> list[str]:
    """Each metric below its minimum (or not computed at all), as a sentence; empty when the gate passes."""
    values = {**report["metrics"], **report.get("ragas_non_llm", {})}
    problems = []
    for name, minimum in thresholds.items():
        v = values.get(name)
        if v is None:
            why = report.get("not_computed", {}).get(name, "unknown metric")
            problems.append(f"{name}: not computed ({why}); the gate needs ≥ {minimum:.2f}")
        elif v < minimum:
            problems.append(f"{name}: {v:.3f} < {minimum:.2f}")
    return problems


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.2f}"


def _color(v) -> str:
    if v is None:
        return "#f1f5f9"
    hue = int(120 * max(0.0, min(1.0, v)))  # red 0 → green 120
    return f"hsl({hue}, 70%, 82%)"


def _delta(v, p) -> str:
    if v is None or p is None:
        return ""
    d = v - p
    if abs(d) < 0.005:
        return '<span class="same">±0</span>'
    return f'<span class="{"up" if d > 0 else "down"}">{"▲" if d > 0 else "▼"} {abs(d):.2f}</span>'


def _bars(report: dict, previous: dict | None) -> str:
    prev = (previous or {}).get("metrics", {})
    rows = []
    for name in HEADLINE:
        v = report["metrics"].get(name)
        width = 0 if v is None else round(v * 100)
        why = report["not_computed"].get(name, "")
        count = report.get("scored_items", {}).get(name)
        n_html = f' <span class="na">n={count}</span>' if count is not None else ""
        label = f'{_fmt(v)}{n_html} {_delta(v, prev.get(name))}' if v is not None else f'<span class="na">not computed: {html.escape(why)}</span>'
        marker = ""
        if previous and prev.get(name) is not None:
            marker = f'<div class="prev" style="left:{round(prev[name] * 100)}%" title="previous run"></div>'
        rows.append(f'<div class="bar-row"><div class="bar-name">{html.escape(LABELS[name])}</div>'
                    f'<div class="bar-track"><div class="bar" style="width:{width}%;background:{_color(v)}"></div>{marker}</div>'
                    f'<div class="bar-val">{label}</div></div>')
    return "".join(rows)


def _heatmap(report: dict, taxonomy: dict[int, str]) -> str:
    head = "".join(f"<th>{html.escape(LABELS[c])}</th>" for c in LAYER_COLUMNS)
    body = []
    for layer in sorted(report["per_layer"], key=int, reverse=True):
        row = report["per_layer"][layer]
        cells = "".join(f'<td style="background:{_color(row.get(c))}">{_fmt(row.get(c))}</td>' for c in LAYER_COLUMNS)
        name = html.escape(taxonomy.get(int(layer), ""))
        body.append(f"<tr><th>L{layer} · {name} <small>({row['n']})</small></th>{cells}</tr>")
    return f'<table class="heat"><tr><th>layer (items)</th>{head}</tr>{"".join(body)}</table>'


def _kinds(report: dict) -> str:
    cols = ("hit_at_5", "layer_citation_accuracy", "refusal_accuracy", "calc_accuracy", "faithfulness", "answer_relevancy")
    head = "".join(f"<th>{html.escape(LABELS[c])}</th>" for c in cols)
    body = "".join(
        f"<tr><th>{html.escape(k)} <small>({v['n']})</small></th>"
        + "".join(f'<td style="background:{_color(v.get(c))}">{_fmt(v.get(c))}</td>' for c in cols) + "</tr>"
        for k, v in report["per_kind"].items())
    return f'<table class="heat"><tr><th>kind (items)</th>{head}</tr>{body}</table>'


def _items(report: dict) -> str:
    out = []
    for it in report["items"]:
        scores = ", ".join(f"{k} {v:.2f}" for k, v in it["scores"].items() if v is not None)
        fails = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in it["failures"].items())
        status = "error" if it["error"] else "refused" if it["refused"] else "answered"
        out.append(
            f'<details><summary><code>{it["id"]}</code> <span class="kind">{it["kind"]}</span> {html.escape(it["question"])}'
            f' <span class="st {status}">{status}</span></summary>'
            f'<p><b>Gold layers</b> {it["gold_layers"]} · <b>cited</b> {it["cited_layers"]} · {it["seconds"]} s</p>'
            f'<pre>{html.escape(it["error"] or it["answer"])}</pre><p class="scores">{html.escape(scores)}</p>'
            + (f"<ul class='fails'>{fails}</ul>" if fails else "") + "</details>")
    return "".join(out)


CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#1e293b}
h1{margin-bottom:0}.meta{color:#64748b;font-size:.9rem}h2{margin-top:32px;border-bottom:1px solid #e2e8f0}
.bar-row{display:grid;grid-template-columns:260px 1fr 300px;gap:10px;align-items:center;margin:6px 0}
.bar-track{position:relative;height:18px;background:#f1f5f9;border-radius:4px}.bar{height:100%;border-radius:4px}
.prev{position:absolute;top:-3px;bottom:-3px;width:2px;background:#334155}
.up{color:#15803d}.down{color:#b91c1c}.same{color:#64748b}.na{color:#94a3b8;font-size:.85rem}
table.heat{border-collapse:collapse;font-size:.85rem}.heat th,.heat td{border:1px solid #fff;padding:4px 8px;text-align:center}
.heat th{background:#f8fafc;text-align:left}details{border-bottom:1px solid #f1f5f9;padding:4px 0}
pre{white-space:pre-wrap;background:#f8fafc;padding:8px;border-radius:6px}.kind{font-size:.75rem;background:#e0e7ff;border-radius:4px;padding:0 6px}
.st{font-size:.75rem;border-radius:4px;padding:0 6px}.st.error{background:#fee2e2}.st.refused{background:#fef3c7}.st.answered{background:#dcfce7}
.fails{color:#b45309;font-size:.85rem}.gate-ok{color:#15803d}.gate-fail{color:#b91c1c}
"""


def write(report: dict, out: Path, taxonomy: dict[int, str], thresholds: dict[str, float] | None = None) -> dict:
    """Write the three files into `out`; the run already there (if any) becomes `previous` for comparison."""
    out.mkdir(parents=True, exist_ok=True)
    previous = None
    old = out / "report.json"
    if old.exists():
        try:
            data = json.loads(old.read_text(encoding="utf-8"))
            previous = {"date": data.get("date"), "n": data.get("n"), "metrics": data.get("metrics", {})}
        except (ValueError, OSError):
            previous = None
    report = {**report, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "previous": previous}
    problems = check(report, thresholds) if thresholds else None
    report["gate"] = None if problems is None else {"passed": not problems, "problems": problems}
    tmp = out / "report.json.tmp"
    tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(old)
    (out / "summary.md").write_text(summary_md(report, thresholds or {}), encoding="utf-8")
    (out / "report.html").write_text(report_html(report, taxonomy), encoding="utf-8")
    return report


def summary_md(report: dict, thresholds: dict[str, float]) -> str:
    prev = (report.get("previous") or {}).get("metrics", {})
    t = report["timing"]
    lines = [f"# Eval summary ({report['date']})", "",
             f"{report['n']} items · LLM: {report['llm']} · judge: {report.get('judge') or 'none'} · "
             f"{t['total_s']:.0f} s in all ({t['answering_s']:.0f} s answering, {t['scoring_s']:.0f} s scoring); "
             f"median answer {t['median_answer_s']} s", "",
             "| metric | score | items scored | previous | minimum |", "|---|---|---|---|---|"]
    counts = report.get("scored_items", {})
    for name in HEADLINE:
        v = report["metrics"].get(name)
        shown = _fmt(v) if v is not None else f"not computed ({report['not_computed'].get(name, '')})"
        lines.append(f"| {LABELS[name]} | {shown} | {counts.get(name, '')} | {_fmt(prev.get(name))} | "
                     f"{_fmt(thresholds.get(name)) if name in thresholds else ''} |")
    for name, v in report.get("ragas_non_llm", {}).items():
        lines.append(f"| {LABELS[name]} | {_fmt(v)} | {counts.get(name, '')} | | "
                     f"{_fmt(thresholds.get(name)) if name in thresholds else ''} |")
    if report.get("gate"):
        g = report["gate"]
        lines += ["", "Gate: **passed**" if g["passed"] else "Gate: **FAILED**", *[f"- {p}" for p in g["problems"]]]
    if report["errors"]:
        lines += ["", f"{len(report['errors'])} item(s) failed:", *[f"- {e['id']}: {e['error']}" for e in report["errors"]]]
    return "\n".join(lines) + "\n"


def report_html(report: dict, taxonomy: dict[int, str]) -> str:
    t = report["timing"]
    prev = report.get("previous")
    gate = report.get("gate")
    gate_html = ""
    if gate:
        gate_html = ('<p class="gate-ok">Gate passed.</p>' if gate["passed"] else
                     '<p class="gate-fail">Gate failed: ' + "; ".join(html.escape(p) for p in gate["problems"]) + "</p>")
    comparison = (f"<p class='meta'>Bars compare with the previous run ({html.escape(str(prev.get('date')))}, "
                  f"{prev.get('n')} items): the dark line marks its score.</p>") if prev else \
        "<p class='meta'>No previous run in this folder to compare with.</p>"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>stack-tutor eval</title>
<style>{CSS}</style></head><body>
<h1>stack-tutor eval</h1>
<p class="meta">{html.escape(report['date'])} · {report['n']} items · LLM {html.escape(report['llm'])} ·
judge {html.escape(report.get('judge') or 'none')} · {t['total_s']:.0f} s ({t['answering_s']:.0f} s answering,
{t['scoring_s']:.0f} s scoring) · median answer {t['median_answer_s']} s · {len(report['errors'])} errors</p>
{gate_html}
<h2>Metrics</h2>{comparison}{_bars(report, prev)}
<h2>Per layer</h2>{_heatmap(report, taxonomy)}
<h2>Per kind of question</h2>{_kinds(report)}
<h2>Items</h2>{_items(report)}
</body></html>"""
