"""What every `tutor` command shares: settings and the app, progress bars, the index and LLM start-up with
visible progress, batch files, the learner option and the next-step line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import click

from tutor.errors import InvalidInput, TutorError

MAX_BATCH_BYTES = 50 * 1024 * 1024


def load_settings():
    from pydantic import ValidationError

    from tutor.settings import Settings

    try:
        return Settings()
    except ValidationError as e:
        problems = "; ".join(f"TUTOR_{'_'.join(map(str, err['loc'])).upper()}: {err['msg']}" for err in e.errors())
        raise TutorError(f"Invalid configuration ({problems}).", "Fix the environment variable or .env entry.") from None


def build_app():
    from tutor.app import TutorApp

    return TutorApp(load_settings())


class ProgressBar:
    """A rich progress bar on stderr, so stdout stays clean for --json."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

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


def echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def ensure_index(app) -> None:
    if app.index_is_current():
        return
    echo_err("The corpus is not indexed yet (or changed): indexing it first. This happens once.")
    with ProgressBar() as bar:
        report = app.ingest(progress=bar)
    echo_err(f"Indexed {report.chunks} chunks in {report.seconds:.1f} s.")



def read_lines(path: Path) -> list[tuple[int, str | None, str | None]]:
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



def start_llm(app) -> None:
    """Get the LLM ready with visible progress: assembling the packaged model (first run) and starting it."""
    if not app.embedded_llm:
        return
    from tutor.llm.local import QWEN_CODER_1_5B

    model_dir = app.settings.data_dir / "models"
    if app.settings.llm_model_file is None and not (model_dir / f"{QWEN_CODER_1_5B.name}.verified").exists():
        echo_err("Assembling the embedded LLM from its packages (once, ~1.1 GB)…")
        with ProgressBar() as bar:
            app.local_server(lambda done, total: bar("model", done >> 20, total >> 20))
    echo_err("Starting the embedded LLM on 127.0.0.1…")
    seconds = app.start_llm()
    if seconds is not None:
        echo_err(f"LLM ready in {seconds:.1f} s.")



def check_port_free(host: str, port: int) -> None:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server will
        try:
            sock.bind((host, port))
        except OSError as e:
            other = port + 1 if port < 65535 else 7860
            raise TutorError(f"Cannot serve on {host}:{port} ({e.strerror or e}).",
                             f"Another program (maybe another `tutor ui`) uses that port: stop it, or pass --port {other}.") from None



def learner_option(f):
    return click.option("--learner", default=None, metavar="NAME",
                        help="Whose progress this counts towards (default: TUTOR_LEARNER, else 'learner').")(f)



def run_batch(rows: Iterable[tuple[int, object, str | None]], answer: Callable[[object], dict],
              failure: Callable[[int, object, str], dict], verb: str, catch: type[TutorError] = TutorError) -> None:
    """Print one JSON line per batch row: `answer(value)`, or `failure(line, value, error)` for a row that was
    unreadable or raised `catch`; exits 1 (after the last line) when any row failed."""
    failed = total = 0
    for n, value, err in rows:
        total += 1
        if err is None:
            try:
                click.echo(json.dumps(answer(value), ensure_ascii=False))
                continue
            except catch as e:
                err = f"line {n}: {e}"
        failed += 1
        click.echo(json.dumps(failure(n, value, err), ensure_ascii=False))
    if failed:
        echo_err(f"{failed} of {total} lines could not be {verb} (see their \"error\" fields).")
        sys.exit(1)


def print_next_step(step: dict) -> None:
    """The learning path's recommendation, as `tutor progress` and `tutor path` print it."""
    import textwrap

    if step.get("action") == "review":
        n = step["due"]
        click.secho(f"Next: review {n} due card{'s' if n != 1 else ''} (most in L{step['layer']} {step['name']})", bold=True)
        click.echo(textwrap.fill(step["reason"], 100))
        click.echo("Review them: tutor review")
        return
    click.secho(f"Next: L{step['layer']} {step['name']}", bold=True)
    click.echo(textwrap.fill(step["reason"], 100))
    click.echo(f"Quiz yourself on it: tutor quiz --layer {step['layer']}")


def when(moment, now) -> str:
    """'in 10 minutes (2030-01-01 00:10 UTC)', or 'now' for a moment already past."""
    from tutor.learning.schedule import describe_wait

    wait = describe_wait(moment - now)
    return wait if wait == "now" else f"{wait} ({moment:%Y-%m-%d %H:%M} UTC)"
