"""Teaching: quizzes made from checked facts, grading against the span, per-layer progress in SQLite, and
the `Coach` service every front end calls."""
