"""The kill switch: one file (or one environment variable) that stops every order, in every process.

:class:`kit.safety.guard.Guard` asks :meth:`KillSwitch.engaged` before every order, so engaging it from
anywhere (a notebook, ``touch ~/.tradekit/KILL`` in a terminal, ``KIT_KILL=1`` for a run) stops new
orders at once. Cancels are not stopped: cancelling reduces risk. It fails closed: a kill file that
exists but cannot be read counts as engaged.

>>> import tempfile, pathlib
>>> ks = KillSwitch(pathlib.Path(tempfile.mkdtemp()) / "KILL", env={})
>>> ks.engaged() is None
True
>>> ks.engage("daily loss looks wrong")
>>> ks.engaged()
'daily loss looks wrong'
>>> ks.reset(); ks.engaged() is None
True
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from kit.errors import KillSwitchEngaged

__all__ = ["KillSwitch", "kit_home"]

_log = logging.getLogger("kit.safety.killswitch")

#: Values of the environment variable that mean "not engaged".
_OFF = frozenset({"", "0", "false", "no", "off"})
#: A kill file's reason is shown in errors and journal rows; keep it a line, not a novel.
_MAX_REASON = 500


def kit_home(env: Mapping[str, str] | None = None) -> Path:
    """The kit's state directory: ``$KIT_HOME``, default ``~/.tradekit``."""
    environ = os.environ if env is None else env
    return Path(environ.get("KIT_HOME") or Path.home() / ".tradekit").expanduser()


class KillSwitch:
    """Engage, inspect and reset the kill switch.

    Parameters
    ----------
    path
        The kill file; default ``$KIT_HOME/KILL``. Its content is the reason.
    env_var
        An environment variable that engages the switch when set to anything but ``""``, ``0``,
        ``false``, ``no`` or ``off``.
    env
        The environment to read; ``None`` means ``os.environ`` at each check (so a change is seen).
    """

    def __init__(
        self, path: str | Path | None = None, env_var: str = "KIT_KILL", *, env: Mapping[str, str] | None = None
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else kit_home(env) / "KILL"
        self.env_var = env_var
        self._env = env

    def __repr__(self) -> str:
        return f"KillSwitch(path={str(self.path)!r}, env_var={self.env_var!r})"

    def engaged(self) -> str | None:
        """Why the switch is engaged, or ``None`` when it is not.

        Returns
        -------
        str or None
            ``"env KIT_KILL=1"`` for the environment variable, else the kill file's content
            (``"kill file <path> present"`` when empty, ``"kill file <path> unreadable: ..."`` when it
            cannot be read: an unreadable switch is engaged, never ignored).
        """
        environ = os.environ if self._env is None else self._env
        value = environ.get(self.env_var)
        if value is not None and value.strip().lower() not in _OFF:
            return f"env {self.env_var}={value.strip()[:40]}"
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None
        except OSError as exc:  # a directory, no permission, I/O error: fail closed
            if not os.path.lexists(self.path):
                return None
            return f"kill file {self.path} unreadable: {type(exc).__name__}"
        reason = " ".join(text.split())[:_MAX_REASON]
        return reason or f"kill file {self.path} present"

    def check(self) -> None:
        """Raise if engaged.

        Raises
        ------
        kit.errors.KillSwitchEngaged
            With the reason and how to reset.
        """
        reason = self.engaged()
        if reason is not None:
            raise KillSwitchEngaged(f"kill switch engaged: {reason}", hint=self._reset_hint())

    def engage(self, reason: str) -> None:
        """Engage the switch for every process using the same kill file.

        The file is written atomically (a temporary file renamed over it), so a concurrent reader
        sees either no file or the whole reason.

        Parameters
        ----------
        reason
            Why; shown in every refusal until :meth:`reset`.
        """
        reason = " ".join(str(reason).split())[:_MAX_REASON] or "engaged without a reason"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".KILL.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(reason + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _log.warning("kill switch engaged: %s (%s)", reason, self.path)

    def reset(self) -> None:
        """Remove the kill file. The environment variable, if set, still engages the switch (logged)."""
        self.path.unlink(missing_ok=True)
        environ = os.environ if self._env is None else self._env
        value = environ.get(self.env_var)
        if value is not None and value.strip().lower() not in _OFF:
            _log.warning("kill file removed, but %s=%s still engages the kill switch", self.env_var, value.strip()[:40])
        else:
            _log.info("kill switch reset (%s)", self.path)

    def _reset_hint(self) -> str:
        return (
            f"No request was sent. Find out why it tripped, then reset it: KillSwitch().reset() or delete "
            f"{self.path}, and unset {self.env_var} if it is set."
        )
