"""A small TCP proxy for fault tests: put it between the relayer and anvil, then cut and restore it.

`cut("refuse")` closes the listening socket and every open connection (the client sees connection
refused / reset); `cut("hang")` keeps accepting but forwards nothing, in either direction (the client
sees timeouts); `restore()` resumes forwarding. The chain behind it keeps its state throughout.
Every socket operation has a timeout and every thread is a daemon, so a test can never hang on it.
"""

from __future__ import annotations

import socket
import threading
import time

POLL = 0.1  # [s] accept/recv timeout: how fast the threads notice a mode change


class TcpProxy:
    def __init__(self, listen_port: int, target_port: int, host: str = "127.0.0.1"):
        self.listen = (host, listen_port)
        self.target = (host, target_port)
        self.mode = "down"
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self.accepted = 0

    @property
    def url(self) -> str:
        return f"http://{self.listen[0]}:{self.listen[1]}"

    # --- control ---

    def start(self) -> TcpProxy:
        self.restore()
        return self

    def cut(self, mode: str = "refuse") -> None:
        if mode not in ("refuse", "hang"):
            raise ValueError(mode)
        with self._lock:
            self.mode = mode
            if mode == "refuse":
                if self._server is not None:
                    self._server.close()
                    self._server = None
                self._close_all()

    def restore(self) -> None:
        with self._lock:
            self._close_all()  # connections held in "hang" are reset: clients reconnect
            if self._server is None:
                srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                srv.bind(self.listen)
                srv.listen(64)
                srv.settimeout(POLL)
                self._server = srv
                threading.Thread(target=self._accept_loop, args=(srv,), daemon=True).start()
            self.mode = "up"

    def close(self) -> None:
        with self._lock:
            self.mode = "closed"
            if self._server is not None:
                self._server.close()
                self._server = None
            self._close_all()

    def _close_all(self) -> None:
        for c in list(self._conns):
            try:
                c.close()
            except OSError:
                pass
        self._conns.clear()

    # --- forwarding ---

    def _accept_loop(self, srv: socket.socket) -> None:
        while self._server is srv:
            try:
                client, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            client.settimeout(POLL)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(POLL)
            with self._lock:
                self._conns.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while self.mode in ("up", "hang"):
                try:
                    data = src.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                while self.mode == "hang":  # hold the bytes: the peer waits and times out
                    time.sleep(POLL)
                if self.mode != "up":
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass
