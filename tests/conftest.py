"""Shared fixtures: the network guard, settings on tmp_path, and one real index built per session.

The session index is built once with the real embedding model into an embedded (on-disk) Qdrant under
a temporary folder; tests that need their own index copy that folder instead of re-embedding.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NETGUARD_DIR = Path(__file__).resolve().parent / "_netguard"
sys.path.insert(0, str(NETGUARD_DIR))
sys.path.insert(0, str(ROOT))

import netguard  # noqa: E402

import tutor  # noqa: E402,F401  (offline environment)
from tutor.settings import Settings  # noqa: E402

netguard.install()
TUTOR_BIN = Path(sys.executable).parent / "tutor"


@pytest.fixture(scope="session")
def netguard_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("netguard") / "violations.log"


@pytest.fixture(autouse=True)
def _no_network_violations(netguard_log):
    yield
    if netguard_log.exists() and netguard_log.read_text().strip():
        pytest.fail(f"a subprocess tried to reach the network:\n{netguard_log.read_text()}")


def make_settings(data_dir: Path, **kw) -> Settings:
    return Settings(data_dir=data_dir, corpus_dir=kw.pop("corpus_dir", ROOT / "corpus"), _env_file=None, **kw)


@pytest.fixture(scope="session")
def session_index(tmp_path_factory) -> Path:
    """A data dir holding the real index of the real corpus (built once per test session)."""
    from tutor.app import TutorApp

    data = tmp_path_factory.mktemp("session-index")
    with TutorApp(make_settings(data)) as app:
        report = app.ingest()
        assert report.chunks > 300 and not report.unchanged
    return data


@pytest.fixture
def index_copy(session_index, tmp_path) -> Path:
    """A private copy of the session index, for tests that change or lock it."""
    dest = tmp_path / "data"
    shutil.copytree(session_index, dest)
    return dest


@pytest.fixture(scope="session")
def app(session_index, tmp_path_factory):
    """A TutorApp over a copy of the session index (the original stays free for CLI subprocesses)."""
    from tutor.app import TutorApp

    data = tmp_path_factory.mktemp("app-index")
    shutil.copytree(session_index, data, dirs_exist_ok=True)
    with TutorApp(make_settings(data)) as a:
        yield a


@pytest.fixture(scope="session")
def model_file():
    """The packaged model, assembled once into the project's default data dir (a verified cache)."""
    from tutor.llm.local import QWEN_CODER_1_5B, assemble_model

    return assemble_model(QWEN_CODER_1_5B, ROOT / ".tutor")


@pytest.fixture(scope="session")
def embedded(session_index, model_file, tmp_path_factory):
    """A TutorApp on embedded defaults: it starts and supervises its own llama.cpp server."""
    from tutor.app import TutorApp

    data = tmp_path_factory.mktemp("llm-app")
    shutil.copytree(session_index, data, dirs_exist_ok=True)
    app = TutorApp(make_settings(data, llm_model_file=model_file))
    assert app.embedded_llm
    app.start_llm()
    yield app
    app.close()


def run_tutor(args: list, data_dir: Path | None, netguard_log: Path, input_bytes: bytes | None = None,
              env_extra: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real `tutor` command in a subprocess with the network guard installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUTOR_", "QDRANT_", "OPENAI_"))}
    env["PYTHONPATH"] = str(NETGUARD_DIR)
    env["TUTOR_NETGUARD_LOG"] = str(netguard_log)
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        env["TUTOR_DATA_DIR"] = str(data_dir)
    env.update(env_extra or {})
    return subprocess.run([str(TUTOR_BIN), *args], input=input_bytes, capture_output=True, env=env,
                          timeout=timeout, cwd=data_dir or ROOT)
