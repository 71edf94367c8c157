"""What each learner knows: quiz items, graded answers, review cards and per-layer mastery, in SQLite in the
data directory.

- Items are stored when generated, so an item can be graded after a restart and from another process.
- One graded answer per item and learner: a second grade of the same item returns the first and records
  nothing (so grading again cannot inflate mastery), and an item is graded only for the learner it was
  made for. The check and the insert are one transaction, so concurrent grades of one item count once.
- That first grade also makes the item a review card (FSRS, `tutor.learning.schedule`): `cards` holds each
  card's FSRS state and when it is due, `reviews` logs every review (the quiz grade first). A review is one
  transaction that checks the card is still the one the learner was asked (its `reps`), so two processes
  reviewing one card at once count it once: the first wins, the other gets the winner's grade (`repeat`).
- Mastery fades with time: a layer's mastery is the mean, over its cards, of FSRS's expected recall now times
  the score of the card's latest review (a card last answered wrong adds nothing), times its coverage
  (`min(1, cards / MIN_ATTEMPTS)`). A layer is mastered with at least `MIN_ATTEMPTS` cards and mastery of
  at least `MASTERED`; it stops being mastered when its reviews are overdue and recall falls.
- Safe with concurrent sessions and processes: WAL journal, a busy timeout, one short transaction per
  write, a connection per call. A database from the version before review cards is migrated when it is
  opened (every graded answer becomes a card reviewed at the time it was graded; attempts are kept as
  they are), in one transaction, once, whichever process opens it first.

The learning path (`next_step`) reviews due cards before anything new; otherwise it follows the order of the
stack: a layer is recommended once the layers it builds on are mastered (chips before networking before data
centers; architectures before alignment before serving).
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from fsrs import Scheduler

from tutor.errors import ClockError, ConfigError, InvalidInput
from tutor.knowledge.layers import Taxonomy
from tutor.learning import schedule
from tutor.learning.grading import Grade
from tutor.learning.quiz import QuizItem
from tutor.learning.schedule import RATINGS, CardState, Clock, from_epoch, rating_for

MIN_ATTEMPTS = 3  # cards a layer needs to count as covered (and to be mastered)
MASTERED = 0.8
RECENT_ITEMS = 60  # a learner's last N items are not asked again
MAX_ANSWER_STORED = 2000
SCHEMA_VERSION = 2  # 1: items and attempts; 2: review cards and their log
_LEARNER = re.compile(r"^[\w][\w .@+-]{0,63}$")

# What each layer builds on (the order of the stack; each layer's prerequisites are lower layers).
PREREQUISITES: dict[int, tuple[int, ...]] = {
    1: (), 2: (1,), 3: (2,), 4: (3,), 5: (4,), 6: (3,), 7: (6,), 8: (4, 7), 9: (), 10: (7,), 11: (9, 10),
    12: (11,), 13: (12,), 14: (13,),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY, learner TEXT NOT NULL, layer INTEGER NOT NULL, kind TEXT NOT NULL,
    question TEXT NOT NULL, record TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS items_learner ON items (learner, created);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, item_id TEXT NOT NULL REFERENCES items(id), learner TEXT NOT NULL,
    layer INTEGER NOT NULL CHECK (layer BETWEEN 1 AND 14), score REAL NOT NULL CHECK (score BETWEEN 0 AND 1),
    correct INTEGER NOT NULL CHECK (correct IN (0, 1)), answer TEXT NOT NULL, feedback TEXT NOT NULL,
    created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS attempts_learner ON attempts (learner, layer, id);
CREATE TABLE IF NOT EXISTS cards (
    item_id TEXT PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE, learner TEXT NOT NULL,
    layer INTEGER NOT NULL CHECK (layer BETWEEN 1 AND 14), state INTEGER NOT NULL CHECK (state IN (1, 2, 3)),
    step INTEGER, stability REAL, difficulty REAL, due REAL NOT NULL, last_review REAL,
    reps INTEGER NOT NULL CHECK (reps >= 0), last_score REAL NOT NULL CHECK (last_score BETWEEN 0 AND 1),
    retired TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS cards_due ON cards (learner, due);
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT, item_id TEXT NOT NULL, learner TEXT NOT NULL,
    layer INTEGER NOT NULL, source TEXT NOT NULL CHECK (source IN ('quiz', 'review', 'migrated')),
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4), score REAL NOT NULL CHECK (score BETWEEN 0 AND 1),
    correct INTEGER NOT NULL CHECK (correct IN (0, 1)), answer TEXT NOT NULL, missing TEXT NOT NULL,
    method TEXT NOT NULL, reviewed REAL NOT NULL, due_before REAL, due_after REAL NOT NULL, seconds REAL);
CREATE INDEX IF NOT EXISTS reviews_card ON reviews (item_id, id);
CREATE INDEX IF NOT EXISTS reviews_learner ON reviews (learner, layer);
"""
_CARD_COLUMNS = "c.item_id, c.learner, c.layer, c.state, c.step, c.stability, c.difficulty, c.due, c.last_review, c.reps, c.last_score"


