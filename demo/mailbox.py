"""A minimal SMTP sink on loopback: the e-mails DropTrack sends customers and the owner land in
the workspace as .eml files instead of anyone's inbox (enough SMTP for Python's smtplib)."""

from __future__ import annotations

import itertools
import socketserver
import threading
from pathlib import Path

MAX_MESSAGE_BYTES = 1024 * 1024


class _Session(socketserver.StreamRequestHandler):
    server: MailSink

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")

    def handle(self) -> None:
        self._say("220 demo-mailbox ESMTP")
        while True:
            raw = self.rfile.readline(4096)
            if not raw:
                return
            verb = raw.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-demo-mailbox\r\n250 SIZE 1048576\r\n")
            elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                self._say("250 OK")
            elif verb == "DATA":
                self._say("354 End data with <CR><LF>.<CR><LF>")
                self.server.store(self._read_data())
                self._say("250 OK: queued")
            elif verb == "QUIT":
                self._say("221 Bye")
                return
            else:
                self._say("502 Command not implemented")

    def _read_data(self) -> bytes:
        lines: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(MAX_MESSAGE_BYTES)
            if not line or line in (b".\r\n", b".\n"):
                return b"".join(lines)
            size += len(line)
            if size <= MAX_MESSAGE_BYTES:
                lines.append(line[1:] if line.startswith(b"..") else line)


class MailSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, folder: Path, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Session)
        self.folder = folder
        self.received = 0
        self._numbers = itertools.count(len(list(folder.glob("*.eml"))) + 1)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="demo-mailbox", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def store(self, message: bytes) -> None:
        with self._lock:
            number = next(self._numbers)
            self.received += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{number:05d}.eml").write_bytes(message)

    def start(self) -> MailSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)
