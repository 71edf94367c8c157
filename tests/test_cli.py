"""The `tutor` command: the output shapes other tools rely on, and every bad input.

Most tests run it in this process (click's CliRunner on `tutor.cli.main`, with the environment a subprocess
would get; each on its own copy of the index, since an embedded Qdrant folder opens once per process); the
smoke tests at the end run the real command in a subprocess."""

from __future__ import annotations

import json

import pytest

from tutor.knowledge.index import VectorStore

from fixtures.tutor import invoke_tutor, make_settings, run_tutor


def _ok(r):
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert b"Traceback" not in r.stderr
    return r


def _fails_cleanly(r, *needles: str):
    err = r.stderr.decode(errors="replace")
    assert r.returncode != 0
    assert "Traceback" not in err and "Error:" in err
    assert len([line for line in err.strip().splitlines() if line.startswith("Error:")]) == 1
    for n in needles:
        assert n in err, err
    return err


def test_help_explains_every_command(netguard_log):
    out = _ok(invoke_tutor(["ask", "--help"], None, netguard_log)).stdout.decode()
    assert "--batch" in out and "OPENAI_BASE_URL" in out and "Examples" in out
    out = _ok(invoke_tutor(["chat", "--help"], None, netguard_log)).stdout.decode()
    assert "/reset" in out and "/quit" in out
    out = _ok(invoke_tutor(["search", "--help"], None, netguard_log)).stdout.decode()
    assert "--layer" in out and "--batch" in out and "Examples" in out


def test_layers_json_shape(index_copy, netguard_log):
    rows = json.loads(_ok(invoke_tutor(["layers", "--json"], index_copy, netguard_log)).stdout)
    assert [r["layer"] for r in rows] == list(range(1, 15))
    for r in rows:
        assert set(r) == {"layer", "name", "summary", "chunks"}
        assert isinstance(r["chunks"], int) and r["chunks"] > 0 and r["name"] and r["summary"]


NVLINK_SEARCH = ["search", "What does NVLink connect?", "-k", "3", "--layer", "4", "--json"]


def test_search_json_and_readable(index_copy, netguard_log):
    out = json.loads(_ok(invoke_tutor(NVLINK_SEARCH, index_copy, netguard_log)).stdout)
    assert out["question"] == "What does NVLink connect?"
    assert len(out["results"]) == 3
    for r in out["results"]:
        assert set(r) == {"chunk_id", "doc", "layer", "layer_name", "score", "text"} and r["layer"] == 4
    text = _ok(invoke_tutor(["search", "What is EUV lithography?", "-k", "2"], index_copy, netguard_log)).stdout.decode()
    assert "1. [L" in text and "2. [L" in text and "Semiconductor Fabrication" in text


def test_search_batch_prints_json_lines(index_copy, netguard_log, tmp_path):
    f = tmp_path / "qs.txt"
    f.write_bytes(b"What is CoWoS?\n\nWhy is power the bottleneck?\n\xff\xfe broken\n" + b"y" * 200_000 + b"\n")
    r = invoke_tutor(["search", "--batch", str(f), "-k", "2", "--json"], index_copy, netguard_log)
    lines = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert len(lines) == 4  # the blank line is skipped; bad lines get an error object, the rest still answered
    assert lines[0]["question"] == "What is CoWoS?" and len(lines[0]["results"]) == 2
    assert len(lines[1]["results"]) == 2
    assert "UTF-8" in lines[2]["error"] and lines[2]["results"] == []
    assert "limit" in lines[3]["error"]
    assert r.returncode == 1 and b"2 of 4 lines" in r.stderr and b"Traceback" not in r.stderr


def test_search_before_ingest_indexes_first(tmp_path, netguard_log):
    r = _ok(invoke_tutor(["search", "What is a TPU?", "-k", "1", "--json"], tmp_path / "fresh", netguard_log))
    assert b"indexing it first" in r.stderr
    assert len(json.loads(r.stdout)["results"]) == 1


