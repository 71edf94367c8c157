"""Errors a user can act on. Every message says what went wrong and how to fix it."""

from __future__ import annotations


class TutorError(Exception):
    """Base class: `str(err)` is a one-line message for the user, ending with how to fix it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(f"{message} {hint}" if hint else message)


class InvalidInput(TutorError):
    """The caller passed something the tutor cannot use (empty, too long, out of range)."""

    exit_code = 2


class ConfigError(TutorError):
    """A setting is wrong or a required file/model is missing."""


class ClockError(TutorError):
    """The system clock reads earlier than something already recorded (a review): nothing is written."""


class IndexUnavailable(TutorError):
    """The vector index cannot be opened (locked by another process, unreadable, corrupt, unreachable)."""


class IndexEmpty(TutorError):
    """Nothing has been ingested yet."""


class LLMUnavailable(TutorError):
    """The LLM server cannot be reached, refused the request, or died."""


class LLMTimeout(LLMUnavailable):
    """The LLM did not answer in time."""
