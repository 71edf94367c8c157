"""What each learner knows: quiz items, graded answers and per-layer mastery, in SQLite in the data directory.

- Items are stored when generated, so an item can be graded after a restart and from another process.
- One graded answer per item and learner: a second grade of the same item returns the first and records
  nothing (so grading again cannot inflate mastery), and an item is graded only for the learner it was
  made for. The check and the insert are one transaction, so concurrent grades of one item count once.
- Every graded answer is one row of `attempts`; mastery is computed from them (nothing derived is stored,
  so there is nothing to get out of step). Recent answers weigh more: the newest has weight 1, the one
  before it `DECAY`, then `DECAY**2`, … A layer counts as mastered after at least `MIN_ATTEMPTS` answers
  with a weighted score of at least `MASTERED`.
- Safe with concurrent sessions and processes: WAL journal, a busy timeout, one short transaction per
  write, a connection per call.

The learning path (`next_step`) follows the order of the stack: a layer is recommended once the layers it
builds on are mastered (chips before networking before data centers; architectures before alignment
before serving).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from tutor.errors import ConfigError, InvalidInput
from tutor.knowledge.layers import Taxonomy
from tutor.learning.grading import Grade
from tutor.learning.quiz import QuizItem

DECAY = 0.7
MIN_ATTEMPTS = 3
MASTERED = 0.8
RECENT_ITEMS = 60  # a learner's last N items are not asked again
MAX_ANSWER_STORED = 2000
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
"""


def learner_name(name: object) -> str:
    """A learner's name as stored: 1-64 letters, digits, spaces and . _ @ + -."""
    if not isinstance(name, str) or not _LEARNER.match(name.strip()):
        raise InvalidInput(f"{str(name)[:40]!r} is not a usable learner name.",
                           "Use 1-64 letters, digits, spaces or . _ @ + - (for example --learner ada).")
    return name.strip()


def mastery_of(scores: list[float]) -> float:
    """Recency-weighted mean of scores given oldest first (0.0 with none)."""
    if not scores:
        return 0.0
    weights = [DECAY ** (len(scores) - 1 - i) for i in range(len(scores))]
    return sum(w * s for w, s in zip(weights, scores)) / sum(weights)


