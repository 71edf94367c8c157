"""Spaced review with FSRS, mastery that fades with time, flashcards: the real progress store (SQLite), the real
`fsrs` scheduler and the corpus's real passages (chunked without the embedding model), an injectable clock.
The CLI versions run in-process over the session index (test_learn.py's fixtures)."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from fsrs import Rating

from tutor.errors import ClockError, ConfigError, InvalidInput
from tutor.knowledge.corpus import build_chunks
from tutor.knowledge.facts import contains
from tutor.knowledge.layers import Taxonomy
from tutor.learning import schedule
from tutor.learning.cards import anki_tsv, flashcards
from tutor.learning.coach import Coach
from tutor.learning.grading import Grade
from tutor.learning.progress import MASTERED, SCHEMA_VERSION, ProgressStore, recommend
from tutor.learning.quiz import QuizItem
from tutor.learning.schedule import rating_for

from fixtures.tutor import ROOT, invoke_tutor

TAX = Taxonomy.load(ROOT / "corpus")
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)


class Clock:
    """The store's now, moved by the test."""

    def __init__(self, t: datetime = T0):
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw) -> datetime:
        self.t += timedelta(**kw)
        return self.t


@pytest.fixture(scope="module")
def passages():
    return [c for c in build_chunks(ROOT / "corpus", TAX, 160, 24) if c.layer >= 1]


def store_for(tmp_path, clock, name="p.sqlite") -> ProgressStore:
    return ProgressStore(tmp_path / name, TAX, clock, schedule.make_scheduler(fuzz=False))


def coach_for(tmp_path, passages, clock) -> Coach:
    return Coach(TAX, lambda: passages, None, store_for(tmp_path, clock), "ada", False)


def letter(item: QuizItem) -> str:
    return "ABCD"[item.choices.index(item.answer)]


def wrong(item: QuizItem) -> str:
    return next(c for c in item.choices if c != item.answer)


def _item(n: int = 0, layer: int = 2, kind: str = "short") -> QuizItem:
    return QuizItem(id=f"q-{n:010x}", layer=layer, question="Which company makes most advanced chips?", kind=kind,
                    answer="TSMC", chunk_id="c1", doc="d.txt", span="TSMC makes about 90% of the most advanced chips.",
                    choices=["TSMC", "Intel", "Samsung", "AMD"] if kind == "mcq" else None, fact="entity")


def _grade(item: QuizItem, score: float) -> Grade:
    return Grade(item.id, score >= 0.99, float(score), item.chunk_id, item.span, "match", item.layer, "", item.answer)


# -- the grade -> rating mapping -----------------------------------------------------------------------------
def test_grades_map_to_fsrs_ratings():
    assert rating_for(0.0, "short", True) == Rating.Again
    assert rating_for(0.5, "mcq", True) == Rating.Hard
    assert rating_for(1.0, "short", True) == Rating.Good
    assert rating_for(1.0, "mcq", True) == Rating.Easy, "right on a first-try multiple choice"
    assert rating_for(1.0, "mcq", False) == Rating.Good, "a review of a multiple-choice card is not a first try"
    assert rating_for(1.0, "short", False, seconds=3.0, easy_seconds=8) == Rating.Easy, "right and fast"
    assert rating_for(1.0, "short", False, seconds=30.0, easy_seconds=8) == Rating.Good
    assert rating_for(0.0, "mcq", True, seconds=1.0) == Rating.Again, "fast but wrong is still wrong"