def learner_name(name: object) -> str:
    """A learner's name as stored: 1-64 letters, digits, spaces and . _ @ + -."""
    if not isinstance(name, str) or not _LEARNER.match(name.strip()):
        raise InvalidInput(f"{str(name)[:40]!r} is not a usable learner name.",
                           "Use 1-64 letters, digits, spaces or . _ @ + - (for example --learner ada).")
    return name.strip()


def _card(row) -> CardState:
    item_id, learner, layer, state, step, stability, difficulty, due, last, reps, last_score = row
    return CardState(item_id, learner, layer, state, step, stability, difficulty, from_epoch(due), from_epoch(last),
                     reps, last_score)


@dataclass
class DueCard:
    """A card to review now: its quiz item (asked again as it was), when it fell due and its version."""

    item: QuizItem
    due: datetime
    version: int  # the card's reviews so far: send it back with the answer, so a concurrent review counts once
    retrievability: float  # FSRS's expected recall of it now

    def to_json(self) -> dict:
        return {**self.item.to_json(), "due": self.due.isoformat(), "version": self.version,
                "retrievability": round(self.retrievability, 3)}


@dataclass
class ReviewResult:
    """A graded review: the grade (as a quiz grade), the FSRS rating it became and when the card is due next.
    `repeat`: another review of this card was recorded first (another process): nothing new was counted and
    `grade` is that review's."""

    grade: Grade
    rating: str  # again | hard | good | easy
    due: datetime  # the card's next review
    reviewed: datetime
    reps: int
    repeat: bool = False

    def to_json(self) -> dict:
        return {**self.grade.to_json(), "rating": self.rating, "next_review": self.due.isoformat(),
                "reviewed": self.reviewed.isoformat(), "reviews": self.reps, "repeat": self.repeat}


