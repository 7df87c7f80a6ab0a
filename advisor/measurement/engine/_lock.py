"""One timed measurement at a time per machine: a machine-wide file lock around every timed window.

Measurements that compete for the same cores describe the contention, not the technique, so the
engine holds :func:`machine_lock` while it times (CLI, Python, the form, ``tune`` and campaign
tasks alike). The lock is an OS file lock (``filelock``, ``flock`` on Linux): the kernel releases it
when the holder's process dies, so a crashed holder never blocks the machine.

Beside the lock file live three small things, all best-effort and never trusted blindly:

- ``<lock>.holder.json``: who holds the lock (pid, host, user, label, start, expected end), for the
  waiting message. It is stale when its pid is gone (same host) or it is older than a day; a stale
  record is ignored and replaced by the next holder.
- ``<lock>.queue/``: one ticket per waiting request, removed when the wait ends (granted, timed
  out or Ctrl-C); tickets of dead processes are ignored and swept. It gives "N ahead of you".
- ``<lock>.log.jsonl``: one line per grant (pid, label, acquired_at, released_at, waited_s), written
  while the lock is still held; the windows it records never overlap. Trimmed to its last 2000 lines.

The lock is re-entrant within a thread (a ``tune`` holding it around a measurement that takes it
per round does not deadlock); two threads of one process exclude each other like two processes.

Where: ``$GREEN_ADVISOR_LOCK`` (a file), else ``lock_dir`` from the config file or
``$GREEN_ADVISOR_LOCK_DIR`` (``<dir>/measure.lock``), else ``measure.lock`` beside the default results store.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor._errors import MachineBusyError

__all__ = [
    "LockGrant",
    "default_lock_path",
    "describe_holder",
    "lock_log",
    "lock_status",
    "machine_lock",
    "wait_listener",
]

STALE_AGE_S = 24 * 3600.0  # a holder record or queue ticket older than this is stale whatever its pid
NOTIFY_AFTER_S = 0.5  # a wait shorter than this (the next round of another run) is not announced
POLL_S = 0.25
LOG_MAX_BYTES = 512 * 1024
LOG_KEEP_LINES = 2000

_held = threading.local()  # path -> depth, for re-entrance within a thread
_listeners: list[Callable[[dict[str, Any]], None]] = []
_last_said: dict[Any, float] = {}


@dataclass(frozen=True)
class LockGrant:
    """What the caller got: where the lock is and how long it waited for it (``waited_s``, s)."""

    path: str
    waited_s: float


def default_lock_path() -> Path:
    """``$GREEN_ADVISOR_LOCK``, else ``<lock_dir>/measure.lock`` (config/env), else beside the default store."""
    env = os.environ.get("GREEN_ADVISOR_LOCK")
    if env:
        return Path(env).expanduser()
    from advisor._config import setting

    lock_dir = setting("lock_dir")
    if lock_dir:
        return Path(lock_dir).expanduser() / "measure.lock"
    from advisor.measurement.store import default_store_path

    return default_store_path().parent / "measure.lock"


def _paths(lock_path: Path) -> tuple[Path, Path, Path]:
    base = str(lock_path)
    return Path(base + ".holder.json"), Path(base + ".queue"), Path(base + ".log.jsonl")


def _pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True  # another user's live process (or unreadable): assume alive
    return True


def _stale(rec: dict[str, Any], now: float) -> bool:
    """A record is stale when its process is gone (same host) or it is older than :data:`STALE_AGE_S`."""
    if not rec:
        return True
    if now - float(rec.get("started_at") or rec.get("since") or 0.0) > STALE_AGE_S:
        return True
    return rec.get("host") == socket.gethostname() and not _pid_alive(rec.get("pid"))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomic write (tmp + rename), readable by the other users of a shared lock folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    with contextlib.suppress(OSError):
        os.chmod(tmp, 0o664)
    os.replace(tmp, path)


def _me(label: str) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "user": _user(),
        "label": label,
        "command": " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv[:3])),
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no passwd entry in some containers
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _queue(queue_dir: Path, now: float) -> list[dict[str, Any]]:
    """Live tickets, oldest first; stale ones are swept (best-effort)."""
    out = []
    try:
        files = sorted(queue_dir.glob("*.json"))
    except OSError:
        return []
    for f in files:
        rec = _read_json(f)
        if _stale(rec, now):
            with contextlib.suppress(OSError):
                f.unlink()
            continue
        out.append({**rec, "ticket": f.name})
    return out


def lock_status(path: str | Path | None = None) -> dict[str, Any]:
    """The lock's state now, without taking it.

    Returns:
        ``{"path", "busy", "holder" (the record or None; ``stale`` True if its process is gone),
        "queue" (live waiting tickets, oldest first)}``.
    """
    import filelock

    lock_path = Path(path) if path else default_lock_path()
    info, queue_dir, _ = _paths(lock_path)
    now = time.time()
    busy = False
    if lock_path.exists():
        probe = filelock.FileLock(str(lock_path), thread_local=False)
        try:
            probe.acquire(timeout=0)
            probe.release()
        except filelock.Timeout:
            busy = True
        except OSError:
            busy = False
    rec = _read_json(info)
    holder = {**rec, "stale": _stale(rec, now)} if rec else None
    return {"path": str(lock_path), "busy": busy, "holder": holder, "queue": _queue(queue_dir, now)}


def describe_holder(holder: dict[str, Any] | None, *, now: float | None = None, ahead: int = 0) -> str:
    """The waiting message: who holds the machine since when and for about how long."""
    now = time.time() if now is None else now
    if not holder or holder.get("stale"):
        who = "another measurement (its holder is not recorded yet)"
        if holder and holder.get("pid"):
            who = f"another measurement (the recorded holder, pid {holder['pid']}, is gone; a process it started may hold the lock)"  # noqa: E501
        text = f"waiting for {who}"
    else:
        since = holder.get("since") or holder.get("started_at") or now
        what = f" ({holder['label']})" if holder.get("label") else ""
        text = (
            f"waiting for a measurement started by {holder.get('user', '?')} (pid {holder.get('pid', '?')}"
            f"{', ' + holder['command'] if holder.get('command') else ''}){what} at "
            f"{time.strftime('%H:%M:%S', time.localtime(since))}"
        )
        end = holder.get("expected_end")
        text += f", about {max(0.0, end - now):.0f} s left" if end else ", end not announced"
    if ahead:
        text += f"; {ahead} other request{'s' if ahead > 1 else ''} ahead in the queue"
    return text


@contextmanager
def wait_listener(fn: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """Call ``fn(info)`` for every wait in this process while the block runs (the form shows them).

    It is used where no ``on_wait`` is passed, e.g. the engine's per-round lock under ``measure``.
    """
    _listeners.append(fn)
    try:
        yield
    finally:
        _listeners.remove(fn)


def _announce(info: dict[str, Any], on_wait: Callable[[dict[str, Any]], None] | None) -> None:
    if on_wait is not None:
        on_wait(info)
    elif _listeners:
        for fn in list(_listeners):
            fn(info)
    else:  # one line per holder and half minute: rounds of two runs alternate, so waits recur
        key = (info.get("pid"), info.get("label"))
        now = time.monotonic()
        if now - _last_said.get(key, -1e9) >= 30.0:
            _last_said[key] = now
            sys.stderr.write(f"green-advisor: {info['message']}\n")
            sys.stderr.flush()


def _wait_info(lock_path: Path, ticket: str, now: float, waited_s: float) -> dict[str, Any]:
    info, queue_dir, _ = _paths(lock_path)
    rec = _read_json(info)
    holder = {**rec, "stale": _stale(rec, now)} if rec else None
    ahead = [t for t in _queue(queue_dir, now) if t["ticket"] < ticket]
    shown = holder or {}
    return {
        **{k: shown.get(k) for k in ("pid", "user", "label", "host", "command")},
        "started_at": shown.get("since") or shown.get("started_at"),
        "expected_end": shown.get("expected_end"),
        "stale": bool(holder and holder["stale"]),
        "queue_ahead": len(ahead),
        "waited_s": waited_s,
        "message": describe_holder(holder, now=now, ahead=len(ahead)),
    }


def _acquire_queued(
    lock: Any,
    lock_path: Path,
    label: str,
    *,
    timeout_s: float | None,
    on_wait: Callable[[dict[str, Any]], None] | None,
    t0: float,
) -> None:
    """Wait in the queue until granted; a ticket marks the wait and is removed however it ends."""
    import filelock

    _, queue_dir, _ = _paths(lock_path)
    ticket = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:6]}.json"
    ticket_path = queue_dir / ticket
    try:
        with contextlib.suppress(OSError):
            queue_dir.mkdir(exist_ok=True)
            _write_json(ticket_path, {**_me(label), "since": time.time()})
        notified = False
        while True:
            waited = time.monotonic() - t0
            left = None if timeout_s is None else timeout_s - waited
            if left is not None and left <= 0:
                raise MachineBusyError(_busy_message(lock_path, ticket, timeout_s))
            try:
                lock.acquire(timeout=POLL_S if left is None else min(POLL_S, left))
                return
            except filelock.Timeout:
                pass
            if not notified and time.monotonic() - t0 >= NOTIFY_AFTER_S:
                notified = True
                _announce(_wait_info(lock_path, ticket, time.time(), time.monotonic() - t0), on_wait)
    finally:
        with contextlib.suppress(OSError):
            ticket_path.unlink()


def _busy_message(lock_path: Path, ticket: str, timeout_s: float | None) -> str:
    info = _wait_info(lock_path, ticket, time.time(), timeout_s or 0.0)
    return (
        f"the machine is busy: {info['message'].removeprefix('waiting for ')}; it did not become free "
        f"within the lock timeout of {timeout_s:g} s. Wait and retry, or pass a longer lock timeout "
        f"(lock file {lock_path})"
    )


def _log_grant(log: Path, entry: dict[str, Any]) -> None:
    """Append one grant to the ledger (we still hold the lock); trim it when it grows."""
    try:
        new = not log.exists()
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
        if new:
            with contextlib.suppress(OSError):
                os.chmod(log, 0o664)
        if log.stat().st_size > LOG_MAX_BYTES:
            lines = log.read_text(encoding="utf-8").splitlines()[-LOG_KEEP_LINES:]
            _write_json_lines(log, lines)
    except OSError:
        pass  # the ledger is a record, never a reason to fail a measurement


def _write_json_lines(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def lock_log(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The grants recorded beside the lock, oldest first (``acquired_at``/``released_at``: Unix time, s)."""
    lock_path = Path(path) if path else default_lock_path()
    log = _paths(lock_path)[2]
    try:
        text = log.read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