def test_a_first_grade_makes_a_card_scheduled_by_its_rating(tmp_path):
    clock = Clock()
    store = store_for(tmp_path, clock)
    items = [_item(1), _item(2), _item(3), _item(4, kind="mcq")]
    store.save_items("ada", items)
    due = {i.id: store.record("ada", i, _grade(i, s), "x").next_review for i, s in zip(items, (0, 0.5, 1, 1))}
    assert due[items[0].id] == T0 + timedelta(minutes=1)  # Again: the first learning step
    assert due[items[1].id] == T0 + timedelta(minutes=5.5)  # Hard: between the two learning steps
    assert due[items[2].id] == T0 + timedelta(minutes=10)  # Good: the second learning step
    assert due[items[3].id] >= T0 + timedelta(days=7)  # Easy: straight to days
    log = store.reviews("ada")
    assert [r["rating"] for r in log] == ["again", "hard", "good", "easy"] and {r["source"] for r in log} == {"quiz"}
    # Grading again returns the first grade (with its card's next review) and changes nothing.
    again = store.record("ada", items[0], _grade(items[0], 1.0), "TSMC")
    assert again.repeat and again.score == 0 and again.next_review == due[items[0].id]
    assert len(store.reviews("ada")) == 4 and store.card(items[0].id).reps == 1


# -- review ------------------------------------------------------------------------------------------------
def test_review_asks_the_longest_due_first_and_reschedules(tmp_path, passages):
    clock = Clock()
    coach = coach_for(tmp_path, passages, clock)
    items = coach.quiz("ada", 3, 4, "mcq", seed=4).items
    for k, item in enumerate(items):
        coach.grade(item.id, wrong(item) if k < 3 else letter(item))  # three Again (due in a minute), one Easy
        clock.advance(seconds=10)
    assert coach.due("ada").cards == [] and coach.due("ada").next_due == T0 + timedelta(minutes=1)
    clock.advance(minutes=5)
    queue = coach.due("ada", n=2)
    assert queue.total_due == 3 and [c.item.id for c in queue.cards] == [items[0].id, items[1].id]
    assert queue.cards[0].due < queue.cards[1].due and queue.cards[0].version == 1
    r = coach.review(items[0].id, letter(items[0]), version=queue.cards[0].version)
    assert r.grade.correct and r.rating == "good" and not r.repeat and r.reps == 2
    assert r.due == clock.t + timedelta(minutes=10) and r.reviewed == clock.t
    assert r.grade.next_review == r.due and "[L3 · " in r.grade.feedback
    assert coach.due("ada").total_due == 2
    # The same card again at the version it was asked at: another review won, nothing is counted twice.
    stale = coach.review(items[0].id, wrong(items[0]), version=queue.cards[0].version)
    assert stale.repeat and stale.grade.correct and stale.reps == 2 and len(coach.store.reviews("ada", items[0].id)) == 2
    # A card that is not due cannot be reviewed (nothing recorded); bad answers record nothing either.
    with pytest.raises(InvalidInput, match="not due until"):
        coach.review(items[3].id, letter(items[3]))
    with pytest.raises(InvalidInput, match="not one of the choices"):
        coach.review(items[1].id, "Z) nothing")
    assert coach.store.card(items[1].id).reps == 1
    r = coach.review(items[1].id, wrong(items[1]))
    assert r.rating == "again" and r.due == clock.t + timedelta(minutes=1)


def test_review_input_errors(tmp_path, passages):
    clock = Clock()
    coach = coach_for(tmp_path, passages, clock)
    item = coach.quiz("ada", 5, 1, "mcq", seed=1).items[0]
    with pytest.raises(InvalidInput, match="not a review card yet"):
        coach.review(item.id, "A")  # never answered
    coach.grade(item.id, wrong(item))
    clock.advance(minutes=2)
    with pytest.raises(InvalidInput, match="another learner"):
        coach.review(item.id, "A", learner="bob")
    with pytest.raises(InvalidInput, match="not a card version"):
        coach.review(item.id, "A", version="1")
    with pytest.raises(InvalidInput, match="number of reviews"):
        coach.due("ada", n=0)
    with pytest.raises(InvalidInput, match="There is no quiz item"):
        coach.review("q-ffffffffff", "A")
    stranger = coach.due("zed")
    assert stranger.cards == [] and not stranger.known and stranger.total_due == 0 and stranger.next_due is None
    assert all(r["cards"] == r["due"] == r["attempts"] == 0 and r["mastery"] == 0 for r in coach.progress("zed"))


