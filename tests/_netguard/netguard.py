"""Fails any attempt to open a network socket to anything but loopback (or a Unix socket).

Installed in the test process by conftest.py and in every `tutor` subprocess the tests start (through
the sitecustomize.py beside this file), so a model, tokenizer or telemetry download anywhere in the
code fails the tests. Violations are also appended to $TUTOR_NETGUARD_LOG so a subprocess can't hide one.
"""

from __future__ import annotations

import ipaddress
import os
import socket

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkBlocked(RuntimeError):
    pass


def _is_loopback(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _violation(what: str) -> NetworkBlocked:
    log = os.environ.get("TUTOR_NETGUARD_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(what + "\n")
    return NetworkBlocked(f"network access blocked in tests: {what}")


def install() -> None:
    if getattr(socket, "_tutor_netguard", False):
        return
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def _check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if not _is_loopback(host):
                raise _violation(f"connect to {address!r}")

    def connect(self, address):
        _check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):
        _check(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            raise _violation(f"DNS lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
    socket._tutor_netguard = True