class ProgressStore:
    def __init__(self, path: Path, taxonomy: Taxonomy):
        self.path = Path(path)
        self.taxonomy = taxonomy
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._db() as db:
                db.executescript(_SCHEMA)
                have = {row[1] for row in db.execute("PRAGMA table_info(attempts)")}
                for column in ("missing", "method"):  # added after the first release: older databases get them
                    if column not in have:
                        db.execute(f"ALTER TABLE attempts ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
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

    # -- items --------------------------------------------------------------------------------------------
    def save_items(self, learner: str, items: list[QuizItem]) -> None:
        now = time.time()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT INTO items (id, learner, layer, kind, question, record, created) VALUES (?,?,?,?,?,?,?)",
                               [(i.id, learner, i.layer, i.kind, i.question, json.dumps(i.to_record()), now + k * 1e-6)
                                for k, i in enumerate(items)])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

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

    # -- attempts -----------------------------------------------------------------------------------------
    def first_grade(self, learner: str, item: QuizItem) -> Grade | None:
        """The learner's graded answer to `item`, if there is one (marked `repeat`)."""
        with self._db() as db:
            return _first(db, learner, item, self.taxonomy.get(item.layer).label)

    def record(self, learner: str, item: QuizItem, grade: Grade, answer: str) -> Grade:
        """Record `grade` as the learner's answer to `item` and return it, unless the learner has a graded answer to
        it already (another process may have just written it): then nothing is recorded and that one is returned."""
        if not 0.0 <= grade.score <= 1.0:
            raise ValueError(f"score {grade.score} outside [0, 1]")
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                first = _first(db, learner, item, self.taxonomy.get(item.layer).label)
                if first is None:
                    db.execute("INSERT INTO attempts (item_id, learner, layer, score, correct, answer, feedback, created, "
                               "missing, method) VALUES (?,?,?,?,?,?,?,?,?,?)",
                               (item.id, learner, item.layer, float(grade.score), int(grade.correct),
                                answer[:MAX_ANSWER_STORED], grade.feedback, time.time(), grade.missing, grade.method))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return grade if first is None else first

    def attempts(self, learner: str, item_id: str | None = None) -> int:
        """How many graded answers the learner has (to one item, when given)."""
        sql, args = "SELECT COUNT(*) FROM attempts WHERE learner = ?", [learner]
        if item_id is not None:
            sql, args = sql + " AND item_id = ?", [*args, item_id]
        with self._db() as db:
            return int(db.execute(sql, args).fetchone()[0])

    def scores(self, learner: str) -> dict[int, list[float]]:
        with self._db() as db:
            rows = db.execute("SELECT layer, score FROM attempts WHERE learner = ? ORDER BY id", (learner,)).fetchall()
        out: dict[int, list[float]] = {}
        for layer, score in rows:
            out.setdefault(layer, []).append(score)
        return out

    def progress(self, learner: str) -> list[dict]:
        """One row per layer of the stack, 1 to 14: mastery (0-1, recent answers weigh more) and attempts."""
        scores = self.scores(learner)
        rows = []
        for layer in self.taxonomy:
            if layer.number < 1:
                continue
            s = scores.get(layer.number, [])
            m = mastery_of(s)
            rows.append({"layer": layer.number, "name": layer.name, "mastery": round(m, 3), "attempts": len(s),
                         "mastered": len(s) >= MIN_ATTEMPTS and m >= MASTERED})
        return rows

    def next_step(self, learner: str) -> dict:
        return recommend(self.progress(learner))

    def integrity_ok(self) -> bool:
        with self._db() as db:
            return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _first(db: sqlite3.Connection, learner: str, item: QuizItem, label: str) -> Grade | None:
    row = db.execute("SELECT score, correct, missing, method FROM attempts WHERE item_id = ? AND learner = ? "
                     "ORDER BY id LIMIT 1", (item.id, learner)).fetchone()
    if row is None:
        return None
    score, correct, missing, method = row
    return Grade(item.id, bool(correct), float(score), item.chunk_id, item.span, method or "stored", item.layer,
                 label, item.answer, missing or "", repeat=True)


def recommend(progress: list[dict]) -> dict:
    """The next layer to study and why, from mastery and the order of the stack."""
    by = {r["layer"]: r for r in progress}

    def names(layers) -> str:
        return ", ".join(f"L{n} {by[n]['name']}" for n in layers)

    ready = [r for r in progress if not r["mastered"] and all(by[p]["mastered"] for p in PREREQUISITES[r["layer"]])]
    if not ready:
        weakest = min(progress, key=lambda r: (r["mastery"], r["layer"]))
        return {**_pick(weakest), "reason": f"You have mastered all {len(progress)} layers. Review the weakest, "
                                           f"L{weakest['layer']} {weakest['name']} (mastery {weakest['mastery']:.0%})."}
    started = [r for r in ready if r["attempts"]]
    r = started[0] if started else ready[0]
    pre = PREREQUISITES[r["layer"]]
    if r["attempts"]:
        need = max(0, MIN_ATTEMPTS - r["attempts"])
        how = (f"{need} more answer{'s' if need != 1 else ''} and a score of {MASTERED:.0%}" if need
               else f"a score of {MASTERED:.0%} (recent answers count most)")
        why = (f"Keep going with L{r['layer']} {r['name']}: mastery {r['mastery']:.0%} after {r['attempts']} "
               f"answer{'s' if r['attempts'] != 1 else ''}; it is mastered with {how}.")
    elif pre:
        why = (f"Study L{r['layer']} {r['name']} next: it builds on {names(pre)}, which you have mastered, and it "
               f"is the lowest layer of the stack you have not mastered yet.")
    else:
        why = (f"Start with L{r['layer']} {r['name']}: it is the foundation the layers above it build on, and it "
               f"is the lowest layer of the stack you have not mastered yet.")
    return {**_pick(r), "reason": why, "prerequisites": list(pre)}


def _pick(r: dict) -> dict:
    return {"layer": r["layer"], "name": r["name"], "mastery": r["mastery"], "attempts": r["attempts"]}
