"""The `tutor` command. Turns every TutorError into a one-line message and a non-zero exit code."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import click

from tutor.errors import InvalidInput, TutorError

MAX_BATCH_BYTES = 50 * 1024 * 1024


def _settings():
    from pydantic import ValidationError

    from tutor.settings import Settings

    try:
        return Settings()
    except ValidationError as e:
        problems = "; ".join(f"TUTOR_{'_'.join(map(str, err['loc'])).upper()}: {err['msg']}" for err in e.errors())
        raise TutorError(f"Invalid configuration ({problems}).", "Fix the environment variable or .env entry.") from None


def _app():
    from tutor.app import TutorApp

    return TutorApp(_settings())


class _ProgressBar:
    """A rich progress bar on stderr, so stdout stays clean for --json."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=Console(stderr=True), transient=False)
        self._tasks: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(stage, total=max(total, 1))
        self._progress.update(self._tasks[stage], completed=done if total else 1, total=max(total, 1))

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc):
        self._progress.stop()


def _echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def _ensure_index(app) -> None:
    if app.index_is_current():
        return
    _echo_err("The corpus is not indexed yet (or changed): indexing it first. This happens once.")
    with _ProgressBar() as bar:
        report = app.ingest(progress=bar)
    _echo_err(f"Indexed {report.chunks} chunks in {report.seconds:.1f} s.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="stack-tutor")
@click.option("--debug", is_flag=True, help="Show full tracebacks for unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """stack-tutor: learn the 14 layers of the AI technology stack from a fixed set of documents.

    Everything runs offline: an embedded Qdrant index under .tutor/, an embedding model and an LLM
    shipped in PyPI packages (the LLM served by llama.cpp on 127.0.0.1). Set OPENAI_BASE_URL and
    OPENAI_API_KEY to use any OpenAI-compatible server instead. Configure with TUTOR_* environment
    variables or a .env file (see README).

    \b
    Start here:
      tutor chat                        talk with the tutor in the terminal
      tutor ask "What is CoWoS?"        one answer with layer citations (--json for tools)
      tutor search "What is CoWoS?"     find the passages that answer a question
      tutor layers                      the 14 layers and how many passages each has
      tutor ingest                      index corpus/ (automatic on first use)
    """
    ctx.ensure_object(dict)["debug"] = debug


@cli.command()
@click.option("--rebuild", is_flag=True, help="Drop the index and build it again from scratch.")
@click.option("--json", "as_json", is_flag=True, help="Print the ingest report as JSON.")
def ingest(rebuild: bool, as_json: bool) -> None:
    """Chunk, label, embed and index the documents in corpus/.

    Idempotent: re-running on an unchanged corpus does nothing; a changed document is re-indexed.
    """
    with _app() as app:
        with _ProgressBar() as bar:
            r = app.ingest(rebuild=rebuild, progress=bar)
    if as_json:
        click.echo(json.dumps({"chunks": r.chunks, "added": r.added, "removed": r.removed, "unchanged": r.unchanged,
                               "seconds": round(r.seconds, 3), "per_doc": r.per_doc}))
    elif r.unchanged:
        click.echo(f"Index is up to date: {r.chunks} chunks ({r.seconds:.2f} s). Use --rebuild to start clean.")
    else:
        click.echo(f"Indexed {r.chunks} chunks ({r.added} embedded, {r.removed} removed) in {r.seconds:.1f} s "
                   f"at {app.settings.qdrant_location}.")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help='JSON list of {"layer", "name", "summary", "chunks"}.')
def layers(as_json: bool) -> None:
    """The 14 layers of the AI stack, bottom to top, with how many indexed passages each has."""
    with _app() as app:
        _ensure_index(app)
        rows = app.layer_overview()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"L{r['layer']:<2} {r['name']:<30} {r['chunks']:>4} passages  {r['summary']}")


def _search_json(question: str, hits) -> str:
    return json.dumps({"question": question, "results": [h.to_json() for h in hits]}, ensure_ascii=False)


def _read_batch(path: Path) -> list[tuple[int, str | None, str | None]]:
    """(line number, question or None, error or None) for each non-blank line of a batch file."""
    try:
        size = path.stat().st_size
        if size > MAX_BATCH_BYTES:
            raise InvalidInput(f"{path} is {size:,} bytes; the limit is {MAX_BATCH_BYTES:,}.", "Split it into smaller files.")
        raw = path.read_bytes()
    except OSError as e:
        raise InvalidInput(f"Cannot read {path} ({e.strerror}).", "Check the path and its permissions.") from None
    out = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((n, line.decode("utf-8"), None))
        except UnicodeDecodeError:
            out.append((n, None, f"line {n} is not valid UTF-8; re-save the file as UTF-8."))
    return out


@cli.command()
@click.argument("question", required=False)
@click.option("-k", "k", type=int, default=None, help="How many passages to return (1-50; default 5).")
@click.option("--layer", type=int, default=None, help="Only search passages of this layer (1-14).")
@click.option("--json", "as_json", is_flag=True, help='Print {"question", "results": [...]} as JSON.')
@click.option("--batch", "batch", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Answer every line of FILE (one question per line), printing JSON Lines.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "sparse"]), default="hybrid", show_default=True,
              help="Retrieval: dense+BM25 fused with RRF, or one of them alone.")
@click.option("-i", "--interactive", is_flag=True, help="Ask one question after another (models load once).")
def search(question: str | None, k: int | None, layer: int | None, as_json: bool, batch: Path | None, mode: str,
           interactive: bool) -> None:
    """Find the passages of the corpus that best answer QUESTION.

    \b
    Examples:
      tutor search "Why is power the bottleneck for AI data centers?"
      tutor search "What does NVLink do?" --layer 4 -k 3 --json
      tutor search --batch questions.txt --json
      tutor search --interactive
    """
    from tutor import validate

    if interactive:
        return _interactive(k, layer, mode)
    if (question is None) == (batch is None):
        raise InvalidInput("Give either a QUESTION or --batch FILE.", 'Example: tutor search "What is HBM?"')
    with _app() as app:
        # Check the flags before any slow work, so a typo fails at once.
        validate.top_k(app.settings.top_k if k is None else k)
        validate.layer(layer)
        if question is not None:
            validate.question(question, app.settings.max_question_chars)
        lines = _read_batch(batch) if batch else None
        _ensure_index(app)
        if lines is None:
            hits = app.search(question, k=k, layer=layer, mode=mode)
            if as_json:
                click.echo(_search_json(question, hits))
            else:
                _print_hits(question, hits)
            return
        failed = 0
        for n, q, err in lines:
            if err is None:
                try:
                    click.echo(_search_json(q, app.search(q, k=k, layer=layer, mode=mode)))
                    continue
                except InvalidInput as e:
                    err = f"line {n}: {e}"
            failed += 1
            click.echo(json.dumps({"question": q, "line": n, "error": err, "results": []}, ensure_ascii=False))
        if failed:
            _echo_err(f"{failed} of {len(lines)} lines could not be searched (see their \"error\" fields).")
            sys.exit(1)


def _interactive(k: int | None, layer: int | None, mode: str) -> None:
    with _app() as app:
        _ensure_index(app)
        _echo_err("Loading the embedding model…")
        _ = app.embedder
        click.echo("Ask about any layer of the AI stack, from raw materials to applications. "
                   "Empty line or Ctrl-D to quit.\n")
        while True:
            try:
                q = input("question> ")
            except EOFError:
                click.echo()
                return
            if not q.strip():
                return
            try:
                _print_hits(q, app.search(q, k=k, layer=layer, mode=mode))
            except InvalidInput as e:
                _echo_err(f"Error: {e}")


def _print_hits(question: str, hits) -> None:
    click.echo(f"Top {len(hits)} passages for: {question}\n")
    for rank, h in enumerate(hits, 1):
        c = h.chunk
        click.secho(f"{rank}. [L{c.layer} · {c.layer_name}]  {c.doc}  chunk {c.chunk_id}  score {h.score:.3f}", bold=True)
        text = " ".join(c.text.split())
        click.echo(textwrap.indent(textwrap.fill(text[:600] + ("…" if len(text) > 600 else ""), 96), "   "))
        click.echo()


# -- the tutor: ask and chat -------------------------------------------------------------------------------
def _start_llm(app) -> None:
    """Get the LLM ready with visible progress: assembling the packaged model (first run) and starting it."""
    if not app.embedded_llm:
        return
    from tutor.local_llm import QWEN_CODER_1_5B

    model_dir = app.settings.data_dir / "models"
    if app.settings.llm_model_file is None and not (model_dir / f"{QWEN_CODER_1_5B.name}.verified").exists():
        _echo_err("Assembling the embedded LLM from its packages (once, ~1.1 GB)…")
        with _ProgressBar() as bar:
            app.local_server(lambda done, total: bar("model", done >> 20, total >> 20))
    _echo_err("Starting the embedded LLM on 127.0.0.1…")
    seconds = app.start_llm()
    if seconds is not None:
        _echo_err(f"LLM ready in {seconds:.1f} s.")


def _print_sources(reply) -> None:
    if not reply.citations:
        return
    click.secho("\nSources:", bold=True)
    for c in reply.citations:
        quote = " ".join(c.quote.split())
        click.echo(f"  [{c.label}] {c.doc} · chunk {c.chunk_id}")
        click.echo(textwrap.indent(textwrap.fill(f"“{quote}”", 92), "      "))


class _Printer:
    """Streams an answer to the terminal: text to stdout, progress to stderr (when it is a terminal)."""

    def __init__(self, show_status: bool):
        self.show_status = show_status
        self.started = False

    def __call__(self, kind: str, payload) -> None:
        if kind == "token":
            click.echo(payload, nl=False)
            self.started = True
        elif kind == "status" and self.show_status and not self.started:
            click.secho(f"  {payload}", err=True, dim=True)
        elif kind == "tool" and self.show_status and payload.name != "search_corpus":
            click.secho(f"\n  [{payload.name}({json.dumps(payload.arguments, ensure_ascii=False)}) → {payload.result[:80]}]",
                        err=True, dim=True)


def _read_ask_batch(path: Path) -> list[tuple[int, dict | None, str | None]]:
    rows = []
    for n, line, err in _read_batch(path):
        if err:
            rows.append((n, None, err))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            rows.append((n, None, f"line {n} is not JSON ({e.msg}); each line must be "
                                  '{"question": "...", "history": [...]}'))
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
            rows.append((n, None, f'line {n} needs a "question" string, e.g. {{"question": "What is HBM?"}}'))
            continue
        rows.append((n, obj, None))
    return rows


@cli.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True,
              help='Print {"question", "answer", "citations", "tool_calls", "refused", "timings", ...} as JSON.')
@click.option("--batch", "batch", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help='Answer each line of a JSONL FILE ({"question": ..., "history": [...]}), one JSON object per line.')
@click.option("--socratic", is_flag=True,
              help='Socratic mode: guiding questions and a cited hint instead of the answer (send your try, or '
                   '"show me", with the history to get it).')
def ask(question: str | None, as_json: bool, batch: Path | None, socratic: bool) -> None:
    """Answer QUESTION from the documents, citing the layer of the stack each fact comes from.

    Uses the embedded LLM (started on 127.0.0.1, stopped on exit) unless OPENAI_BASE_URL points at an
    OpenAI-compatible server.

    \b
    Examples:
      tutor ask "Why is HBM a bottleneck for AI chips?"
      tutor ask "How many GPUs are in 8 NVL72 racks?" --json
      tutor ask --batch questions.jsonl --json > answers.jsonl
    """
    from tutor import validate

    if (question is None) == (batch is None):
        raise InvalidInput("Give either a QUESTION or --batch FILE.", 'Example: tutor ask "What is HBM?"')
    with _app() as app:
        if question is not None:
            validate.question(question, app.settings.max_question_chars)
        rows = _read_ask_batch(batch) if batch else None
        _ensure_index(app)
        _start_llm(app)
        tutor = app.tutor
        if rows is None:
            if as_json:
                click.echo(json.dumps(tutor.ask(question, socratic=socratic).to_json(), ensure_ascii=False))
                return
            reply = tutor.ask(question, on_event=_Printer(sys.stderr.isatty()), socratic=socratic)
            click.echo()
            _print_sources(reply)
            return
        failed = 0
        for n, obj, err in rows:
            if err is None:
                try:
                    reply = tutor.ask(obj["question"], obj.get("history"), socratic=socratic)
                    click.echo(json.dumps(reply.to_json(), ensure_ascii=False))
                    continue
                except TutorError as e:
                    err = f"line {n}: {e}"
            failed += 1
            click.echo(json.dumps({"question": (obj or {}).get("question"), "line": n, "error": err}, ensure_ascii=False))
        if failed:
            _echo_err(f"{failed} of {len(rows)} lines could not be answered (see their \"error\" fields).")
            sys.exit(1)


@cli.command()
@click.option("--host", default=None, metavar="HOST",
              help="Interface to bind (default 127.0.0.1, this machine only; 0.0.0.0 lets other machines in).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 7860).")
@click.option("--share", type=click.Choice(["off", "on"]), default="off", show_default=True,
              help="A public gradio.live link. Needs the internet, so it stays off on offline machines.")
def ui(host: str | None, port: int | None, share: str) -> None:
    """Open the tutor in the browser: chat with cited answers, the sources behind them, and the stack map.

    Indexes the corpus and starts the embedded LLM first if needed, then serves http://127.0.0.1:7860
    until Ctrl-C. TUTOR_UI_HOST and TUTOR_UI_PORT set the defaults.
    """
    with _app() as app:
        s = app.settings
        host, port = host or s.ui_host, port or s.ui_port
        _check_port_free(host, port)
        _ensure_index(app)
        _start_llm(app)
        _echo_err("Loading the browser UI…")
        from ui.app import launch

        demo = launch(app, host=host, port=port, share=share == "on", block=False)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        click.secho(f"Stack Tutor is ready: http://{shown}:{port}", bold=True)
        if host in ("0.0.0.0", "::"):
            _echo_err("Listening on every interface: other machines on the network can use this tutor.")
        _echo_err("Press Ctrl-C to stop.")
        try:
            demo.block_thread()
        finally:
            demo.close()


def _check_port_free(host: str, port: int) -> None:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server will
        try:
            sock.bind((host, port))
        except OSError as e:
            other = port + 1 if port < 65535 else 7860
            raise TutorError(f"Cannot serve on {host}:{port} ({e.strerror or e}).",
                             f"Another program (maybe another `tutor ui`) uses that port: stop it, or pass --port {other}.") from None


@cli.command("eval")
@click.option("--subset", type=click.IntRange(min=1), default=None, help="Only the first N items of the eval set.")
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
def eval_command(subset, kinds, judge_base_url, judge_model, judge_subset, out, check_file, as_json, dataset) -> None:
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
    with _app() as app:
        s = app.settings
        key = s.judge_api_key.get_secret_value() if s.judge_api_key else None
        judge = JudgeOptions(base_url=judge_base_url or s.judge_base_url, model=judge_model or s.judge_model,
                             api_key=key, subset=judge_subset, timeout=s.judge_timeout)
        _ensure_index(app)
        _start_llm(app)
        with _ProgressBar() as bar:
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
        _echo_err("Eval gate failed: " + "; ".join(report["gate"]["problems"]))
        sys.exit(3)


CHAT_HELP = ("Commands: /reset starts over, /sources shows the last answer's sources, /socratic switches hints-first "
             "mode, /quit (or Ctrl-D) leaves.")
SOCRATIC_ON = 'Socratic mode on: hints first; answer them, or say "show me" for the answer.'


# -- tutoring: quizzes, grades, progress, the learning path --------------------------------------------------
def _learner_option(f):
    return click.option("--learner", default=None, metavar="NAME",
                        help="Whose progress this counts towards (default: TUTOR_LEARNER, else 'learner').")(f)


def _print_grade(g) -> None:
    mark = {1.0: ("✔ Correct", "green"), 0.5: ("◐ Partly right", "yellow")}.get(g.score, ("✘ Not quite", "red"))
    click.secho(f"{mark[0]} (score {g.score:g})", fg=mark[1], bold=True)
    click.echo(textwrap.fill(g.feedback, 100))


@cli.command()
@click.option("--layer", type=int, default=None, help="Layer to be quizzed on (1-14; default: the recommended next layer).")
@click.option("--n", "n", type=int, default=5, show_default=True, help="Number of questions (1-20).")
@click.option("--kind", type=click.Choice(["mcq", "short"]), default="short", show_default=True,
              help="mcq: multiple choice (graded exactly); short: a short written answer.")
@_learner_option
@click.option("--json", "as_json", is_flag=True,
              help='Print {"items": [{"id", "layer", "question", "kind", "choices", "answer", "chunk_id", "doc", "span"}]}.')
@click.option("--interactive/--no-interactive", default=None,
              help="Ask the questions here and grade each answer (default: on in a terminal, off with --json or a pipe).")
@click.option("--no-llm", is_flag=True, help="Don't let the LLM phrase questions: fill-in-the-blank of the passages (fast).")
@click.option("--seed", type=int, default=None, hidden=True)
def quiz(layer, n, kind, learner, as_json, interactive, no_llm, seed) -> None:
    """Quiz yourself on a layer of the stack: questions made from the documents, each checked against its passage.

    Each question comes with the id `tutor grade` takes, so answers can be graded later (items are kept in the
    data directory). Without --layer, the quiz follows your learning path (`tutor path`).

    \b
    Examples:
      tutor quiz --layer 3 --n 5 --kind mcq
      tutor quiz --json > quiz.json
      tutor grade q-1a2b3c4d5e "TSMC"
    """
    with _app() as app:
        coach = app.coach
        who = coach.learner(learner)  # bad input fails before anything loads
        from tutor import validate

        validate.layer(layer)
        _ensure_index(app)
        if no_llm:
            coach.llm_questions = False
        elif coach.llm_questions:
            _start_llm(app)
        if interactive is None:
            interactive = not as_json and sys.stdin.isatty() and sys.stdout.isatty()
        progress = None if as_json else (lambda item: _echo_err(f"  question ready: {item.question[:70]}…"))
        if not as_json:
            _echo_err("Writing questions from the documents…")
        result = coach.quiz(who, layer, n, kind, on_item=progress, seed=seed)
        if as_json:
            click.echo(json.dumps(result.to_json(), ensure_ascii=False))
            return
        if result.chosen_by_path:
            click.echo(textwrap.fill(f"Your learning path: {result.reason}", 100) + "\n")
        click.secho(f"Quiz: L{result.layer} {result.layer_name} — {len(result.items)} question(s)", bold=True)
        for k, item in enumerate(result.items, start=1):
            click.echo(f"\n{k}. {item.question}   [{item.id}]")
            for j, c in enumerate(item.choices or []):
                click.echo(f"   {'ABCD'[j]}) {c}")
            if not interactive:
                continue
            while True:
                try:
                    answer = input("your answer> ")
                except EOFError:
                    click.echo()
                    return
                try:
                    _print_grade(coach.grade(item.id, answer, who))
                    break
                except TutorError as e:
                    _echo_err(f"Error: {e}")
        if not interactive:
            click.echo(f'\nAnswer with: tutor grade ITEM_ID "your answer"{"" if who == app.settings.learner else f" --learner {who}"}')
        else:
            click.echo()
            _print_progress(coach.progress(who), coach.next_step(who))


@cli.command()
@click.argument("item_id")
@click.argument("answer")
@_learner_option
@click.option("--json", "as_json", is_flag=True,
              help='Print {"item_id", "correct", "score", "feedback", "chunk_id", "span"} as JSON.')
def grade(item_id: str, answer: str, learner: str | None, as_json: bool) -> None:
    """Grade ANSWER to quiz item ITEM_ID against its passage, and count it towards your progress.

    Multiple choice takes a letter (A-D) or the choice's text. Short answers are checked against the passage;
    unclear ones are graded by the LLM and checked again against the passage.

    \b
    Example:
      tutor grade q-1a2b3c4d5e "CoWoS" --json
    """
    from tutor.grading import validate_answer

    with _app() as app:
        coach = app.coach
        who = coach.learner(learner)
        item = coach.item(item_id)
        validate_answer(answer)
        g = coach.grade(item.id, answer, who)  # the LLM starts only if an unclear short answer needs it
        if as_json:
            click.echo(json.dumps(g.to_json(), ensure_ascii=False))
            return
        _print_grade(g)


def _print_progress(rows: list[dict], step: dict) -> None:
    click.secho("Your mastery of the stack (L14 at the top):", bold=True)
    for r in reversed(rows):
        bar = "█" * round(r["mastery"] * 20)
        state = "mastered ✔" if r["mastered"] else (f"{r['attempts']} answer(s)" if r["attempts"] else "not started")
        click.echo(f"  L{r['layer']:>2} {r['name'][:34]:<34} {bar:<20} {r['mastery']:>4.0%}  {state}")
    click.echo()
    click.secho(f"Next: L{step['layer']} {step['name']}", bold=True)
    click.echo(textwrap.fill(step["reason"], 100))
    click.echo(f"Quiz yourself on it: tutor quiz --layer {step['layer']}")


@cli.command()
@_learner_option
@click.option("--json", "as_json", is_flag=True, help='Print [{"layer", "name", "mastery", "attempts", "mastered"}] for all 14 layers.')
def progress(learner: str | None, as_json: bool) -> None:
    """Show your mastery of each layer (recent answers weigh more; 3+ answers at 80 % = mastered) and what to study next."""
    with _app() as app:
        coach = app.coach
        rows = coach.progress(learner)
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False))
            return
        _print_progress(rows, coach.next_step(learner))


@cli.command()
@_learner_option
@click.option("--json", "as_json", is_flag=True, help='Print {"layer", "name", "mastery", "attempts", "reason", "prerequisites"}.')
def path(learner: str | None, as_json: bool) -> None:
    """Recommend the next layer to study, from your mastery and the order of the stack, and say why."""
    with _app() as app:
        step = app.coach.next_step(learner)
        if as_json:
            click.echo(json.dumps(step, ensure_ascii=False))
            return
        click.secho(f"Next: L{step['layer']} {step['name']}", bold=True)
        click.echo(textwrap.fill(step["reason"], 100))
        click.echo(f"Quiz yourself on it: tutor quiz --layer {step['layer']}")


@cli.command("eval-learn")
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
    with _app() as app:
        _ensure_index(app)
        _start_llm(app)
        with _ProgressBar() as bar:
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
        _echo_err("Tutoring eval gate failed: " + "; ".join(report["gate"]["problems"]))
        sys.exit(3)


@cli.command()
@click.option("--socratic", is_flag=True, help="Start in Socratic mode (hints first; /socratic toggles it).")
def chat(socratic: bool) -> None:
    """Talk with the tutor in the terminal: streamed answers, layer citations, follow-up questions.

    \b
    Commands inside the chat:
      /reset     forget the conversation and start over
      /sources   show the passages behind the last answer
      /socratic  switch Socratic mode (guiding questions and hints first) on or off
      /quit      leave (Ctrl-D works too)
    """
    with _app() as app:
        _ensure_index(app)
        _start_llm(app)
        tutor = app.tutor
        click.secho("Ask about any layer of the AI stack, from raw materials to applications.", bold=True)
        click.echo(CHAT_HELP + "\n")
        history: list[dict] = []
        last = None
        while True:
            try:
                q = input("you> ")
            except EOFError:
                click.echo()
                return
            cmd = q.strip().lower()
            if not cmd:
                continue
            if cmd in ("/quit", "/exit", "/q"):
                return
            if cmd == "/reset":
                history.clear()
                click.echo("Conversation cleared.\n")
                continue
            if cmd == "/socratic":
                socratic = not socratic
                click.echo((SOCRATIC_ON if socratic else "Socratic mode off.") + "\n")
                continue
            if cmd == "/sources":
                _print_sources(last) if last and last.citations else click.echo("No sources yet.")
                click.echo()
                continue
            if cmd.startswith("/"):
                click.echo(CHAT_HELP + "\n")
                continue
            click.echo("tutor> ", nl=False)
            try:
                last = tutor.ask(q, history, on_event=_Printer(False), socratic=socratic)
            except TutorError as e:
                click.echo()
                _echo_err(f"Error: {e}\n")
                continue
            click.echo()
            _print_sources(last)
            click.echo()
            history += [{"role": "user", "content": q}, {"role": "assistant", "content": last.answer}]


@cli.command("mcp")
@click.option("--transport", type=click.Choice(["stdio", "streamable-http"]), default="stdio", show_default=True,
              help="stdio: the client starts this command and talks over stdin/stdout. streamable-http: serve "
                   "http://HOST:PORT/mcp for clients that connect.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface for streamable-http (127.0.0.1: this machine only; 0.0.0.0 lets other machines in).")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True, help="Port for streamable-http.")
def mcp_command(transport: str, host: str, port: int) -> None:
    """Serve the tutor to other agents over the Model Context Protocol (MCP).

    \b
    Tools:     ask, search, calculate, list_layers
    Resources: layer://1 ... layer://14 (summary and passages), doc://<file> (documents)
    Prompt:    socratic_session (tutoring on one layer)

    Indexes the corpus first if needed. Over stdio nothing but the protocol goes to stdout (progress and
    logs go to stderr). The embedded LLM starts on the first `ask` and stops when the server exits.

    \b
    Examples:
      tutor mcp                                     for a desktop client's config (stdio)
      tutor mcp --transport streamable-http         http://127.0.0.1:8765/mcp
    """
    import os
    import signal
    from contextlib import redirect_stdout

    def stop(signum, frame):  # unwind, so the LLM server and the index are closed before we exit
        raise SystemExit(0)

    if transport == "streamable-http":
        # uvicorn shuts down gracefully on SIGTERM, then re-raises it: without this the default action kills us
        # before `with` can close anything. (Over stdio SIGTERM ends the process at once, as always; the
        # embedded LLM's watchdog, tutor._serve, then stops it within a second.)
        signal.signal(signal.SIGTERM, stop)
    with _app() as app:
        if transport == "streamable-http":
            _check_port_free(host, port)
        with redirect_stdout(sys.stderr):  # stdout is the protocol's: nothing else may write there
            _ensure_index(app)
        from tutor.mcp_server import serve

        if transport == "stdio":
            _echo_err("stack-tutor MCP server on stdio (the client's end closes it).")
        else:
            shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            _echo_err(f"stack-tutor MCP server: http://{shown}:{port}/mcp (streamable HTTP). Ctrl-C stops it.")
            if host in ("0.0.0.0", "::"):
                _echo_err("Listening on every interface: other machines on the network can use this tutor.")
        serve(app, transport, host=host, port=port)
    # Everything is closed (the LLM server stopped, the index released). Skip the interpreter's teardown of
    # torch (~2 s): a stdio client sends SIGTERM if the server hasn't exited 2 s after it closed stdin.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="tutor", standalone_mode=False)
    except TutorError as e:
        _echo_err(f"Error: {e}")
        sys.exit(e.exit_code)
    except click.exceptions.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _echo_err("Interrupted.")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - last resort: a clean line, not a traceback
        if debug:
            raise
        _echo_err(f"Error: unexpected {type(e).__name__}: {str(e)[:300]}. Re-run with `tutor --debug ...` for details.")
        sys.exit(1)


if __name__ == "__main__":
    main()