def _review_race(args):
    """One process: reviews the shared card at the version all of them were shown."""
    path, when, version = args
    store = ProgressStore(path, TAX, lambda: datetime.fromisoformat(when), schedule.make_scheduler(fuzz=False))
    item = store.item("q-00000000aa")
    return store.review("ada", item, _grade(item, 1.0), "TSMC", version).repeat


def test_concurrent_reviews_of_one_card_count_once(tmp_path):
    clock = Clock()
    store = store_for(tmp_path, clock)
    item = _item(0xAA)
    store.save_items("ada", [item])
    store.record("ada", item, _grade(item, 0), "no idea")
    when = clock.advance(minutes=3).isoformat()
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        repeats = pool.map(_review_race, [(tmp_path / "p.sqlite", when, 1)] * 4)
    assert sorted(repeats) == [False, True, True, True]
    assert store.card(item.id).reps == 2 and [r["source"] for r in store.reviews("ada")] == ["quiz", "review"]
    assert store.progress("ada")[1]["attempts"] == 2 and store.integrity_ok()


def test_a_clock_earlier_than_the_last_review_is_a_clear_error_and_writes_nothing(tmp_path, passages):
    clock = Clock()
    coach = coach_for(tmp_path, passages, clock)
    item = coach.quiz("ada", 3, 1, "mcq", seed=2).items[0]
    coach.grade(item.id, wrong(item))
    clock.advance(minutes=5)
    version = coach.due("ada").cards[0].version
    clock.t = T0 - timedelta(days=1)  # the system clock jumps back a day
    with pytest.raises(ClockError, match="Set the system clock right"):
        coach.review(item.id, letter(item), version=version)
    card = coach.store.card(item.id)
    assert card.reps == 1 and card.last_review == T0 and len(coach.store.reviews("ada")) == 1
    row = coach.progress("ada")[2]  # reading works: no time has passed as far as recall goes
    assert row["cards"] == 1 and row["retention"] == 1.0 and row["due"] == 0 and coach.store.integrity_ok()
    clock.t = T0 + timedelta(minutes=5)
    assert coach.review(item.id, letter(item), version=version).reps == 2  # once the clock is right, it works


def test_cards_of_deleted_items_and_vanished_passages_are_left_out(tmp_path, passages):
    clock = Clock()
    kept = list(passages)
    coach = Coach(TAX, lambda: kept, None, store_for(tmp_path, clock), "ada", False)
    items = coach.quiz("ada", 4, 3, "mcq", seed=5).items
    for item in items:
        coach.grade(item.id, wrong(item))
    clock.advance(minutes=2)
    # An item deleted by hand (the sqlite3 shell does not enforce foreign keys): its card is ignored everywhere.
    with sqlite3.connect(tmp_path / "p.sqlite") as db:
        db.execute("DELETE FROM items WHERE id = ?", (items[0].id,))
    with pytest.raises(InvalidInput, match="There is no quiz item"):
        coach.review(items[0].id, "A")
    # The documents changed: item 1's passage is gone, so its card is retired (grades kept), not asked.
    kept[:] = [c for c in passages if c.chunk_id != items[1].chunk_id]
    coach._chunks = None
    queue = coach.due("ada")
    assert queue.retired == [items[1].id] and [c.item.id for c in queue.cards] == [items[2].id]
    assert coach.due("ada").retired == [] and coach.due("ada").total_due == 1
    row = coach.progress("ada")[3]
    assert row["cards"] == 1 and row["due"] == 1 and row["attempts"] == 3  # the answers still count as answers
    assert coach.store.attempts("ada") == 3 and coach.store.integrity_ok()


