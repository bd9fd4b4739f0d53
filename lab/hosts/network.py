"""Which simulated hosts exist and where their servers really listen."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.hosts.client import ClientHost
    from lab.hosts.server import ServerHost


class Network:
    """The estate's host directory; clients resolve server names and addresses here and
    never connect to anything that is not one of these servers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[str, ServerHost] = {}
        self._clients: dict[str, ClientHost] = {}

    def add_server(self, server: ServerHost) -> None:
        with self._lock:
            self._servers[server.name] = server

    def add_client(self, client: ClientHost) -> None:
        with self._lock:
            self._clients[client.name] = client

    def server(self, name: str) -> ServerHost | None:
        with self._lock:
            return self._servers.get(name)

    def server_for_host(self, host: str) -> ServerHost | None:
        """The server a URL's host part names: its address or its (short) name."""
        lowered = host.lower()
        with self._lock:
            for server in self._servers.values():
                if lowered in (server.address, server.name.lower()):
                    return server
        return None

    def clients_of(self, server_name: str) -> list[ClientHost]:
        with self._lock:
            return [c for c in self._clients.values() if c.server_name == server_name]