class ProgressStore:
    def __init__(self, path: Path, taxonomy: Taxonomy, clock: Clock | None = None, scheduler: Scheduler | None = None,
                 easy_seconds: float = 8.0):
        self.path = Path(path)
        self.taxonomy = taxonomy
        self.clock = clock or schedule.utc_now
        self.scheduler = scheduler or schedule.make_scheduler()
        self.easy_seconds = easy_seconds
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._db() as db:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise ConfigError(f"The progress database {self.path} was written by a newer stack-tutor (schema "
                                      f"{version}; this one reads up to {SCHEMA_VERSION}).",
                                      "Upgrade stack-tutor, or set TUTOR_DATA_DIR to another folder.")
                if version < SCHEMA_VERSION:
                    self._upgrade(db)
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"The progress database {self.path} cannot be opened ({e}).",
                              "Move the file aside (it is recreated empty) or set TUTOR_DATA_DIR.") from None

    @contextmanager
    def _db(self):
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA foreign_keys=ON")
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self):
        """One write transaction (BEGIN IMMEDIATE: concurrent writers wait their turn), rolled back on any error."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _at(self, now: datetime | None) -> datetime:
        """`now` in UTC, or the store's clock when not given."""
        return schedule.as_utc(now) if now is not None else self.now()

    def now(self) -> datetime:
        return schedule.as_utc(self.clock())

    def _upgrade(self, db: sqlite3.Connection) -> None:
        """Bring a new or older database to SCHEMA_VERSION in one transaction, whichever process gets there first
        (the others find it done): the tables, the attempts columns added after the first release, and schema
        1 -> 2, where every learner's first graded answer to an item becomes its card, reviewed when it was graded."""
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:  # not done by another process meanwhile
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
                have = {row[1] for row in db.execute("PRAGMA table_info(attempts)")}
                for column in ("missing", "method"):
                    if column not in have:
                        db.execute(f"ALTER TABLE attempts ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
                rows = db.execute(
                    "SELECT a.item_id, a.learner, a.layer, a.score, a.correct, a.answer, a.missing, a.method, a.created, "
                    "i.kind FROM attempts a JOIN items i ON i.id = a.item_id WHERE a.id IN (SELECT MIN(id) FROM attempts "
                    "GROUP BY item_id, learner) AND NOT EXISTS (SELECT 1 FROM cards c WHERE c.item_id = a.item_id) "
                    "ORDER BY a.id").fetchall()
                for item_id, learner, layer, score, correct, answer, missing, method, created, kind in rows:
                    when = from_epoch(created)
                    rating = rating_for(score, kind, first_try=True)
                    card = schedule.review(self.scheduler, CardState.new(item_id, learner, layer, when), rating, score, when)
                    _put_card(db, card, insert=True)
                    _log(db, card, "migrated", rating, score, bool(correct), answer, missing or "", method or "stored",
                         when, None, None)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- items --------------------------------------------------------------------------------------------
    def save_items(self, learner: str, items: list[QuizItem]) -> None:
        now = self.now().timestamp()
        with self._write() as db:
            db.executemany("INSERT INTO items (id, learner, layer, kind, question, record, created) VALUES (?,?,?,?,?,?,?)",
                           [(i.id, learner, i.layer, i.kind, i.question, json.dumps(i.to_record()), now + k * 1e-6)
                            for k, i in enumerate(items)])

    def item(self, item_id: object) -> QuizItem:
        return self.item_and_owner(item_id)[0]

    def item_and_owner(self, item_id: object) -> tuple[QuizItem, str]:
        """The stored item and the learner whose quiz it was made for."""
        if not isinstance(item_id, str) or not re.fullmatch(r"q-[0-9a-f]{10}", item_id.strip()):
            raise InvalidInput(f"{str(item_id)[:40]!r} is not a quiz item id.",
                               "Item ids look like q-1a2b3c4d5e, as the quiz gave them.")
        with self._db() as db:
            row = db.execute("SELECT record, learner FROM items WHERE id = ?", (item_id.strip(),)).fetchone()
        if row is None:
            raise InvalidInput(f"There is no quiz item {item_id.strip()}.",
                               "Check the id the quiz gave (items live in this data directory's progress.sqlite).")
        return QuizItem.from_record(json.loads(row[0])), row[1]

    def recent(self, learner: str, n: int = RECENT_ITEMS) -> list[QuizItem]:
        with self._db() as db:
            rows = db.execute("SELECT record FROM items WHERE learner = ? ORDER BY created DESC LIMIT ?", (learner, n)).fetchall()
        return [QuizItem.from_record(json.loads(r[0])) for r in rows]

    def known(self, learner: str) -> bool:
        """Whether the store has anything of `learner` (a quiz item at least)."""
        with self._db() as db:
            return db.execute("SELECT 1 FROM items WHERE learner = ? LIMIT 1", (learner,)).fetchone() is not None

    # -- attempts -----------------------------------------------------------------------------------------
    def first_grade(self, learner: str, item: QuizItem) -> Grade | None:
        """The learner's graded answer to `item`, if there is one (marked `repeat`)."""
        with self._db() as db:
            first = _first(db, learner, item, self.taxonomy.get(item.layer).label)
            card = _card_of(db, item.id) if first else None
        return replace(first, next_review=card.due) if first and card else first

    def record(self, learner: str, item: QuizItem, grade: Grade, answer: str, seconds: float | None = None) -> Grade:
        """Record `grade` as the learner's answer to `item` and return it, unless the learner has a graded answer to
        it already (another process may have just written it): then nothing is recorded and that one is returned.
        The first grade also makes the item a review card (its first FSRS review), in the same transaction."""
        if not 0.0 <= grade.score <= 1.0:
            raise ValueError(f"score {grade.score} outside [0, 1]")
        now = self.now()
        with self._write() as db:
            first = _first(db, learner, item, self.taxonomy.get(item.layer).label)
            if first is None:
                db.execute("INSERT INTO attempts (item_id, learner, layer, score, correct, answer, feedback, created, "
                           "missing, method) VALUES (?,?,?,?,?,?,?,?,?,?)",
                           (item.id, learner, item.layer, float(grade.score), int(grade.correct),
                            answer[:MAX_ANSWER_STORED], grade.feedback, now.timestamp(), grade.missing, grade.method))
                rating = rating_for(grade.score, item.kind, True, seconds, self.easy_seconds)
                card = schedule.review(self.scheduler, CardState.new(item.id, learner, item.layer, now), rating,
                                       grade.score, now)
                _put_card(db, card, insert=True)
                _log(db, card, "quiz", rating, grade.score, grade.correct, answer, grade.missing, grade.method, now,
                     None, seconds)
                return replace(grade, next_review=card.due)
            card = _card_of(db, item.id)
        return replace(first, next_review=card.due if card else None)

    def attempts(self, learner: str, item_id: str | None = None) -> int:
        """How many graded quiz answers the learner has (to one item, when given); reviews are `reviews()`."""
        sql, args = "SELECT COUNT(*) FROM attempts WHERE learner = ?", [learner]
        if item_id is not None:
            sql, args = sql + " AND item_id = ?", [*args, item_id]
        with self._db() as db:
            return int(db.execute(sql, args).fetchone()[0])

    def reviews(self, learner: str, item_id: str | None = None) -> list[dict]:
        """The learner's review log (the quiz grade of each card first), oldest first."""
        sql, args = ("SELECT item_id, layer, source, rating, score, reviewed, due_before, due_after FROM reviews "
                     "WHERE learner = ?"), [learner]
        if item_id is not None:
            sql, args = sql + " AND item_id = ?", [*args, item_id]
        with self._db() as db:
            rows = db.execute(sql + " ORDER BY id", args).fetchall()
        return [{"item_id": r[0], "layer": r[1], "source": r[2], "rating": RATINGS[schedule.Rating(r[3])], "score": r[4],
                 "reviewed": from_epoch(r[5]), "due_before": from_epoch(r[6]), "due_after": from_epoch(r[7])}
                for r in rows]

    # -- review cards -------------------------------------------------------------------------------------
    def card(self, item_id: str) -> CardState | None:
        with self._db() as db:
            return _card_of(db, item_id)

    def due(self, learner: str, limit: int | None = None, now: datetime | None = None) -> list[DueCard]:
        """The learner's cards due now, the longest due first (cards whose item is gone or that are retired are
        left out)."""
        now = self._at(now)
        sql = (f"SELECT {_CARD_COLUMNS}, i.record FROM cards c JOIN items i ON i.id = c.item_id "
               "WHERE c.learner = ? AND c.retired = '' AND c.due <= ? ORDER BY c.due, c.item_id")
        args: list = [learner, now.timestamp()]
        if limit is not None:
            sql, args = sql + " LIMIT ?", [*args, int(limit)]
        with self._db() as db:
            rows = db.execute(sql, args).fetchall()
        out = []
        for row in rows:
            card = _card(row[:-1])
            out.append(DueCard(QuizItem.from_record(json.loads(row[-1])), card.due, card.reps,
                               schedule.retrievability(self.scheduler, card, now)))
        return out

    def due_count(self, learner: str, now: datetime | None = None) -> int:
        now = self._at(now)
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM cards c JOIN items i ON i.id = c.item_id WHERE c.learner = ? "
                                  "AND c.retired = '' AND c.due <= ?", (learner, now.timestamp())).fetchone()[0])

    def next_due(self, learner: str, now: datetime | None = None) -> datetime | None:
        """When the learner's next card falls due after `now` (None: no cards waiting)."""
        now = self._at(now)
        with self._db() as db:
            row = db.execute("SELECT MIN(c.due) FROM cards c JOIN items i ON i.id = c.item_id WHERE c.learner = ? "
                             "AND c.retired = '' AND c.due > ?", (learner, now.timestamp())).fetchone()
        return from_epoch(row[0]) if row and row[0] is not None else None

    def retire(self, item_ids: list[str], reason: str) -> int:
        """Take cards out of review (their passage is no longer in the documents); returns how many changed."""
        if not item_ids:
            return 0
        with self._write() as db:
            return db.executemany("UPDATE cards SET retired = ? WHERE item_id = ? AND retired = ''",
                                  [(reason or "retired", i) for i in item_ids]).rowcount

    def review(self, learner: str, item: QuizItem, grade: Grade, answer: str, version: int,
               seconds: float | None = None) -> ReviewResult:
        """Record `grade` as a review of the learner's card for `item`, asked at `version` (its reps then), and
        reschedule it, in one transaction. If the card was reviewed since (another process won), nothing is
        recorded and that review comes back as `repeat`."""
        if not 0.0 <= grade.score <= 1.0:
            raise ValueError(f"score {grade.score} outside [0, 1]")
        label = self.taxonomy.get(item.layer).label
        now = self.now()
        with self._write() as db:
            card = _card_of(db, item.id)
            if card is None or card.learner != learner:
                raise InvalidInput(f"Quiz item {item.id} is not one of {learner!r}'s review cards.",
                                   "Review the cards `tutor review` lists for that learner.")
            if card.reps != version:
                return self._last_review(db, card, item, label)
            check_clock(card, now)
            rating = rating_for(grade.score, item.kind, False, seconds, self.easy_seconds)
            after = schedule.review(self.scheduler, card, rating, grade.score, now)
            _put_card(db, after, insert=False)
            _log(db, after, "review", rating, grade.score, grade.correct, answer, grade.missing, grade.method, now,
                 card.due, seconds)
        return ReviewResult(replace(grade, next_review=after.due), RATINGS[rating], after.due, now, after.reps)

    def last_review(self, item: QuizItem) -> ReviewResult:
        """The latest review of the card for `item`, as a `repeat` result (nothing recorded)."""
        with self._db() as db:
            card = _card_of(db, item.id)
            if card is None:
                raise InvalidInput(f"Quiz item {item.id} has no review card.", "Answer it in its quiz first.")
            return self._last_review(db, card, item, self.taxonomy.get(item.layer).label)

    def _last_review(self, db: sqlite3.Connection, card: CardState, item: QuizItem, label: str) -> ReviewResult:
        r = db.execute("SELECT rating, score, correct, missing, method, reviewed FROM reviews WHERE item_id = ? "
                       "ORDER BY id DESC LIMIT 1", (item.id,)).fetchone()
        rating, score, correct, missing, method, reviewed = r
        g = Grade(item.id, bool(correct), float(score), item.chunk_id, item.span, method or "stored", item.layer,
                  label, item.answer, missing or "", repeat=True, next_review=card.due)
        return ReviewResult(g, RATINGS[schedule.Rating(rating)], card.due, from_epoch(reviewed), card.reps, repeat=True)

    # -- mastery ------------------------------------------------------------------------------------------
    def progress(self, learner: str) -> list[dict]:
        """One row per layer of the stack, 1 to 14: mastery (expected recall now, with coverage), answers counted,
        cards, cards due now and retention (mean expected recall of the layer's cards)."""
        now = self.now()
        with self._db() as db:
            answers = dict(db.execute("SELECT layer, COUNT(*) FROM attempts WHERE learner = ? GROUP BY layer",
                                      (learner,)).fetchall())
            reviewed = dict(db.execute("SELECT layer, COUNT(*) FROM reviews WHERE learner = ? AND source = 'review' "
                                       "GROUP BY layer", (learner,)).fetchall())
            rows = db.execute(f"SELECT {_CARD_COLUMNS} FROM cards c JOIN items i ON i.id = c.item_id "
                              "WHERE c.learner = ? AND c.retired = ''", (learner,)).fetchall()
        cards: dict[int, list[CardState]] = {}
        for row in rows:
            card = _card(row)
            cards.setdefault(card.layer, []).append(card)
        out = []
        for layer in self.taxonomy:
            if layer.number < 1:
                continue
            mine = cards.get(layer.number, [])
            recall = [schedule.retrievability(self.scheduler, c, now) for c in mine]
            strength = [r * c.last_score for r, c in zip(recall, mine)]
            coverage = min(1.0, len(mine) / MIN_ATTEMPTS)
            m = (sum(strength) / len(mine)) * coverage if mine else 0.0
            out.append({"layer": layer.number, "name": layer.name, "mastery": round(m, 3),
                        "attempts": int(answers.get(layer.number, 0) + reviewed.get(layer.number, 0)),
                        "mastered": len(mine) >= MIN_ATTEMPTS and m >= MASTERED, "cards": len(mine),
                        "due": sum(c.due <= now for c in mine),
                        "retention": round(sum(recall) / len(recall), 3) if recall else 0.0})
        return out

    def next_step(self, learner: str) -> dict:
        return recommend(self.progress(learner))

    def integrity_ok(self) -> bool:
        with self._db() as db:
            return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def check_clock(card: CardState, now: datetime) -> None:
    """A review may not be dated before the card's last one (the system clock went backwards): nothing is written."""
    if card.last_review is not None and now < card.last_review:
        raise ClockError(f"The system clock reads {now:%Y-%m-%d %H:%M} UTC, earlier than this card's last review "
                         f"({card.last_review:%Y-%m-%d %H:%M} UTC); nothing was recorded.",
                         "Set the system clock right, then review again.")