# -- mastery that fades ---------------------------------------------------------------------------------------
def test_mastery_rises_with_reviews_and_fades_without_them(tmp_path, passages):
    """Two simulated learners over 30 days, the same three right answers on day 0: ada reviews whenever cards are
    due, bo never does. Bo's mastery fades below mastered; ada's stays up; one review round brings bo's back."""
    clock = Clock()
    coach = coach_for(tmp_path, passages, clock)
    for who in ("ada", "bo"):
        items = coach.quiz(who, 3, 3, "short", seed=7).items
        coach.grade(items[0].id, items[0].answer, who)
        assert coach.progress(who)[2]["mastery"] == pytest.approx(1 / 3, abs=1e-3), "one card of three: coverage 1/3"
        for item in items[1:]:
            coach.grade(item.id, item.answer, who)
        row = coach.progress(who)[2]
        assert row["mastered"] and row["mastery"] == 1.0 and row["retention"] == 1.0 and row["cards"] == 3
    history: dict[str, list[float]] = {"ada": [], "bo": []}
    for _day in range(30):
        for card in coach.due("ada", n=10).cards:
            coach.review(card.item.id, card.item.answer, "ada", version=card.version)
        for who in history:
            history[who].append(coach.progress(who)[2]["mastery"])
        clock.advance(days=1)
    bo, ada = history["bo"], history["ada"]
    assert all(b <= a for a, b in zip(bo, bo[1:])) and bo[-1] < bo[5] < bo[0], bo  # fades, never rises by itself
    assert bo[-1] < MASTERED and not coach.progress("bo")[2]["mastered"], bo
    assert min(ada) >= MASTERED and ada[-1] > bo[-1], ada
    assert sum(r["source"] == "review" for r in coach.store.reviews("ada")) >= 6
    assert not coach.store.reviews("bo")[3:], "bo reviewed nothing"
    row = coach.progress("bo")[2]
    assert row["due"] == 3 and 0 < row["retention"] < MASTERED
    step = coach.next_step("bo")
    assert step["action"] == "review" and step["layer"] == 3 and "Review first: 3 cards are due" in step["reason"]
    for card in coach.due("bo").cards:  # reviewing brings it back
        coach.review(card.item.id, card.item.answer, "bo", version=card.version)
    assert coach.progress("bo")[2]["mastery"] == 1.0 and coach.next_step("bo")["action"] == "study"


def test_a_card_last_answered_wrong_adds_nothing_until_answered_right(tmp_path, passages):
    clock = Clock()
    coach = coach_for(tmp_path, passages, clock)
    items = coach.quiz("ada", 9, 3, "mcq", seed=3).items
    for item in items:
        coach.grade(item.id, wrong(item))
    row = coach.progress("ada")[8]
    assert row["mastery"] == 0 and row["retention"] == 1.0 and row["attempts"] == 3 and row["cards"] == 3


def test_the_path_reviews_due_cards_before_new_layers(tmp_path, passages):
    rows = [{"layer": n, "name": TAX.name(n), "mastery": 0.0, "attempts": 0, "mastered": False, "cards": 0, "due": 0,
             "retention": 0.0} for n in range(1, 15)]
    assert recommend(rows)["action"] == "study" and recommend(rows)["layer"] == 1
    rows[4].update(due=2, attempts=2, cards=2)
    rows[6].update(due=5, attempts=5, cards=5)
    step = recommend(rows)
    assert step["action"] == "review" and step["layer"] == 7 and step["due"] == 7
    assert step["reason"].startswith("Review first: 7 cards are due (5 in L7") and "2 in L5" in step["reason"]
    study = recommend(rows, reviews_first=False)
    assert study["action"] == "study" and study["layer"] == 1 and "7 reviews are due too" in study["reason"]
    # A quiz without a layer is new material: the path's study layer, saying the reviews wait.
    clock = Clock()
    coach = coach_for(tmp_path, passages, clock)
    item = coach.quiz("ada", 6, 1, "mcq", seed=1).items[0]
    coach.grade(item.id, wrong(item))
    clock.advance(minutes=2)
    assert coach.next_step("ada")["action"] == "review" and coach.next_step("ada")["layer"] == 6
    ui_step = coach.next_step("ada", reviews_first=False)  # a front end without a review mode (the browser UI)
    assert ui_step["action"] == "study" and ui_step["layer"] == 1 and "1 review is due too" in ui_step["reason"]
    q = coach.quiz("ada", None, 1, "mcq", seed=1)
    assert q.layer == 1 and "1 review is due too" in q.reason


