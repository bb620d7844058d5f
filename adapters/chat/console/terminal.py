"""The console's terminal: lines in as bytes (never a decode error), lines out with nothing raw.

A line typed or piped may hold anything: `\\x1b[2J` clears the screen when echoed, a carriage return
overwrites what was printed, a bidi override reverses it, and bytes that are not UTF-8 fail a strict
decode. Input is read as bytes and decoded with replacement; every line the console prints goes
through `visible`, which shows control characters escaped (`\\x1b`) instead of obeying them.

Reading waits on the event loop (`add_reader`), not in a worker thread: a thread blocked in
`readline` would keep the process alive after Ctrl-C until one more line arrived.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import stat
from typing import TextIO

# C0 and C1 controls except tab, DEL, and the bidi controls that reorder what follows them.
_HIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str) -> str:
    """One line as it may be shown: controls escaped, undecodable bytes (lone surrogates) as U+FFFD.
    Newlines are escaped too: callers split multi-line text first."""
    if _SURROGATE.search(text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _HIDDEN.sub(_escape, text)


def visible_lines(text: str) -> str:
    """Multi-line text with each line made `visible` (a CR LF or CR ends a line as LF does)."""
    return "\n".join(visible(line) for line in text.replace("\r\n", "\n").split("\n"))


def _waitable_fd(stream: TextIO) -> int | None:
    """stdin's descriptor when the event loop can wait on it: a pipe, a terminal or a socket.
    A regular file (`draftloop chat < script.txt`) never blocks, and the selector refuses it."""
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    return fd if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode) else None


def _wake(ready: asyncio.Future[None]) -> None:
    # Level-triggered: the loop may call again before the waiting task has run.
    if not ready.done():
        ready.set_result(None)


class LineReader:
    """`await readline()`: the next line without its newline, None at end of input."""

    CHUNK = 65536

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self._buffer = bytearray()
        self._eof = False
        self._fd = _waitable_fd(stream)
        self._threaded = False

    def _decode(self, raw: bytes) -> str:
        return raw.decode(self.encoding, errors="replace").rstrip("\r")

    def _take_line(self) -> str | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            if not self._eof or not self._buffer:
                return None
            end = len(self._buffer)  # the last line, without a newline
        raw = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return self._decode(raw)

    async def readline(self) -> str | None:
        if self._fd is None:
            return self._read_sync()
        while True:
            line = self._take_line()
            if line is not None:
                return line
            if self._eof:
                return None
            chunk = await self._read_fd(self._fd)
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True

    async def _read_fd(self, fd: int) -> bytes:
        if self._threaded:
            return await asyncio.to_thread(os.read, fd, self.CHUNK)
        loop = asyncio.get_running_loop()
        while True:
            ready: asyncio.Future[None] = loop.create_future()
            try:
                loop.add_reader(fd, _wake, ready)
            except (NotImplementedError, PermissionError, ValueError):
                # A loop that cannot watch this descriptor (Windows' proactor): read it in a thread.
                self._threaded = True
                return await asyncio.to_thread(os.read, fd, self.CHUNK)
            try:
                await ready
            finally:
                loop.remove_reader(fd)
            try:
                return os.read(fd, self.CHUNK)
            except BlockingIOError:
                continue  # another reader of the same descriptor was first

    def _read_sync(self) -> str | None:
        """Files and in-memory streams: reading never waits, so it is done in place."""
        buffer = getattr(self.stream, "buffer", None)
        if buffer is not None:
            raw: bytes = buffer.readline()
            if not raw:
                return None
            return self._decode(raw.removesuffix(b"\n"))
        text = self.stream.readline()
        if not text:
            return None
        return visible_surrogates(text.removesuffix("\n").rstrip("\r"))


def visible_surrogates(text: str) -> str:
    """Lone surrogates (a text stream's undecodable bytes) as U+FFFD; everything else unchanged."""
    if _SURROGATE.search(text):
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text
