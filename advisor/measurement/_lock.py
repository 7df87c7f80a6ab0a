"""One timed measurement at a time per machine: a machine-wide file lock around every timed window.

Measurements that compete for the same cores describe the contention, not the technique, so the
engine holds :func:`machine_lock` while it times. The lock is an OS file lock (``filelock``): the
kernel releases it when the holder's process dies, so a crashed holder never blocks the machine.
Beside it, a small JSON file names the holder (pid, user, label, start) for the waiting message.

(First version; the team-service issue hardens it: queue messages, stale holder files, app caps.)
"""

from __future__ import annotations

import getpass
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor._errors import MachineBusyError

__all__ = ["LockGrant", "default_lock_path", "machine_lock"]


@dataclass(frozen=True)
class LockGrant:
    """What the caller got: where the lock is and how long it waited for it (``waited_s``, s)."""

    path: str
    waited_s: float


def default_lock_path() -> Path:
    """``GREEN_ADVISOR_LOCK`` if set, else ``measure.lock`` beside the default results store."""
    env = os.environ.get("GREEN_ADVISOR_LOCK")
    if env:
        return Path(env)
    from advisor.measurement.store import default_store_path

    return default_store_path().parent / "measure.lock"


def _read_holder(info: Path) -> dict[str, Any]:
    try:
        return json.loads(info.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@contextmanager
def machine_lock(
    *,
    label: str = "",
    timeout_s: float | None = None,
    path: str | Path | None = None,
    on_wait: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[LockGrant]:
    """Hold the machine-wide measurement lock for the ``with`` block.

    Args:
        label: What is being measured, for other waiters' message.
        timeout_s: Give up after this many seconds with :class:`MachineBusyError`; None waits forever.
        path: The lock file (default :func:`default_lock_path`).
        on_wait: Called once with the holder's info (pid, user, label, started_at) if we must wait.

    Raises:
        MachineBusyError: The lock was not granted within ``timeout_s``.
    """
    import filelock

    lock_path = Path(path) if path else default_lock_path()
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    info = lock_path.with_suffix(lock_path.suffix + ".holder.json")
    lock = filelock.FileLock(str(lock_path))
    t0 = time.monotonic()
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        if on_wait:
            on_wait(_read_holder(info))
        try:
            lock.acquire(timeout=-1 if timeout_s is None else timeout_s)
        except filelock.Timeout:
            holder = _read_holder(info)
            raise MachineBusyError(
                f"the machine is busy measuring ({holder.get('label') or 'unknown'}, pid {holder.get('pid', '?')}, "
                f"user {holder.get('user', '?')}) and did not become free within {timeout_s} s; "
                "wait and retry, or pass a longer lock timeout"
            ) from None
    waited_s = time.monotonic() - t0
    try:
        info.write_text(
            json.dumps({"pid": os.getpid(), "user": getpass.getuser(), "label": label, "started_at": time.time()}),
            encoding="utf-8",
        )
        yield LockGrant(path=str(lock_path), waited_s=waited_s)
    finally:
        info.unlink(missing_ok=True)
        lock.release()
