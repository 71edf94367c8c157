"""The guard that fails any test (or tutor subprocess) opening a socket to anything but loopback."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from netguard import NetworkBlocked

from fixtures.tutor import guard_env, run_tutor


def test_guard_blocks_public_and_private_addresses():
    for addr in [("1.1.1.1", 443), ("10.0.0.1", 80), ("192.168.1.1", 80)]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            with pytest.raises(NetworkBlocked):
                s.connect(addr)


def test_guard_blocks_dns_lookups_of_remote_hosts():
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("huggingface.co", 443)


def test_guard_allows_loopback():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    with socket.create_connection(srv.getsockname(), timeout=2):
        pass
    srv.close()


def test_guard_is_active_in_tutor_subprocesses(tmp_path, netguard_log):
    """A subprocess that tries the network fails, and the attempt is logged for the autouse check."""
    log = tmp_path / "log"
    code = "import socket; socket.create_connection(('8.8.8.8', 53), timeout=1)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=guard_env(None, log))
    assert r.returncode != 0 and "network access blocked" in r.stderr
    assert "8.8.8.8" in log.read_text()


def test_real_search_opens_no_network_socket(app):
    """The full path (embedding model, index, BM25, tokenizer) runs under the guard in this process."""
    hits = app.search("What limits how fast GPUs talk to each other?", k=3)
    assert len(hits) == 3


def test_cli_layers_runs_offline(session_index, netguard_log):
    r = run_tutor(["layers", "--json"], session_index, netguard_log)
    assert r.returncode == 0, r.stderr
