"""A TCP proxy on 127.0.0.1 that a test can stall: a network that stops answering.

Each accepted connection is forwarded to the target by two pump threads.
``stall()`` makes the pumps stop moving bytes (they hold what they read and
read nothing more), so the client's statements are accepted by the kernel and
never answered — the hostile case for a database client: no error, no reset,
just silence. ``resume()`` lets the bytes through again. Everything stops at
``close()``; nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading


class StallProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = int(self.server.getsockname()[1])
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def stall(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self.closed.set()
        self.flowing.set()
        with contextlib.suppress(OSError):
            self.server.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self.threads:
            thread.join(5)

    def _accept(self) -> None:
        while not self.closed.is_set():
            ready, _, _ = select.select([self.server], [], [], 0.2)
            if not ready:
                continue
            try:
                client, _ = self.server.accept()
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                continue
            self.sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(src, dst), daemon=True)
                self.threads.append(thread)
                thread.start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while not self.closed.is_set():
            self.flowing.wait()
            try:
                ready, _, _ = select.select([src], [], [], 0.2)
                if not ready:
                    continue
                if not self.flowing.is_set():
                    continue  # stalled between select and read: read nothing
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            except OSError:
                break
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
