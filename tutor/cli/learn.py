"""Learning: `tutor quiz`, `grade`, `progress` and `path`."""

from __future__ import annotations

import json
import sys
import textwrap

import click

from tutor.cli.common import (
    build_app,
    echo_err,
    ensure_index,
    learner_option,
    print_next_step,
    start_llm,
)
from tutor.errors import TutorError


def _print_grade(g) -> None:
    mark = {"correct": ("✔ Correct", "green"), "partly": ("◐ Partly right", "yellow")}.get(g.verdict, ("✘ Not quite", "red"))
    click.secho(f"{mark[0]} (score {g.score:g})", fg=mark[1], bold=True)
    if g.repeat:
        click.echo("You had answered this item already: this is your first grade, and nothing new was counted.")
    click.echo(textwrap.fill(g.feedback, 100))


@click.command()
@click.option("--layer", type=int, default=None, help="Layer to be quizzed on (1-14; default: the recommended next layer).")
@click.option("--n", "n", type=int, default=5, show_default=True, help="Number of questions (1-20).")
@click.option("--kind", type=click.Choice(["mcq", "short"]), default="short", show_default=True,
              help="mcq: multiple choice (graded exactly); short: a short written answer.")
@learner_option
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
    with build_app() as app:
        coach = app.coach
        who = coach.learner(learner)  # bad input fails before anything loads
        from tutor import validate

        validate.layer(layer)
        ensure_index(app)
        if no_llm:
            coach.llm_questions = False
        elif coach.llm_questions:
            start_llm(app)
        if interactive is None:
            interactive = not as_json and sys.stdin.isatty() and sys.stdout.isatty()
        progress = None if as_json else (lambda item: echo_err(f"  question ready: {item.question[:70]}…"))
        if not as_json:
            echo_err("Writing questions from the documents…")
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
                    echo_err(f"Error: {e}")
        if not interactive:
            click.echo(f'\nAnswer with: tutor grade ITEM_ID "your answer"{"" if who == app.settings.learner else f" --learner {who}"}')
        else:
            click.echo()
            _print_progress(coach.progress(who), coach.next_step(who))


@click.command()
@click.argument("item_id")
@click.argument("answer")
@learner_option
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
    with build_app() as app:
        g = app.coach.grade(item_id, answer, learner)  # checks everything first; the LLM starts only if needed
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
    print_next_step(step)


@click.command()
@learner_option
@click.option("--json", "as_json", is_flag=True, help='Print [{"layer", "name", "mastery", "attempts", "mastered"}] for all 14 layers.')
def progress(learner: str | None, as_json: bool) -> None:
    """Show your mastery of each layer (recent answers weigh more; 3+ answers at 80 % = mastered) and what to study next."""
    with build_app() as app:
        coach = app.coach
        rows = coach.progress(learner)
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False))
            return
        _print_progress(rows, coach.next_step(learner))


@click.command()
@learner_option
@click.option("--json", "as_json", is_flag=True, help='Print {"layer", "name", "mastery", "attempts", "reason", "prerequisites"}.')
def path(learner: str | None, as_json: bool) -> None:
    """Recommend the next layer to study, from your mastery and the order of the stack, and say why."""
    with build_app() as app:
        step = app.coach.next_step(learner)
        if as_json:
            click.echo(json.dumps(step, ensure_ascii=False))
            return
        print_next_step(step)