# -- the store: migration, versions -----------------------------------------------------------------------
_V1 = """
CREATE TABLE items (id TEXT PRIMARY KEY, learner TEXT NOT NULL, layer INTEGER NOT NULL, kind TEXT NOT NULL,
    question TEXT NOT NULL, record TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, item_id TEXT NOT NULL REFERENCES items(id),
    learner TEXT NOT NULL, layer INTEGER NOT NULL CHECK (layer BETWEEN 1 AND 14),
    score REAL NOT NULL CHECK (score BETWEEN 0 AND 1), correct INTEGER NOT NULL CHECK (correct IN (0, 1)),
    answer TEXT NOT NULL, feedback TEXT NOT NULL, created REAL NOT NULL);
"""


def _old_database(path, n=6):
    """A progress database as the version before review cards wrote it (no missing/method columns even)."""
    items = [_item(k, layer=2 + k % 2, kind="mcq" if k % 3 == 0 else "short") for k in range(n)]
    with sqlite3.connect(path) as db:
        db.executescript(_V1)
        for k, i in enumerate(items):
            db.execute("INSERT INTO items VALUES (?,?,?,?,?,?,?)", (i.id, "ada", i.layer, i.kind, i.question,
                                                                    json.dumps(i.to_record()), T0.timestamp() + k))
            score = (1.0, 0.0, 0.5)[k % 3]
            db.execute("INSERT INTO attempts (item_id, learner, layer, score, correct, answer, feedback, created) "
                       "VALUES (?,?,?,?,?,?,?,?)", (i.id, "ada", i.layer, score, int(score == 1), "a", "f",
                                                    T0.timestamp() + 60 * k))
    return items


def test_an_old_database_migrates_without_losing_attempts(tmp_path):
    path = tmp_path / "p.sqlite"
    items = _old_database(path)
    clock = Clock(T0 + timedelta(days=2))
    store = store_for(tmp_path, clock)
    assert store.attempts("ada") == 6 and all(store.card(i.id) for i in items)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 6
    log = store.reviews("ada")
    assert [r["source"] for r in log] == ["migrated"] * 6
    assert [r["rating"] for r in log] == ["easy", "again", "hard", "easy", "again", "hard"]  # mcq right is Easy
    assert log[1]["reviewed"] == T0 + timedelta(minutes=1), "reviewed when it was graded"
    rows = store.progress("ada")
    assert rows[1]["cards"] == 3 and rows[1]["attempts"] == 3 and rows[1]["due"] == 2  # Again and Hard are due
    ProgressStore(path, TAX, clock)  # opening again migrates nothing twice
    assert len(store.reviews("ada")) == 6 and store.integrity_ok()


def _open(args):
    path, when = args
    ProgressStore(path, TAX, lambda: datetime.fromisoformat(when))
    return True


def test_processes_opening_an_old_database_at_once_migrate_it_once(tmp_path):
    path = tmp_path / "p.sqlite"
    _old_database(path, n=30)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert all(pool.map(_open, [(path, T0.isoformat())] * 4))
    store = store_for(tmp_path, Clock())
    assert len(store.reviews("ada")) == 30 and store.attempts("ada") == 30 and store.integrity_ok()


def test_a_database_from_a_newer_version_is_refused_untouched(tmp_path):
    path = tmp_path / "p.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ConfigError, match="newer stack-tutor"):
        ProgressStore(path, TAX)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0


