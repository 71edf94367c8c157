"""One helper that turns a job reporting through a callback into a stream of events (for front ends that
stream: the answer tokens of `Tutor.stream`, the questions of a quiz as they are written)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

from tutor.errors import TutorError

Emit = Callable[[str, object], None]


def as_error(e: BaseException) -> TutorError:
    """Any failure as a TutorError a person can read (ours pass through)."""
    if isinstance(e, TutorError):
        return e
    return TutorError(f"Unexpected {type(e).__name__}: {str(e)[:200]}.", "Please report this with what caused it.")


def events(job: Callable[[Emit], object], name: str = "tutor-job") -> Iterator[tuple[str, object]]:
    """Run `job(emit)` in a thread and yield every `(kind, payload)` it emits while it runs, then one last
    event: `("result", what it returned)` or `("error", TutorError)`. Never raises and never hangs on a
    failing job."""
    q: queue.Queue = queue.Queue()
    done = object()

    def run() -> None:
        try:
            q.put(("result", job(lambda kind, payload: q.put((kind, payload)))))
        except Exception as e:  # noqa: BLE001 - surfaced as an event, never lost in the thread
            q.put(("error", as_error(e)))
        q.put((done, None))

    threading.Thread(target=run, daemon=True, name=name).start()
    while True:
        kind, payload = q.get()
        if kind is done:
            return
        yield kind, payload
