"""The CI eval gate: `tutor eval` on the fixed stratified sample of the eval set named in
evals/thresholds.toml (every kind of question), on embedded defaults (real LLM, RAGAS's LLM metrics judged
by the embedded model on a few items), offline, and every metric at or above its minimum. The whole set
is `make eval`. Slow: a few minutes on 2 cores."""

from __future__ import annotations

import json
import shutil
import tomllib

import pytest

from evals import dataset as ds
from evals import report as rep

from fixtures.tutor import run_tutor

pytestmark = pytest.mark.slow

HEADLINE_KEYS = {"faithfulness", "answer_relevancy", "context_precision", "context_recall", "layer_citation_accuracy",
                 "citation_validity", "calc_accuracy", "refusal_accuracy", "hit_at_5"}


@pytest.mark.timeout(5400)
def test_eval_gate_on_the_stratified_sample(session_index, model_file, tmp_path, netguard_log):
    gate = tomllib.loads(rep.THRESHOLDS.read_text(encoding="utf-8"))
    judge_subset, sample = int(gate["gate"]["judge_subset"]), int(gate["gate"]["sample"])
    items = ds.stratified(ds.load(), sample)
    assert len(items) == sample and {i.kind for i in items} == set(ds.KINDS), "every kind is in the gate's sample"
    minimums = rep.load_thresholds()
    assert {"faithfulness", "hit_at_5", "refusal_accuracy", "layer_citation_accuracy"} <= set(minimums)

    data = tmp_path / "data"
    shutil.copytree(session_index, data)
    out = tmp_path / "report"
    r = run_tutor(["eval", "--sample", str(sample), "--judge-subset", str(judge_subset), "--check", "--json", "--out",
                   str(out)], data,
                  netguard_log, env_extra={"TUTOR_LLM_MODEL_FILE": str(model_file)}, timeout=5000)
    stderr = r.stderr.decode(errors="replace")
    summary = (out / "summary.md").read_text() if (out / "summary.md").exists() else "(no summary)"
    assert r.returncode == 0, f"exit {r.returncode}\n{stderr[-3000:]}\n{summary}"

    printed = json.loads(r.stdout)
    assert set(printed) == {"n", "metrics", "report"} and set(printed["metrics"]) == HEADLINE_KEYS
    assert printed["n"] == sample
    for name, value in printed["metrics"].items():
        assert value is None or 0.0 <= value <= 1.0, (name, value)
    for name in ("faithfulness", "answer_relevancy", "context_precision", "context_recall"):
        assert printed["metrics"][name] is not None, f"{name} was not judged: {summary}"
    assert printed["report"].endswith("report.html") and (out / "report.html").exists()

    report = json.loads((out / "report.json").read_text())
    assert report["gate"]["passed"] and not report["errors"], summary
    judged = [i for i in report["items"] if i["scores"].get("faithfulness") is not None]
    assert 1 <= len(judged) <= judge_subset
    assert report["per_layer"] and report["per_kind"].keys() == set(ds.KINDS)
    assert [i["id"] for i in report["items"]] == [i.id for i in items], "the gate answers exactly its fixed sample"
