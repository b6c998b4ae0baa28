"""Output folders: checked writable before any work, locked against a second writer, and filled
all-or-nothing (every file staged under a temporary name, renamed into place at the end).

A full disk or a kill while writing leaves the previous files of that folder whole: the old
summary.json never sits beside a truncated new results.jsonl.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from harness.core.errors import EnvironmentFailure, HarnessError

LOCK_NAME = ".harness.lock"


def ensure_writable(directory: Path, what: str = "output folder", create: bool = True) -> Path:
    """Prove a file can be written in ``directory`` (catches read-only mounts, which root's
    permission checks do not); exit 4 with the OS's reason otherwise. With ``create=False`` a
    missing folder is not made: the probe goes to its nearest existing parent, so a command that
    later fails on its input leaves no empty folder behind."""
    probe_dir = directory
    if not create:
        while not probe_dir.exists() and probe_dir != probe_dir.parent:
            probe_dir = probe_dir.parent
    try:
        if create:
            directory.mkdir(parents=True, exist_ok=True)
        elif probe_dir.exists() and not probe_dir.is_dir():
            raise FileExistsError(17, "exists and is not a folder", str(probe_dir))
        with tempfile.TemporaryFile(dir=probe_dir, prefix=".harness-probe-"):
            pass
    except FileExistsError:
        raise EnvironmentFailure(f"{what} {directory}: a file is in the way (not a folder)") from None
    except NotADirectoryError:
        raise EnvironmentFailure(f"{what} {directory}: a file is in the way (not a folder)") from None
    except OSError as e:
        import errno

        code = errno.errorcode.get(e.errno or 0, "")
        raise EnvironmentFailure(f"{what} {directory} is not writable: {e.strerror or e}" + (f" ({code})" if code else "")) from None
    return directory


class FolderLock:
    """An exclusive flock on DIR/.harness.lock for as long as this object lives (or until release)."""

    def __init__(self, directory: Path, purpose: str = "run"):
        import fcntl

        self.path = directory / LOCK_NAME
        try:
            self._fh: IO[str] | None = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held open on purpose
        except OSError as e:
            raise EnvironmentFailure.from_os_error(e, "locking") from None
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.seek(0)
            holder = self._fh.read().strip() or "unknown"
            self._fh.close()
            self._fh = None
            raise EnvironmentFailure(f"{directory}: another harness {purpose} (pid {holder}) is writing this folder; "
                                     "wait for it to finish or give another --out") from None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(str(os.getpid()))
        self._fh.flush()

    def release(self) -> None:
        if self._fh is not None:
            # Closing the descriptor drops the flock. The file stays: unlinking it would let a
            # process that opened the old inode and one that creates a new file both "hold" it.
            self._fh.close()
            self._fh = None

    def __del__(self) -> None:
        self.release()


class Staged:
    """Files written under temporary names in one folder and renamed into place together by :meth:`commit`."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._pending: list[tuple[Path, Path]] = []
        self.current: Path | None = None  # the file being written, for an error without a file name (write())

    @contextlib.contextmanager
    def open(self, name: str, newline: str | None = None) -> Iterator[IO[str]]:
        target = self.directory / name
        self.current = target
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
        self._pending.append((Path(tmp), target))
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())

    def write_text(self, name: str, text: str) -> None:
        with self.open(name) as fh:
            fh.write(text)

    def commit(self) -> None:
        """Rename every staged file into place, in the order written (put the index file last)."""
        for tmp, target in self._pending:
            os.replace(tmp, target)
        self._pending.clear()

    def discard(self) -> None:
        for tmp, _ in self._pending:
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._pending.clear()


@contextlib.contextmanager
def staged(directory: Path, doing: str = "writing") -> Iterator[Staged]:
    """All the files of the block, or none of them: on any error the temporaries go, the old files stay."""
    st = Staged(directory)
    try:
        yield st
        st.commit()
    except OSError as e:
        st.discard()
        if e.filename is None and st.current is not None:
            e.filename = str(st.current)
        raise EnvironmentFailure.from_os_error(e, doing) from None
    except BaseException:
        st.discard()
        raise


def check_output_file(path: Path, what: str) -> None:
    """A file the command will write later (a --junit path): fail now, before the work, if it cannot be."""
    if path.is_dir():
        raise EnvironmentFailure(f"{what} {path}: is a folder; give a file path")
    ensure_writable(path.parent, f"{what} {path}: its folder", create=False)


__all__ = ["FolderLock", "HarnessError", "Staged", "check_output_file", "ensure_writable", "staged"]
