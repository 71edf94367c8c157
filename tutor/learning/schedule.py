"""Spaced review with FSRS (the `fsrs` package, py-fsrs): how a grade becomes a rating, how a card is kept, and
how much of it a learner is expected to recall now.

Every graded quiz item is a card of its learner. A grade maps to an FSRS rating:

  =================================================  =======
  the answer                                         rating
  =================================================  =======
  wrong (score 0)                                    Again
  partly right (score 0.5)                           Hard
  right                                              Good
  right on the first try of a multiple-choice item   Easy
  right within `review_easy_seconds` (when timed)    Easy
  =================================================  =======

"First try" is the item's first grade (the quiz): a multiple-choice item recognised at once is scheduled as
well known. A timed right answer is Easy only when the front end measured the time (the terminal's
interactive quiz and review do; `tutor grade` and MCP calls don't, so their right answers are Good).

FSRS's learning steps are kept (1 and 10 minutes): a new card answered Good is due again in 10 minutes, then
in days; Again brings it back in a minute. Times are UTC datetimes from an injectable clock, so tests move
time instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from fsrs import Card, Rating, Scheduler, State

Clock = Callable[[], datetime]
RATINGS = {Rating.Again: "again", Rating.Hard: "hard", Rating.Good: "good", Rating.Easy: "easy"}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC, as FSRS requires (a naive datetime is a programming error, not a guess)."""
    if moment.tzinfo is None:
        raise ValueError("the clock must return timezone-aware datetimes")
    return moment.astimezone(timezone.utc)


def from_epoch(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


def make_scheduler(retention: float = 0.9, fuzz: bool = True) -> Scheduler:
    return Scheduler(desired_retention=retention, enable_fuzzing=fuzz)


def rating_for(score: float, kind: str, first_try: bool, seconds: float | None = None,
               easy_seconds: float = 8.0) -> Rating:
    """The FSRS rating of a graded answer (the table in this module's docstring)."""
    if score <= 0:
        return Rating.Again
    if score < 0.99:
        return Rating.Hard
    if (first_try and kind == "mcq") or (seconds is not None and 0 <= seconds <= easy_seconds):
        return Rating.Easy
    return Rating.Good


def card_id_of(item_id: str) -> int:
    """The FSRS card id of a quiz item (q-1a2b3c4d5e -> its hex digits as a number): stable, unique per item."""
    return int(item_id[2:], 16)


@dataclass
class CardState:
    """A card as the progress store keeps it: the FSRS card's fields plus what the tutor needs around it."""

    item_id: str
    learner: str
    layer: int
    state: int
    step: int | None
    stability: float | None
    difficulty: float | None
    due: datetime
    last_review: datetime | None
    reps: int = 0  # reviews so far (the quiz grade included): the card's version, for concurrent reviews
    last_score: float = 0.0  # the score of the latest review

    def fsrs(self) -> Card:
        return Card(card_id=card_id_of(self.item_id), state=State(self.state), step=self.step,
                    stability=self.stability, difficulty=self.difficulty, due=self.due, last_review=self.last_review)

    @classmethod
    def new(cls, item_id: str, learner: str, layer: int, now: datetime) -> CardState:
        return cls(item_id, learner, layer, int(State.Learning), 0, None, None, now, None)


def review(scheduler: Scheduler, card: CardState, rating: Rating, score: float, now: datetime) -> CardState:
    """`card` after a review rated `rating` at `now` (a new object; `card` is unchanged)."""
    after, _log = scheduler.review_card(card.fsrs(), rating, review_datetime=as_utc(now))
    return CardState(card.item_id, card.learner, card.layer, int(after.state), after.step, after.stability,
                     after.difficulty, after.due, after.last_review, card.reps + 1, float(score))


def retrievability(scheduler: Scheduler, card: CardState, now: datetime) -> float:
    """FSRS's expected recall of the card at `now` (0 before its first review; py-fsrs counts whole days, and a
    clock earlier than the last review counts as no time elapsed)."""
    return float(scheduler.get_card_retrievability(card.fsrs(), current_datetime=as_utc(now)))


def strength(scheduler: Scheduler, card: CardState, now: datetime) -> float:
    """What the card adds to mastery now: expected recall of what the learner last got right. FSRS's recall
    assumes the answer was learnt at the last review; a card last answered wrong adds nothing until it is
    answered right, a partly right one half."""
    return retrievability(scheduler, card, now) * card.last_score


def describe_wait(delta: timedelta) -> str:
    """'now', 'in 10 minutes', 'in 3 hours', 'in 4 days', 'in 2 months' (for next-review lines)."""
    s = delta.total_seconds()
    if s <= 30:
        return "now"
    for unit, size in (("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if s >= size or unit == "minute":
            n = max(1, round(s / size))
            return f"in {n} {unit}{'s' if n != 1 else ''}"
    return "now"  # unreachable