def _card_of(db: sqlite3.Connection, item_id: str) -> CardState | None:
    row = db.execute(f"SELECT {_CARD_COLUMNS} FROM cards c WHERE c.item_id = ?", (item_id,)).fetchone()
    return _card(row) if row else None


def _put_card(db: sqlite3.Connection, c: CardState, insert: bool) -> None:
    values = (c.learner, c.layer, c.state, c.step, c.stability, c.difficulty, c.due.timestamp(),
              c.last_review.timestamp() if c.last_review else None, c.reps, c.last_score, c.item_id)
    if insert:
        db.execute("INSERT INTO cards (learner, layer, state, step, stability, difficulty, due, last_review, reps, "
                   "last_score, item_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)", values)
    else:
        db.execute("UPDATE cards SET learner = ?, layer = ?, state = ?, step = ?, stability = ?, difficulty = ?, due = ?, "
                   "last_review = ?, reps = ?, last_score = ? WHERE item_id = ?", values)


def _log(db: sqlite3.Connection, card: CardState, source: str, rating, score: float, correct: bool, answer: str,
         missing: str, method: str, when: datetime, due_before: datetime | None, seconds: float | None) -> None:
    db.execute("INSERT INTO reviews (item_id, learner, layer, source, rating, score, correct, answer, missing, method, "
               "reviewed, due_before, due_after, seconds) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
               (card.item_id, card.learner, card.layer, source, int(rating), float(score), int(correct),
                answer[:MAX_ANSWER_STORED], missing or "", method or "", when.timestamp(),
                due_before.timestamp() if due_before else None, card.due.timestamp(), seconds))


