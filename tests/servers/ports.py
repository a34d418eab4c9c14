"""A port for a process the test starts, which binds it later.

A port the kernel hands out for `bind(port 0)` comes from the ephemeral range, the same range it draws the
local ports of outgoing connections from: with a parallel suite making thousands of loopback connections,
one of them can take the port between the test choosing it and the child binding it (seen: locust's master
failing with "Address already in use"). Below that range only listeners take ports, and every listener in
the suite binds port 0, so a free port chosen there stays free.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_low() -> int:
    try:
        return int(_RANGE.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def listen_port() -> int:
    """A free loopback port below the ephemeral range, for a child process to listen on."""
    high = max(_ephemeral_low() - 1, 12000)
    for _ in range(200):
        port = random.randint(10000, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")
