"""Learning: `tutor quiz`, `grade`, `review`, `cards`, `progress` and `path`."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path

import click

from tutor.cli.common import (
    build_app,
    echo_err,
    ensure_index,
    learner_option,
    print_next_step,
    start_llm,
    when,
)
from tutor.errors import InvalidInput, TutorError


def _print_grade(g, now=None, review: bool = False) -> None:
    mark = {"correct": ("✔ Correct", "green"), "partly": ("◐ Partly right", "yellow")}.get(g.verdict, ("✘ Not quite", "red"))
    click.secho(f"{mark[0]} (score {g.score:g})", fg=mark[1], bold=True)
    if g.repeat:
        click.echo("This card was reviewed meanwhile (another session): that review counts, nothing new was recorded."
                   if review else "You had answered this item already: this is your first grade, and nothing new was counted.")
    click.echo(textwrap.fill(g.feedback, 100))
    if g.next_review is not None and now is not None:
        click.echo(f"Next review of this card: {when(g.next_review, now)}.")


def _ask(item, k: int | None = None) -> None:
    click.echo(f"\n{f'{k}. ' if k else ''}{item.question}   [{item.id}]")
    for j, c in enumerate(item.choices or []):
        click.echo(f"   {'ABCD'[j]}) {c}")


def _read_answer() -> tuple[str | None, float | None]:
    """The learner's answer from stdin (None at end of input) and how many seconds it took (None when the answers
    are piped in: that time says nothing about recall)."""
    start = time.monotonic()
    try:
        answer = input("your answer> ")
    except EOFError:
        click.echo()
        return None, None
    return answer, (time.monotonic() - start) if sys.stdin.isatty() else None


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
            _ask(item, k)
            if not interactive:
                continue
            while True:
                answer, seconds = _read_answer()
                if answer is None:
                    return
                try:
                    _print_grade(coach.grade(item.id, answer, who, seconds=seconds), coach.now())
                    break
                except TutorError as e:
                    echo_err(f"Error: {e}")
        if not interactive:
            click.echo(f'\nAnswer with: tutor grade ITEM_ID "your answer"{"" if who == app.settings.learner else f" --learner {who}"}')
        else:
            click.echo()
            _print_progress(coach.progress(who), coach.next_step(who), coach.next_review(who), coach.now())


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
        _print_grade(g, app.coach.now())


@click.command()
@click.argument("item_id", required=False)
@click.argument("answer", required=False)
@learner_option
@click.option("--n", "n", type=int, default=10, show_default=True, help="Review at most this many due cards (1-50).")
@click.option("--json", "as_json", is_flag=True,
              help='Without ITEM_ID: print the due cards {"cards": [{"id", "question", "choices", ..., "due", "version"}], '
                   '"total_due", "next_due"}; with ITEM_ID ANSWER: the graded review.')
@click.option("--interactive/--no-interactive", default=None,
              help="Ask the due cards here and grade each answer (default: on in a terminal, off with --json or a pipe).")
@click.option("--card-version", type=int, default=None,
              help="With ITEM_ID: the card's `version` from the due list (a review made since by another session wins).")
def review(item_id, answer, learner, n, as_json, interactive, card_version) -> None:
    """Review the quiz items that are due (spaced repetition with FSRS): the longest due first, graded as quiz answers
    are, each rescheduled by how well you recalled it.

    Every answered quiz item becomes a card. Wrong brings it back in a minute, partly right or right in minutes,
    then days, then weeks as you keep recalling it. Reviewing keeps your mastery from fading (`tutor progress`).

    \b
    Examples:
      tutor review                       ask the due cards one at a time
      tutor review --json                list the due cards (for scripts)
      tutor review q-1a2b3c4d5e "CoWoS"  grade one due card
    """
    with build_app() as app:
        coach = app.coach
        who = coach.learner(learner)
        if item_id is not None and answer is None:
            raise InvalidInput("An item id needs an answer too.", f'Use: tutor review {item_id} "your answer"')
        ensure_index(app)
        if item_id is not None:
            r = coach.review(item_id, answer, who, card_version)
            if as_json:
                click.echo(json.dumps(r.to_json(), ensure_ascii=False))
            else:
                _print_grade(r.grade, coach.now(), review=True)
            return
        queue = coach.due(who, n)
        if as_json:
            click.echo(json.dumps(queue.to_json(), ensure_ascii=False))
            return
        for gone in queue.retired:
            echo_err(f"Card {gone} was taken out of review: its passage is no longer in the documents.")
        if not queue.cards:
            _print_nothing_due(queue, coach.now(), who, app.settings.learner)
            return
        more = f" (the {len(queue.cards)} longest due of {queue.total_due})" if queue.total_due > len(queue.cards) else ""
        click.secho(f"Review: {len(queue.cards)} card(s) due{more}", bold=True)
        if interactive is None:
            interactive = sys.stdin.isatty() and sys.stdout.isatty()
        reviewed = right = 0
        for k, card in enumerate(queue.cards, start=1):
            _ask(card.item, k)
            if not interactive:
                continue
            while True:
                text, seconds = _read_answer()
                if text is None:
                    break
                try:
                    r = coach.review(card.item.id, text, who, card.version, seconds=seconds)
                except TutorError as e:
                    echo_err(f"Error: {e}")
                    continue
                _print_grade(r.grade, coach.now(), review=True)
                if not r.repeat:
                    reviewed += 1
                    right += r.grade.correct
                break
            if text is None:
                break
        if not interactive:
            click.echo(f'\nAnswer with: tutor review ITEM_ID "your answer"{"" if who == app.settings.learner else f" --learner {who}"}')
            return
        click.echo(f"\nReviewed {reviewed} card(s), {right} right.")
        after = coach.due(who, 1)
        if after.cards:
            click.echo(f"{after.total_due} card(s) are due now (answers missed come back within minutes): tutor review")
        else:
            _print_nothing_due(after, coach.now(), who, app.settings.learner)


def _print_nothing_due(queue, now, who: str, default: str) -> None:
    if not queue.known:
        click.echo(f"{who!r} has no review cards yet: cards come from answered quiz questions. Start with: tutor quiz"
                   f"{'' if who == default else f' --learner {who}'}")
    elif queue.next_due is None:
        click.echo("No cards are due, and none are waiting: answer quiz questions to make more (tutor quiz).")
    else:
        click.echo(f"No cards are due now. Next review: {when(queue.next_due, now)}.")


@click.command()
@click.option("--layer", type=int, default=None, help="Only this layer's cards (1-14; default: all layers).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"cards": [{"id", "layer", "label", "fact", "front", "back", "answer", "chunk_id", "doc", '
                   '"citation"}], "count"}.')
@click.option("--anki", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Write the deck to FILE for Anki (tab-separated: File > Import).")
def cards(layer, as_json, anki) -> None:
    """Flashcards from the documents: a term or a figure's question on the front, the verbatim passage with its layer
    citation on the back. Made from the same checked facts as quizzes.

    \b
    Examples:
      tutor cards --layer 3
      tutor cards --anki stack.txt       then in Anki: File > Import
    """
    from tutor import validate
    from tutor.learning.cards import anki_tsv

    validate.layer(layer)
    with build_app() as app:
        ensure_index(app)
        deck = app.coach.cards(layer)
        if anki is not None:
            try:
                anki.write_text(anki_tsv(deck), encoding="utf-8")
            except OSError as e:
                raise InvalidInput(f"Cannot write {anki} ({e.strerror}).", "Check the folder exists and is writable.") from None
            echo_err(f"Wrote {len(deck)} flashcards to {anki}: import it in Anki with File > Import.")
        if as_json:
            click.echo(json.dumps({"cards": [c.to_json() for c in deck], "count": len(deck)}, ensure_ascii=False))
        elif anki is None:
            for k, c in enumerate(deck, start=1):
                click.echo(f"{k}. {c.front}")
                click.echo(textwrap.fill(c.cited_back, 100, initial_indent="   ", subsequent_indent="   "))
            click.echo(f"\n{len(deck)} flashcards. Export them for Anki with: tutor cards --anki FILE")


def _print_progress(rows: list[dict], step: dict, next_due=None, now=None) -> None:
    click.secho("Your mastery of the stack (L14 at the top; recall fades without reviews):", bold=True)
    for r in reversed(rows):
        bar = "█" * round(r["mastery"] * 20)
        state = "mastered ✔" if r["mastered"] else (f"{r['attempts']} answer(s)" if r["attempts"] else "not started")
        due = f", {r['due']} due" if r.get("due") else ""
        recall = f"  recall {r['retention']:.0%}{due}" if r.get("cards") else ""
        click.echo(f"  L{r['layer']:>2} {r['name'][:34]:<34} {bar:<20} {r['mastery']:>4.0%}  {state}{recall}")
    click.echo()
    due = sum(r.get("due", 0) for r in rows)
    if not due and next_due is not None and now is not None:
        click.echo(f"No reviews due now. Next review: {when(next_due, now)}.\n")
    print_next_step(step)


@click.command()
@learner_option
@click.option("--json", "as_json", is_flag=True,
              help='Print [{"layer", "name", "mastery", "attempts", "mastered", "cards", "due", "retention"}] for all 14 layers.')
def progress(learner: str | None, as_json: bool) -> None:
    """Show your mastery of each layer and what to do next: mastery is what you are expected to recall now (FSRS),
    so it fades without reviews; 3+ answered questions at 80 % = mastered."""
    with build_app() as app:
        coach = app.coach
        rows = coach.progress(learner)
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False))
            return
        _print_progress(rows, coach.next_step(learner), coach.next_review(learner), coach.now())


@click.command()
@learner_option
@click.option("--json", "as_json", is_flag=True,
              help='Print {"layer", "name", "mastery", "attempts", "reason", "prerequisites", "action", "due"}.')
def path(learner: str | None, as_json: bool) -> None:
    """Recommend the next layer to study, from your mastery and the order of the stack, and say why; due reviews come
    first (action "review")."""
    with build_app() as app:
        step = app.coach.next_step(learner)
        if as_json:
            click.echo(json.dumps(step, ensure_ascii=False))
            return
        print_next_step(step)