def _first(db: sqlite3.Connection, learner: str, item: QuizItem, label: str) -> Grade | None:
    row = db.execute("SELECT score, correct, missing, method FROM attempts WHERE item_id = ? AND learner = ? "
                     "ORDER BY id LIMIT 1", (item.id, learner)).fetchone()
    if row is None:
        return None
    score, correct, missing, method = row
    return Grade(item.id, bool(correct), float(score), item.chunk_id, item.span, method or "stored", item.layer,
                 label, item.answer, missing or "", repeat=True)


def recommend(progress: list[dict], reviews_first: bool = True) -> dict:
    """The next step and why: due reviews first (`action` "review", on the layer with most cards due), then the next
    layer to study (`action` "study") from mastery and the order of the stack."""
    due = sum(r.get("due", 0) for r in progress)
    if reviews_first and due:
        top = max(progress, key=lambda r: (r.get("due", 0), -r["layer"]))
        where = [f"{r['due']} in L{r['layer']} {r['name']}" for r in sorted(progress, key=lambda r: -r.get("due", 0))
                 if r.get("due")]
        more = f" (and {len(where) - 3} more layers)" if len(where) > 3 else ""
        why = (f"Review first: {due} card{'s are' if due != 1 else ' is'} due ({', '.join(where[:3])}{more}). "
               f"Recalling what you learnt just as you start to forget it keeps it; new layers come after.")
        return {**_pick(top), "reason": why, "prerequisites": list(PREREQUISITES[top["layer"]]), "action": "review",
                "due": due}
    by = {r["layer"]: r for r in progress}

    def names(layers) -> str:
        return ", ".join(f"L{n} {by[n]['name']}" for n in layers)

    ready = [r for r in progress if not r["mastered"] and all(by[p]["mastered"] for p in PREREQUISITES[r["layer"]])]
    if not ready:
        weakest = min(progress, key=lambda r: (r["mastery"], r["layer"]))
        return {**_pick(weakest), "reason": f"You have mastered all {len(progress)} layers. Review the weakest, "
                                           f"L{weakest['layer']} {weakest['name']} (mastery {weakest['mastery']:.0%}).",
                "prerequisites": list(PREREQUISITES[weakest["layer"]]), "action": "study", "due": due}
    started = [r for r in ready if r["attempts"]]
    r = started[0] if started else ready[0]
    pre = PREREQUISITES[r["layer"]]
    if r["attempts"]:
        cards = r.get("cards", r["attempts"])
        need = max(0, MIN_ATTEMPTS - cards)
        how = (f"{need} more question{'s' if need != 1 else ''} answered and a score of {MASTERED:.0%}" if need
               else f"a mastery of {MASTERED:.0%} (what you recall now: it fades without reviews)")
        why = (f"Keep going with L{r['layer']} {r['name']}: mastery {r['mastery']:.0%} after {r['attempts']} "
               f"answer{'s' if r['attempts'] != 1 else ''}; it is mastered with {how}.")
    elif pre:
        why = (f"Study L{r['layer']} {r['name']} next: it builds on {names(pre)}, which you have mastered, and it "
               f"is the lowest layer of the stack you have not mastered yet.")
    else:
        why = (f"Start with L{r['layer']} {r['name']}: it is the foundation the layers above it build on, and it "
               f"is the lowest layer of the stack you have not mastered yet.")
    if due:  # reviews_first=False (a quiz on new material was asked for): still say the reviews are waiting
        why += f" ({due} review{'s are' if due != 1 else ' is'} due too.)"
    return {**_pick(r), "reason": why, "prerequisites": list(pre), "action": "study", "due": due}


def _pick(r: dict) -> dict:
    return {"layer": r["layer"], "name": r["name"], "mastery": r["mastery"], "attempts": r["attempts"]}
