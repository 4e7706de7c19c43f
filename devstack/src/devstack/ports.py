"""Free-port lookup and the up-front check that a port we are about to bind is free."""

import random
import socket
from pathlib import Path

from devstack.errors import DevstackError


class PortInUse(DevstackError):
    """A port the stack needs is taken; the message is one line meant for the terminal."""

    def __init__(self, port: int, setting_name: str) -> None:
        super().__init__(
            f"port {port} is already in use ({setting_name}); "
            f"stop what is using it or set {setting_name} to another port"
        )
        self.port = port
        self.setting_name = setting_name


def _ephemeral_range() -> range:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(32768, 61000)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Return `count` distinct ports that were free a moment ago.

    Ports come from below the kernel's ephemeral range: a port the kernel picks for bind(0)
    can be handed out again as the source port of any outgoing connection before our server
    binds it, which busy test runs hit. Outside that range only another listener can take it.
    """
    ephemeral = _ephemeral_range()
    candidates = [port for port in range(10000, 32768) if port not in ephemeral]
    chosen: list[int] = []
    for port in random.sample(candidates, len(candidates)):
        if is_port_free(port, host):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise DevstackError(f"no {count} free ports found between 10000 and 32767")


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


def is_port_free(port: int, host: str = "0.0.0.0") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option uvicorn and postgres set, so a TIME_WAIT leftover from our previous run
        # does not count as "in use", while any listener (on any address) does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ensure_port_free(port: int, setting_name: str, host: str = "0.0.0.0") -> None:
    if not is_port_free(port, host):
        raise PortInUse(port, setting_name)