@contextmanager
def machine_lock(
    *,
    label: str = "",
    timeout_s: float | None = None,
    path: str | Path | None = None,
    on_wait: Callable[[dict[str, Any]], None] | None = None,
    expected_s: float | None = None,
    since: float | None = None,
) -> Iterator[LockGrant]:
    """Hold the machine-wide measurement lock for the ``with`` block.

    Args:
        label: What is being measured, for other waiters' message.
        timeout_s: Give up after this many seconds with :class:`MachineBusyError`; None waits forever.
        path: The lock file (default :func:`default_lock_path`).
        on_wait: Called once, if the wait lasts more than half a second, with the holder's info
            (``pid``, ``user``, ``label``, ``started_at``, ``expected_end``, ``queue_ahead``,
            ``message``). Default: the listeners of :func:`wait_listener`, else one line on stderr.
        expected_s: How long the holder expects its measurement to go on from now, for the waiters'
            "about N s left" (None: not announced). Units: s.
        since: When the holder's measurement started (Unix time; default now), for the waiters' message.

    Raises:
        MachineBusyError: The lock was not granted within ``timeout_s``.
    """
    import filelock

    lock_path = Path(path).expanduser() if path else default_lock_path()
    depth = getattr(_held, "paths", None)
    if depth is None:
        depth = _held.paths = {}
    key = str(lock_path.resolve())
    if depth.get(key):  # this thread holds it already: re-entrant, no wait
        depth[key] += 1
        try:
            yield LockGrant(path=str(lock_path), waited_s=0.0)
        finally:
            depth[key] -= 1
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    info, _, log = _paths(lock_path)
    lock = filelock.FileLock(str(lock_path), mode=0o666, thread_local=False)
    t0 = time.monotonic()
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        _acquire_queued(lock, lock_path, label, timeout_s=timeout_s, on_wait=on_wait, t0=t0)
    waited_s = time.monotonic() - t0
    acquired = time.time()
    depth[key] = 1
    try:
        rec = {
            **_me(label),
            "started_at": acquired,
            "since": since or acquired,
            "expected_end": acquired + expected_s if expected_s is not None else None,
        }
        with contextlib.suppress(OSError):
            _write_json(info, rec)
        yield LockGrant(path=str(lock_path), waited_s=waited_s)
    finally:
        depth.pop(key, None)
        with contextlib.suppress(OSError):
            info.unlink()
        _log_grant(
            log,
            {
                "pid": os.getpid(),
                "user": _user(),
                "label": label,
                "acquired_at": acquired,
                "released_at": time.time(),
                "waited_s": round(waited_s, 4),
            },
        )
        lock.release()