# -- flashcards ---------------------------------------------------------------------------------------------
def test_flashcards_are_checked_facts_with_the_verbatim_span_and_its_citation(passages):
    by_id = {c.chunk_id: c for c in passages}
    deck = flashcards(passages, TAX)
    assert len(deck) > 200 and len({c.id for c in deck}) == len(deck)
    assert {c.layer for c in deck} == set(range(1, 15)) and {c.fact for c in deck} == {"term", "figure"}
    for c in deck:
        chunk = by_id[c.chunk_id]
        assert c.back in chunk.text and contains(c.back, c.answer) and c.layer == chunk.layer
        assert c.label == TAX.get(c.layer).label and c.cited_back.endswith(f"[{c.label}]")
        if c.fact == "term":
            assert c.front == c.answer
        else:
            assert "___" in c.front and not contains(c.front.replace("___", " "), c.answer)
    assert flashcards(passages, TAX) == deck, "the same corpus gives the same deck"
    l3 = flashcards(passages, TAX, 3)
    assert l3 and {c.layer for c in l3} == {3} and set(l3) <= set(deck)


def test_the_anki_export_is_tab_separated_with_anki_headers(passages):
    deck = flashcards(passages, TAX, 3)
    text = anki_tsv(deck)
    lines = text.splitlines()
    headers = [ln for ln in lines if ln.startswith("#")]
    assert "#separator:tab" in headers and "#html:false" in headers and "#tags column:3" in headers
    rows = [ln.split("\t") for ln in lines if not ln.startswith("#")]
    assert len(rows) == len(deck) and all(len(r) == 3 for r in rows)
    for (front, back, tags), card in zip(rows, deck):
        assert front == " ".join(card.front.split()) and back.endswith(f"[{card.label}]")
        assert " ".join(card.back.split()) in back and "stack-tutor::L03" in tags.split()


# -- the CLI (in this process, over the session index, with the review clock moved) -----------------------------
def _at(monkeypatch, clock: Clock) -> None:
    monkeypatch.setattr(schedule, "utc_now", clock)


