"""Writing files so that a failure never damages what was there before.

Every output the harness writes goes to a temporary file in the same folder, is flushed and
fsynced, and is renamed over the target (atomic on POSIX): a full disk or a kill mid-write leaves
the previous file whole, never a truncated one beside an old summary.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


class NotRegularFile(OSError):
    """A path that names a FIFO, a device or a socket where a file was expected."""


def read_regular_bytes(path: str | Path) -> bytes:
    """The bytes of ``path``, which must be a regular file (symlinks followed). A FIFO would block
    the reader until some writer comes, a device may never end: both are refused with
    :class:`NotRegularFile` before any read (checked by ``os.stat`` before opening, and again on the
    open descriptor, which is opened non-blocking, so a FIFO swapped in between cannot block either).
    A folder raises ``IsADirectoryError``, a missing file ``FileNotFoundError``, as ``open`` would."""
    import errno
    import stat

    def check(mode: int) -> None:
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
        if not stat.S_ISREG(mode):
            raise NotRegularFile(errno.EINVAL, "not a regular file (a FIFO, device or socket); not read", str(path))

    check(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        check(os.fstat(fd).st_mode)
        with os.fdopen(fd, "rb") as fh:
            fd = -1  # the file object closes it
            return fh.read()
    finally:
        if fd >= 0:
            os.close(fd)


def read_regular_text(path: str | Path, encoding: str = "utf-8") -> str:
    """:func:`read_regular_bytes` decoded (``UnicodeDecodeError`` as ``Path.read_text`` raises it)."""
    return read_regular_bytes(path).decode(encoding)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """``open(path, mode)`` that replaces ``path`` only when the block finishes without error."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a report is as readable as any file
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding,
                       newline=None if "b" in mode else newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    with atomic_open(path, "w", encoding=encoding) as fh:
        fh.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)
