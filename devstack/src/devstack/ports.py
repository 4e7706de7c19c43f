"""Free-port lookup and the up-front check that a port we are about to bind is free."""

import socket

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


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Return `count` distinct ports that were free a moment ago.

    The sockets are held open together so the kernel cannot hand out one port twice; another
    process may still grab one before we bind it, which is acceptable for a dev stack.
    """
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


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
