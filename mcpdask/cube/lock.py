"""One writer per store: an flock on the sidecar file `<store>.lock`, which names its holder.

The kernel releases an flock when its process dies (SIGKILL included), so a lock file left by a
dead scan is stale by construction and is simply taken over. Readers take no lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from mcpdask.cube.schema import now
from mcpdask.errors import StoreError

__all__ = ["StoreInUseError", "StoreLock", "lock_path"]


class StoreInUseError(StoreError):
    """Another live process is writing to the store."""


def lock_path(store: str | Path) -> Path:
    """The lock file of a store: `<store>.lock` next to it (it exists before the store does)."""
    store = Path(store)
    return store.parent / f"{store.name}.lock"


class StoreLock:
    """Exclusive writer lock of a store: flock on `<store>.lock`, which names the holder.

    The kernel releases an flock when its process dies (SIGKILL included), so a lock file left
    by a dead scan is stale by construction and is simply taken over (`stale_holder` then says
    whose it was). A live holder makes `acquire` raise StoreInUseError naming its pid, host,
    start time and command, after waiting up to `wait_s` seconds.
    """

    def __init__(self, store: str | Path, purpose: str = "scan", wait_s: float = 0.0):
        self.store = Path(store)
        self.path = lock_path(store)
        self.purpose = purpose
        self.wait_s = wait_s
        self.fd: int | None = None
        self.stale_holder: dict | None = None

    def acquire(self) -> StoreLock:
        if not self.path.parent.is_dir():
            raise StoreError(f"{self.store}: parent directory {self.path.parent} does not exist")
        deadline = time.monotonic() + self.wait_s
        while True:
            holder = self._try()
            if holder is None:
                return self
            if time.monotonic() >= deadline:
                raise StoreInUseError(
                    f"{self.store}: in use by another mcpdask process (pid {holder.get('pid')} "
                    f"on {holder.get('host')}, {holder.get('purpose', 'scan')} since "
                    f"{holder.get('started')}: {holder.get('command', '?')}); one writer per "
                    f"store: wait for it to finish or stop it. (Lock file {self.path}; it is "
                    "released when that process exits, even if it is killed.)"
                )
            time.sleep(0.1)

    def _try(self) -> dict | None:
        """None once locked, else the holder's description."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_lock(fd)
                os.close(fd)
                return holder or {"pid": "?", "host": "?"}
            # the file may have been unlinked by its previous holder between open and flock
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = _read_lock(fd)
            self.stale_holder = previous or None
            os.ftruncate(fd, 0)
            os.pwrite(
                fd,
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "started": now(),
                        "purpose": self.purpose,
                        "command": " ".join(sys.argv)[:300],
                    }
                ).encode(),
                0,
            )
            self.fd = fd
            return None

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.path).st_ino == os.fstat(self.fd).st_ino:
                os.unlink(self.path)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_lock(fd: int) -> dict:
    try:
        text = os.pread(fd, 4096, 0).decode(errors="replace")
        return json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {}
