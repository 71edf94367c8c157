"""Measuring: `tutor eval` (answers, RAGAS and our metrics) and `tutor eval-learn` (grading and quiz items)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tutor.cli.common import ProgressBar, build_app, echo_err, ensure_index, start_llm
from tutor.errors import InvalidInput, TutorError


@click.command("eval")
@click.option("--subset", type=click.IntRange(min=1), default=None, help="Only the first N items of the eval set.")
@click.option("--sample", type=click.IntRange(min=1), default=None, metavar="N",
              help="A fixed stratified sample of N items (every kind, evenly spread): the CI gate answers 16.")
@click.option("--kinds", default=None, metavar="K1,K2",
              help="Only these kinds: fact, multi_hop, calc, conceptual, out_of_corpus, follow_up.")
@click.option("--judge-base-url", default=None, metavar="URL",
              help="OpenAI-compatible endpoint of the RAGAS judge (default: the tutor's own LLM; TUTOR_JUDGE_BASE_URL).")
@click.option("--judge-model", default=None, help="The judge's model (default: the first the judge server lists).")
@click.option("--judge-subset", type=click.IntRange(min=0), default=None,
              help="Judge only the first N in-corpus items with the LLM (RAGAS LLM metrics); 0 switches the judge off. "
                   "Default: all.")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Report folder (default <data dir>/eval). A report already there becomes the 'previous run'.")
@click.option("--check", "check_file", is_flag=False, flag_value="default", default=None, metavar="[FILE]",
              help="Fail (exit 3) when a metric is below its minimum in FILE (default evals/thresholds.toml).")
@click.option("--json", "as_json", is_flag=True, help='Print {"n", "metrics": {...}, "report"} as JSON.')
@click.option("--dataset", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="Another eval set in the same format (default evals/dataset.jsonl).")
def eval_command(subset, sample, kinds, judge_base_url, judge_model, judge_subset, out, check_file, as_json, dataset) -> None:
    """Measure how grounded the tutor is: RAGAS metrics plus layer citations, calculations, refusals, retrieval.

    Runs the tutor over evals/dataset.jsonl (progress on stderr), scores every answer and writes
    report.json, report.html (tables and plots) and summary.md. RAGAS's LLM metrics (faithfulness,
    answer relevancy, context precision and recall) are judged by an LLM: the embedded model unless
    --judge-base-url points at a stronger one. A metric that could not be computed is null, with the
    reason in the report. About 20 s per item plus about 1-2 min per judged item on a 2-core laptop.
    """
    from evals import dataset as ds
    from evals import report as rep
    from evals.run import JudgeOptions, run

    kind_list = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
    try:
        items = ds.load(dataset or ds.DATASET, kind_list)
    except ds.DatasetError as e:
        raise InvalidInput(f"{e}.", "Fix the file or the --kinds option.") from None
    items = ds.stratified(items, sample) if sample else items
    items = items[:subset] if subset else items
    if not items:
        raise InvalidInput("No eval items match.", "Check --kinds and --subset.")
    thresholds = None
    if check_file:
        path = rep.THRESHOLDS if check_file == "default" else Path(check_file)
        try:
            thresholds = rep.load_thresholds(path)
        except (OSError, ValueError) as e:
            raise TutorError(f"Cannot read the thresholds file {path} ({e}).", "Fix or restore it.") from None
    with build_app() as app:
        s = app.settings
        key = s.judge_api_key.get_secret_value() if s.judge_api_key else None
        judge = JudgeOptions(base_url=judge_base_url or s.judge_base_url, model=judge_model or s.judge_model,
                             api_key=key, subset=judge_subset, timeout=s.judge_timeout)
        ensure_index(app)
        start_llm(app)
        with ProgressBar() as bar:
            report = run(app, items, judge, progress=bar)
        out_dir = out or s.data_dir / "eval"
        taxonomy = {layer.number: layer.name for layer in app.taxonomy}
        report = rep.write(report, out_dir, taxonomy, thresholds)
    path = str((out_dir / "report.html").resolve())
    if as_json:
        click.echo(json.dumps({"n": report["n"], "metrics": report["metrics"], "report": path}))
    else:
        click.echo((out_dir / "summary.md").read_text(encoding="utf-8"))
        click.echo(f"Report: {path}")
    if report.get("gate") and not report["gate"]["passed"]:
        echo_err("Eval gate failed: " + "; ".join(report["gate"]["problems"]))
        sys.exit(3)



@click.command("eval-learn")
@click.option("--no-generation", is_flag=True, help="Only the grading agreement (skip generating quizzes on every layer).")
@click.option("--per-layer", type=click.IntRange(1, 10), default=2, show_default=True,
              help="Items of each kind (short, mcq) generated per layer.")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Report folder (default <data dir>/eval): learn-report.json and learn-summary.md.")
@click.option("--check", is_flag=True, help="Fail (exit 3) below the [learn] minimums in evals/thresholds.toml.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"grading": {"agreement", ...}, "generation": {"pass_rate", "llm_pass_rate", ...}} as JSON.')
def eval_learn(no_generation: bool, per_layer: int, out: Path | None, check: bool, as_json: bool) -> None:
    """Measure the tutoring features: grading agreement and quiz-item quality.

    Grades the learner answers in evals/grading_set.jsonl (right, partly right, wrong, off-topic, prompt
    injection, each with the expected grade) and reports the agreement; then generates quizzes on all 14
    layers and reports the share of items that pass the mechanical checks. Uses the tutor's LLM.
    """
    from evals import learn

    minimums = learn.learn_minimums() if check else None
    with build_app() as app:
        ensure_index(app)
        start_llm(app)
        with ProgressBar() as bar:
            report = learn.run(app, generation=not no_generation, per_layer=per_layer, minimums=minimums, progress=bar)
        out_dir = out or app.settings.data_dir / "eval"
        learn.write(report, out_dir)
    if as_json:
        click.echo(json.dumps({k: ({kk: vv for kk, vv in v.items() if kk not in ("results", "examples")}
                                   if isinstance(v, dict) else v) for k, v in report.items()}, ensure_ascii=False))
    else:
        click.echo(learn.summary(report))
        click.echo(f"Report: {(out_dir / 'learn-report.json').resolve()}")
    if report.get("gate") and not report["gate"]["passed"]:
        echo_err("Tutoring eval gate failed: " + "; ".join(report["gate"]["problems"]))
        sys.exit(3)