@pytest.mark.parametrize("args,needle", [
    (["search", ""], "empty"),
    (["search", "   \t "], "empty"),
    (["search", "x" * 100_000], "limit"),
    (["search", "why\x1b[2J"], "control characters"),
    (["search", "What is a GPU?", "-k", "0"], "out of range"),
    (["search", "What is a GPU?", "-k", "10000"], "out of range"),
    (["search", "What is a GPU?", "--layer", "99"], "no layer 99"),
    (["search"], "QUESTION or --batch"),
    (["search", "--batch", "/no/such/file.txt"], "Cannot read"),
    (["ask", ""], "empty"),
    (["ask", "x" * 100_000], "limit"),
    (["ask", "why\x1b[2J"], "control characters"),
    (["ask"], "QUESTION or --batch"),
    (["ask", "--batch", "/no/such/file.jsonl"], "Cannot read"),
])
def test_bad_input_gets_one_clean_line(index_copy, netguard_log, args, needle):
    _fails_cleanly(invoke_tutor(args, index_copy, netguard_log), needle)


def test_non_utf8_argument(index_copy, netguard_log):
    # invoke_tutor decodes bytes as Python decodes a real argv (os.fsdecode: surrogateescape)
    _fails_cleanly(invoke_tutor(["search", b"caf\xe9 \xff"], index_copy, netguard_log), "UTF-8")
    _fails_cleanly(invoke_tutor(["ask", b"caf\xe9 \xff"], index_copy, netguard_log), "UTF-8")


def test_wrong_type_for_k_is_a_usage_error(index_copy, netguard_log):
    r = invoke_tutor(["search", "What is a GPU?", "-k", "many"], index_copy, netguard_log)
    assert r.returncode == 2 and b"Traceback" not in r.stderr and b"-k" in r.stderr


def test_corrupt_index_says_how_to_rebuild(index_copy, netguard_log):
    (index_copy / "qdrant" / "meta.json").write_text("{corrupt")
    _fails_cleanly(invoke_tutor(["search", "What is a GPU?"], index_copy, netguard_log), "tutor ingest --rebuild")


def test_invalid_setting_is_explained(index_copy, netguard_log):
    _fails_cleanly(invoke_tutor(["layers"], index_copy, netguard_log, env_extra={"TUTOR_TOP_K": "lots"}), "TUTOR_TOP_K")


def test_settings_from_outside_do_not_leak_in(index_copy, netguard_log, monkeypatch):
    monkeypatch.setenv("TUTOR_TOP_K", "lots")  # as a developer's shell might have it
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    _ok(invoke_tutor(["layers", "--json"], index_copy, netguard_log))


def test_ingest_is_idempotent_from_the_cli(index_copy, netguard_log):
    out = json.loads(_ok(invoke_tutor(["ingest", "--json"], index_copy, netguard_log)).stdout)
    assert out["unchanged"] is True and out["added"] == 0 and out["chunks"] > 300


# -- the real command, in a subprocess --------------------------------------------------------------------------------
def test_real_command_help_lists_every_command(netguard_log):
    out = _ok(run_tutor(["--help"], None, netguard_log)).stdout.decode()
    for cmd in ("ingest", "layers", "search", "ask", "chat"):
        assert cmd in out


def test_real_command_search_json_is_what_the_in_process_one_prints(session_index, index_copy, netguard_log):
    real = json.loads(_ok(run_tutor(NVLINK_SEARCH, session_index, netguard_log)).stdout)
    here = json.loads(_ok(invoke_tutor(NVLINK_SEARCH, index_copy, netguard_log)).stdout)
    assert real["question"] == here["question"] and len(real["results"]) == 3
    assert [{k: v for k, v in r.items() if k != "score"} for r in real["results"]] == \
        [{k: v for k, v in r.items() if k != "score"} for r in here["results"]]
    assert [r["score"] for r in real["results"]] == pytest.approx([r["score"] for r in here["results"]], abs=1e-4)


def test_real_command_bad_input_is_one_line_and_exit_code_2(session_index, netguard_log):
    r = run_tutor(["search", ""], session_index, netguard_log)
    _fails_cleanly(r, "empty")
    assert r.returncode == 2  # InvalidInput


def test_locked_index_is_explained_and_nothing_is_lost(index_copy, netguard_log):
    """The index held by another process (this one): the real command says so and changes nothing."""
    holder = VectorStore(make_settings(index_copy))
    try:
        n = holder.count()
        _fails_cleanly(run_tutor(["search", "What is a GPU?"], index_copy, netguard_log), "in use by another")
        _fails_cleanly(run_tutor(["ingest", "--rebuild"], index_copy, netguard_log), "in use by another")
        assert holder.count() == n
    finally:
        holder.close()
    assert _ok(run_tutor(["ingest"], index_copy, netguard_log)).stdout.startswith(b"Index is up to date")
