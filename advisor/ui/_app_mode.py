"""App mode of the advisor form: the rules when the form is served to others (Voila, a team server).

On under Voila or when the operator sets ``app_mode = true`` (config file) / ``GREEN_ADVISOR_APP_MODE=1``:

- nothing a visitor types becomes a server path: the "export to" field is hidden and ignored; exports
  go to a private per-session folder (a new ``0700`` temporary folder, or a new sub-folder of the
  operator's ``app_export_dir``) and reach the visitor as downloads (a link carrying the file);
- budgets and the number of techniques per run are capped by the operator (``app_max_budget_s``,
  ``app_max_techniques``), checked here on the server before anything is measured, with a message
  in the form when a request exceeds them;
- a visitor's measurement waits in the machine's queue at most ``app_lock_timeout_s`` and the form
  shows who it waits for.

Design notes: ``docs/team-service.md``.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor._config import app_limit, app_mode_enabled, resolve_inside, setting
from advisor._errors import ConstraintError

__all__ = ["AppMode", "app_mode"]


@dataclass
class AppMode:
    """The app-mode rules for one form (one visitor's session).

    Attributes:
        enabled: App mode is on.
        why: What turned it on (``Voila``, ``config/environment``) or ``off``.
        max_budget_s: Longest budget a visitor may ask for. Units: s.
        max_techniques: Most techniques in one measurement.
        lock_timeout_s: How long a visitor's measurement may wait for the machine. Units: s.
        export_root: The operator's export folder (None: a private temporary folder per session).
    """

    enabled: bool
    why: str
    max_budget_s: float
    max_techniques: int
    lock_timeout_s: float | None
    export_root: Path | None = None
    _session_dir: Path | None = field(default=None, repr=False)

    def session_dir(self) -> Path:
        """This session's private export folder, created on first use (mode 0700)."""
        if self._session_dir is None:
            if self.export_root is not None:
                self.export_root.mkdir(parents=True, exist_ok=True)
                d = self.export_root / f"session-{uuid.uuid4().hex}"
                d.mkdir(mode=0o700)
            else:
                d = Path(tempfile.mkdtemp(prefix="green-advisor-session-"))
            self._session_dir = d.resolve()
        return self._session_dir

    def export_path(self, filename: str) -> Path:
        """Where an export named ``filename`` goes: inside the session folder, never elsewhere.

        Raises:
            ConstraintError: The name would leave the session folder.
        """
        target = resolve_inside(self.session_dir(), filename, what="export file")
        if target.is_symlink():  # nothing outside may be reached through a planted link
            target.unlink()
        return target

    def check_request(self, n_techniques: int, budget_s: float) -> None:
        """Server-side caps of one measurement request.

        Raises:
            ConstraintError: Too many techniques or too long a budget for this server.
        """
        if not self.enabled:
            return
        if n_techniques > self.max_techniques:
            raise ConstraintError(
                f"this server measures at most {self.max_techniques} techniques per run (operator setting "
                f"app_max_techniques); you chose {n_techniques}. Select fewer and press Measure again."
            )
        if budget_s > self.max_budget_s:
            raise ConstraintError(
                f"budget (s): this server allows at most {self.max_budget_s:g} s per run (operator setting "
                f"app_max_budget_s); you asked for {budget_s:g} s. Lower the budget and press Measure again."
            )

    def note(self) -> str:
        """One line for the form: what this server allows."""
        return (
            f"Shared server ({self.why}): at most {self.max_techniques} techniques and {self.max_budget_s:g} s "
            "per run; one measurement at a time on this machine (others wait in a queue); exports are "
            "downloads."
        )


def app_mode() -> AppMode:
    """The app-mode rules from the environment and the operator's config file.

    Raises:
        ConstraintError: An operator setting has a bad value.
    """
    enabled = app_mode_enabled()
    why = "off"
    if enabled:
        why = "config/environment" if setting("app_mode") else "Voila"
    if not enabled:
        return AppMode(False, why, float("inf"), 10**9, None)
    root = setting("app_export_dir")
    return AppMode(
        True,
        why,
        float(app_limit("app_max_budget_s")),
        int(app_limit("app_max_techniques")),
        float(app_limit("app_lock_timeout_s")),
        Path(os.path.expanduser(root)).resolve() if root else None,
    )


def apply_to_form(ui: Any) -> None:
    """App mode in the form's widgets: hide the server-path field, show the server's limits by Measure."""
    import ipywidgets as w

    from advisor.ui import _html

    if not ui.app.enabled:
        return
    ui.out_dir.disabled = True
    # its own Layout: the form's fields share one, and hiding that would hide them all
    ui.out_dir.layout = w.Layout(display="none")  # the value is ignored anyway: exports go to the session folder
    note = w.HTML(_html.message(ui.app.note()))
    box = _box_holding(ui.widget, ui.budget_s)
    if box is not None:
        box.children = (note, *box.children)


def _box_holding(root: Any, target: Any) -> Any:
    """The container whose children include ``target`` (depth-first), or None."""
    children = getattr(root, "children", ())
    if target in children:
        return root
    for child in children:
        found = _box_holding(child, target)
        if found is not None:
            return found
    return None


def engine_settings(ui: Any) -> Any:
    """The engine settings of a visitor's measurement: the queue timeout in app mode, else the defaults."""
    from advisor.measurement import EngineSettings

    return EngineSettings(lock_timeout_s=ui.app.lock_timeout_s) if ui.app.enabled else None


def waited_text(run: Any) -> str:
    """``waited N s for the machine ...`` when the run queued behind another measurement, else ''."""
    from advisor.reports import RunFacts

    waited = RunFacts.of(run).lock_waited_s or 0.0
    if waited < 0.05:
        return ""
    return f"waited {waited:.1f} s for the machine (another measurement was timing; the budget excludes the wait)"


def queue_messages(fn: Callable[..., Any], listener: Callable[[dict[str, Any]], None]) -> Callable[..., Any]:
    """``fn`` that, while it runs, passes every wait for the machine lock to ``listener`` (the form's line)."""
    from advisor.measurement import wait_listener

    def run(*args: Any, **kwargs: Any) -> Any:
        with wait_listener(listener):
            return fn(*args, **kwargs)

    return run