def test_cli_review_cards_and_progress(index_copy, netguard_log, monkeypatch, tmp_path):
    clock = Clock()
    _at(monkeypatch, clock)
    run = lambda *args, **kw: invoke_tutor(list(args), index_copy, netguard_log, **kw)  # noqa: E731
    none = run("review", "--learner", "ada")
    assert none.returncode == 0 and "'ada' has no review cards yet" in none.stdout.decode()
    items = json.loads(run("quiz", "--layer", "3", "--n", "3", "--kind", "mcq", "--json", "--no-llm", "--learner",
                           "ada").stdout)["items"]
    for k, item in enumerate(items):
        choice = item["answer"] if k == 0 else next(c for c in item["choices"] if c != item["answer"])
        g = run("grade", item["id"], choice, "--learner", "ada", "--json")
        assert g.returncode == 0 and json.loads(g.stdout)["next_review"], g.stderr.decode()
        clock.advance(seconds=1)  # answered one after the other: the second card falls due first
    clock.t = T0
    human = run("grade", items[1]["id"], "A", "--learner", "ada").stdout.decode()
    assert "Next review of this card: in 1 minute (2030-01-01 09:01 UTC)." in human
    later = run("review", "--learner", "ada").stdout.decode()
    assert "No cards are due now. Next review: in 1 minute (2030-01-01 09:01 UTC)." in later
    clock.advance(minutes=3)
    listed = json.loads(run("review", "--learner", "ada", "--json").stdout)
    assert listed["total_due"] == 2 and [c["id"] for c in listed["cards"]] == [items[1]["id"], items[2]["id"]]
    assert {"question", "choices", "due", "version"} <= set(listed["cards"][0]) and listed["known_learner"]
    one = run("review", items[1]["id"], items[1]["answer"], "--learner", "ada", "--json", "--card-version", "1")
    out = json.loads(one.stdout)
    assert one.returncode == 0 and out["correct"] and out["rating"] == "good" and out["reviews"] == 2
    assert out["next_review"] == (clock.t + timedelta(minutes=10)).isoformat() and "[L3 · " in out["feedback"]
    again = json.loads(run("review", items[1]["id"], "A", "--learner", "ada", "--json", "--card-version", "1").stdout)
    assert again["repeat"] and again["correct"], "a stale version gets the review that won"
    # Interactive: the one card still due, answered from stdin (a bad letter first).
    right = "ABCD"[items[2]["choices"].index(items[2]["answer"])]
    r = run("review", "--learner", "ada", "--interactive", input_bytes=f"Z\n{right}\n".encode())
    text = r.stdout.decode()
    assert r.returncode == 0 and "not one of the choices" in r.stderr.decode()
    assert "Review: 1 card(s) due" in text and "Correct" in text and "Reviewed 1 card(s), 1 right." in text
    assert "Next review of this card: in 10 minutes" in text, "piped answers are not timed: right is Good, not Easy"
    assert "No cards are due now. Next review: in 10 minutes" in text
    rows = json.loads(run("progress", "--learner", "ada", "--json").stdout)
    assert {"layer", "name", "mastery", "attempts", "mastered", "due", "retention", "cards"} == set(rows[2])
    assert rows[2]["cards"] == 3 and rows[2]["attempts"] == 5 and rows[2]["due"] == 0 and rows[2]["retention"] == 1.0
    clock.advance(days=40)
    rows = json.loads(run("progress", "--learner", "ada", "--json").stdout)
    assert rows[2]["due"] == 3 and rows[2]["retention"] < 1.0
    human = run("progress", "--learner", "ada").stdout.decode()
    assert "3 due" in human and "Next: review 3 due cards" in human and "tutor review" in human
    step = json.loads(run("path", "--learner", "ada", "--json").stdout)
    assert step["action"] == "review" and step["due"] == 3 and step["reason"].startswith("Review first")
    err = run("review", items[0]["id"], "--learner", "ada")
    assert err.returncode == 2 and "needs an answer too" in err.stderr.decode()
    err = run("review", "--n", "0", "--learner", "ada")
    assert err.returncode == 2 and "number of reviews" in err.stderr.decode()
    with sqlite3.connect(index_copy / "progress.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 3
        assert db.execute("SELECT COUNT(*) FROM reviews WHERE source = 'review'").fetchone()[0] == 2


def test_cli_cards_json_and_anki_export(index_copy, netguard_log, tmp_path):
    r = invoke_tutor(["cards", "--layer", "3", "--json"], index_copy, netguard_log)
    assert r.returncode == 0, r.stderr.decode()
    deck = json.loads(r.stdout)
    assert deck["count"] == len(deck["cards"]) > 5 and all(c["layer"] == 3 for c in deck["cards"])
    assert all(c["citation"] == "[L3 · AI Chips & Accelerators]" for c in deck["cards"])
    out = tmp_path / "deck.txt"
    r = invoke_tutor(["cards", "--layer", "3", "--anki", str(out)], index_copy, netguard_log)
    assert r.returncode == 0 and f"Wrote {deck['count']} flashcards" in r.stderr.decode()
    rows = [ln for ln in out.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    assert len(rows) == deck["count"] and rows[0].split("\t")[0] == deck["cards"][0]["front"]
    human = invoke_tutor(["cards", "--layer", "3"], index_copy, netguard_log).stdout.decode()
    assert "[L3 · AI Chips & Accelerators]" in human and f"{deck['count']} flashcards" in human
    bad = invoke_tutor(["cards", "--layer", "15"], index_copy, netguard_log)
    assert bad.returncode == 2 and "There is no layer 15" in bad.stderr.decode()
    bad = invoke_tutor(["cards", "--anki", str(tmp_path / "no" / "such" / "dir.txt")], index_copy, netguard_log)
    assert bad.returncode == 2 and "Cannot write" in bad.stderr.decode() and "Traceback" not in bad.stderr.decode()


# -- the MCP tools (the server in this process, over the session index, with its own clock) ---------------------
def test_mcp_review_and_cards_tools(index_copy):
    import functools

    from anyio.from_thread import start_blocking_portal
    from mcp import Client

    from tutor.app import TutorApp
    from tutor.mcp_server import build_server

    from fixtures.tutor import make_settings

    clock = Clock()
    settings = make_settings(index_copy, review_fuzz=False, quiz_llm_questions=False)
    with TutorApp(settings, clock=clock) as app, start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(Client(build_server(app))) as client:
            def call(name, **args):
                r = portal.call(functools.partial(client.call_tool, name, args))
                return r.is_error, (r.structured_content or {}), " ".join(getattr(b, "text", "") for b in r.content)

            err, out, _ = call("review", learner="mo")
            assert not err and out["cards"] == [] and not out["known_learner"] and out["next_due"] is None
            items = call("quiz", layer=5, n=2, kind="mcq", learner="mo")[1]["items"]
            for item in items:
                wrong_choice = next(c for c in item["choices"] if c != item["answer"])
                assert not call("grade", item_id=item["id"], answer=wrong_choice, learner="mo")[0]
            err, out, _ = call("review", learner="mo")
            assert out["total_due"] == 0 and out["next_due"] == (T0 + timedelta(minutes=1)).isoformat()
            clock.advance(minutes=2)
            out = call("review", learner="mo", n=1)[1]
            assert out["total_due"] == 2 and len(out["cards"]) == 1
            card = out["cards"][0]
            err, graded, _ = call("review", item_id=card["id"], answer=card["answer"], version=card["version"], learner="mo")
            assert not err and graded["correct"] and graded["rating"] == "good" and not graded["repeat"]
            assert graded["next_review"] == (clock.t + timedelta(minutes=10)).isoformat()
            again = call("review", item_id=card["id"], answer="A", version=card["version"], learner="mo")[1]
            assert again["repeat"] and again["correct"]
            for args, needle in [({"item_id": card["id"]}, "needs an answer"), ({"answer": "A"}, "needs the item_id"),
                                 ({"n": 0}, "number of reviews"), ({"item_id": "q-ffffffffff", "answer": "A"}, "no quiz item")]:
                err, _, text = call("review", learner="mo", **args)
                assert err and needle in text, text
            prog = call("progress", learner="mo")[1]
            assert prog["layers"][4]["due"] == 1 and prog["layers"][4]["cards"] == 2
            assert prog["next_step"]["action"] == "review" and prog["next_step"]["layer"] == 5

            page = call("cards", layer=3, limit=5)[1]
            assert len(page["cards"]) == 5 and page["count"] > 5 and page["next_offset"] == 5
            assert all(c["citation"] == "[L3 · AI Chips & Accelerators]" for c in page["cards"])
            rest = call("cards", layer=3, limit=1000, offset=5)[1]
            assert len(rest["cards"]) == page["count"] - 5 and rest["next_offset"] is None
            assert {c["id"] for c in rest["cards"]}.isdisjoint(c["id"] for c in page["cards"])
            err, _, text = call("cards", layer=15)
            assert err and "There is no layer 15" in text

            # studying a flashcard: asked as its quiz question, graded, then a review card like any quiz item
            fc = next(c for c in page["cards"] if c["fact"] == "figure")
            err, item, text = call("study_card", card_id=fc["id"], learner="mo")
            assert not err, text
            assert item["span"] == fc["back"] and item["answer"] == fc["answer"] and item["kind"] == "short"
            assert fc["answer"] not in item["question"].replace("___", "")
            assert call("study_card", card_id=fc["id"], learner="mo")[1]["id"] == item["id"]  # the same item
            graded = call("grade", item_id=item["id"], answer=fc["answer"], learner="mo")[1]
            assert graded["correct"] and graded["next_review"]
            assert call("progress", learner="mo")[1]["layers"][2]["cards"] == 1
            for args, needle in [({"card_id": "q-0000000000"}, "not a flashcard id"),
                                 ({"card_id": "c-0000000000"}, "no flashcard"), ({"card_id": "../x"}, "not a flashcard")]:
                err, _, text = call("study_card", learner="mo", **args)
                assert err and needle in text, text
