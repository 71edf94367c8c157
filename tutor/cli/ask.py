"""Asking: `tutor ingest`, `layers`, `search`, `ask` and `chat`."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import click

from tutor.cli.common import (
    ProgressBar,
    build_app,
    echo_err,
    ensure_index,
    read_lines,
    run_batch,
    start_llm,
)
from tutor.errors import InvalidInput, TutorError
from tutor.types import TRY_NEXT


@click.command()
@click.option("--rebuild", is_flag=True, help="Drop the index and build it again from scratch.")
@click.option("--json", "as_json", is_flag=True, help="Print the ingest report as JSON.")
def ingest(rebuild: bool, as_json: bool) -> None:
    """Chunk, label, embed and index the documents in corpus/.

    Idempotent: re-running on an unchanged corpus does nothing; a changed document is re-indexed.
    """
    with build_app() as app:
        with ProgressBar() as bar:
            r = app.ingest(rebuild=rebuild, progress=bar)
    if as_json:
        click.echo(json.dumps({"chunks": r.chunks, "added": r.added, "removed": r.removed, "unchanged": r.unchanged,
                               "seconds": round(r.seconds, 3), "per_doc": r.per_doc}))
    elif r.unchanged:
        click.echo(f"Index is up to date: {r.chunks} chunks ({r.seconds:.2f} s). Use --rebuild to start clean.")
    else:
        click.echo(f"Indexed {r.chunks} chunks ({r.added} embedded, {r.removed} removed) in {r.seconds:.1f} s "
                   f"at {app.settings.qdrant_location}.")


@click.command()
@click.option("--json", "as_json", is_flag=True, help='JSON list of {"layer", "name", "summary", "chunks"}.')
def layers(as_json: bool) -> None:
    """The 14 layers of the AI stack, bottom to top, with how many indexed passages each has."""
    with build_app() as app:
        ensure_index(app)
        rows = app.layer_overview()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"L{r['layer']:<2} {r['name']:<30} {r['chunks']:>4} passages  {r['summary']}")



def _search_result(question: str, hits) -> dict:
    return {"question": question, "results": [h.to_json() for h in hits]}


@click.command()
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
    with build_app() as app:
        # Check the flags before any slow work, so a typo fails at once.
        validate.top_k(app.settings.top_k if k is None else k)
        validate.layer(layer)
        if question is not None:
            validate.question(question, app.settings.max_question_chars)
        lines = read_lines(batch) if batch else None
        ensure_index(app)
        if lines is None:
            hits = app.search(question, k=k, layer=layer, mode=mode)
            if as_json:
                click.echo(json.dumps(_search_result(question, hits), ensure_ascii=False))
            else:
                _print_hits(question, hits)
            return
        run_batch(lines, lambda q: _search_result(q, app.search(q, k=k, layer=layer, mode=mode)),
                  lambda n, q, err: {"question": q, "line": n, "error": err, "results": []}, "searched", catch=InvalidInput)


def _interactive(k: int | None, layer: int | None, mode: str) -> None:
    with build_app() as app:
        ensure_index(app)
        echo_err("Loading the embedding model…")
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
                echo_err(f"Error: {e}")


def _print_hits(question: str, hits) -> None:
    click.echo(f"Top {len(hits)} passages for: {question}\n")
    for rank, h in enumerate(hits, 1):
        c = h.chunk
        click.secho(f"{rank}. [L{c.layer} · {c.layer_name}]  {c.doc}  chunk {c.chunk_id}  score {h.score:.3f}", bold=True)
        text = " ".join(c.text.split())
        click.echo(textwrap.indent(textwrap.fill(text[:600] + ("…" if len(text) > 600 else ""), 96), "   "))
        click.echo()


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
        elif kind == "invitation":
            click.echo(f"\n\n{payload}", nl=False)
        elif kind == "suggestion":
            click.echo(f"\n\n{TRY_NEXT}{payload}", nl=False)
        elif kind == "status" and self.show_status and not self.started:
            click.secho(f"  {payload}", err=True, dim=True)
        elif kind == "tool" and self.show_status and payload.name != "search_corpus":
            click.secho(f"\n  [{payload.name}({json.dumps(payload.arguments, ensure_ascii=False)}) → {payload.result[:80]}]",
                        err=True, dim=True)


def _read_ask_batch(path: Path) -> list[tuple[int, dict | None, str | None]]:
    rows = []
    for n, line, err in read_lines(path):
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


@click.command()
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
    with build_app() as app:
        if question is not None:
            validate.question(question, app.settings.max_question_chars)
        rows = _read_ask_batch(batch) if batch else None
        ensure_index(app)
        start_llm(app)
        tutor = app.tutor
        if rows is None:
            if as_json:
                click.echo(json.dumps(tutor.ask(question, socratic=socratic).to_json(), ensure_ascii=False))
                return
            reply = tutor.ask(question, on_event=_Printer(sys.stderr.isatty()), socratic=socratic)
            click.echo()
            _print_sources(reply)
            return
        run_batch(rows, lambda obj: tutor.ask(obj["question"], obj.get("history"), socratic=socratic).to_json(),
                  lambda n, obj, err: {"question": (obj or {}).get("question"), "line": n, "error": err}, "answered")



CHAT_HELP = ("Commands: /reset starts over, /sources shows the last answer's sources, /socratic switches hints-first "
             "mode, /quit (or Ctrl-D) leaves.")
SOCRATIC_ON = 'Socratic mode on: hints first; answer them, or say "show me" for the answer.'

@click.command()
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
    with build_app() as app:
        ensure_index(app)
        start_llm(app)
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
                echo_err(f"Error: {e}\n")
                continue
            click.echo()
            _print_sources(last)
            click.echo()
            history += [{"role": "user", "content": q}, last.history_entry()]

