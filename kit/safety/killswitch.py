"""The kill switch: one file (or one environment variable) that stops every order, in every process.

:class:`kit.safety.guard.Guard` asks :meth:`KillSwitch.engaged` before every order, so engaging it from
anywhere (a notebook, ``touch ~/.tradekit/KILL`` in a terminal, ``KIT_KILL=1`` for a run, ``kit kill``)
stops new orders at once. Cancels are not stopped: cancelling reduces risk. It fails closed: a kill
file that exists but cannot be read, or a symlink whose target is missing, counts as engaged.

It also acts by itself: every Session that may trade runs a :class:`KillSwitchWatcher`, a daemon
thread that looks at the switch a few times a second (one ``stat`` and one environment lookup per
look, no busy loop) and, when it engages, cancels that process's kit orders at once
(:meth:`kit.session.trading.Trading.kill`).

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
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from kit.errors import KillSwitchEngaged
from kit.safety.daemon import DaemonLoop

__all__ = ["KillSwitch", "KillSwitchWatcher", "kill_file", "kit_home"]

_log = logging.getLogger("kit.safety.killswitch")

#: Values of the environment variable that mean "not engaged".
_OFF = frozenset({"", "0", "false", "no", "off"})
#: A kill file's reason is shown in errors and journal rows; keep it a line, not a novel.
_MAX_REASON = 500


def kit_home(env: Mapping[str, str] | None = None) -> Path:
    """The kit's state directory: ``$KIT_HOME``, default ``~/.tradekit``."""
    environ = os.environ if env is None else env
    return Path(environ.get("KIT_HOME") or Path.home() / ".tradekit").expanduser()


def kill_file(env: Mapping[str, str] | None = None) -> Path:
    """The kill file every Session watches: ``$KIT_KILL_FILE`` if set, else ``$KIT_HOME/KILL``.

    ``KIT_KILL_FILE`` keeps the user's kill file in force where a notebook's private localnet
    moves ``KIT_HOME`` (its journal) to a temporary folder (:func:`kit.cli.demo.prepare`, #17.2).

    >>> str(kill_file({"KIT_HOME": "/srv/kit"})), str(kill_file({"KIT_HOME": "/a", "KIT_KILL_FILE": "/b/KILL"}))
    ('/srv/kit/KILL', '/b/KILL')
    """
    environ = os.environ if env is None else env
    explicit = environ.get("KIT_KILL_FILE")
    return Path(explicit).expanduser() if explicit else kit_home(environ) / "KILL"


class KillSwitch:
    """Engage, inspect and reset the kill switch.

    Parameters
    ----------
    path
        The kill file; default :func:`kill_file` (``$KIT_KILL_FILE``, else ``$KIT_HOME/KILL``). Its content
        is the reason.
    env_var
        An environment variable that engages the switch when set to anything but ``""``, ``0``,
        ``false``, ``no`` or ``off``.
    env
        The environment to read; ``None`` means ``os.environ`` at each check (so a change is seen).
    """

    def __init__(
        self, path: str | Path | None = None, env_var: str = "KIT_KILL", *, env: Mapping[str, str] | None = None
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else kill_file(env)
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
            (``"kill file <path> present"`` when empty or a dangling symlink, ``"kill file <path>
            unreadable: ..."`` when it cannot be read: an unreadable switch is engaged, never ignored).
        """
        environ = os.environ if self._env is None else self._env
        value = environ.get(self.env_var)
        if value is not None and value.strip().lower() not in _OFF:
            return f"env {self.env_var}={value.strip()[:40]}"
        if not os.path.lexists(self.path):  # one lstat: the common, cheap answer
            return None
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            if os.path.islink(self.path):  # a dangling symlink is a kill file too (fail closed)
                return f"kill file {self.path} present (a symlink to a missing target)"
            return None  # removed between the two looks
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


class KillSwitchWatcher(DaemonLoop):
    """A daemon thread that calls ``on_engage(reason)`` when the kill switch engages (a :class:`DaemonLoop`).

    It looks every ``interval_s`` (an ``lstat`` of the kill file and an environment lookup; the file is
    read only when present), sleeping on an event in between, so :meth:`stop` ends it at once. It calls
    ``on_engage`` on each transition from off to engaged (and again after ``retry_s`` while the switch
    stays engaged and ``on_engage`` returned ``False``: something is still left to cancel).

    Parameters
    ----------
    switch
        The kill switch to watch.
    on_engage
        Called on the watcher thread with the reason; returns True when its work is done. Exceptions
        are logged and count as not done.
    interval_s
        Time between looks (default 0.25 s: a kill is acted on within about a quarter second).
    retry_s
        While engaged and not done, how long until ``on_engage`` is called again.
    name
        The thread's name.

    Examples
    --------
    >>> import tempfile, pathlib, time
    >>> ks = KillSwitch(pathlib.Path(tempfile.mkdtemp()) / "KILL", env={})
    >>> seen = []
    >>> w = KillSwitchWatcher(ks, lambda why: seen.append(why) or True, interval_s=0.01).start()
    >>> ks.engage("stop"); time.sleep(0.2); w.stop()
    >>> seen
    ['stop']
    """

    def __init__(
        self,
        switch: KillSwitch,
        on_engage: Callable[[str], bool],
        *,
        interval_s: float = 0.25,
        retry_s: float = 2.0,
        name: str = "kit-killswitch",
    ) -> None:
        if not 0 < interval_s <= 5:
            raise ValueError(f"interval_s={interval_s!r} must be in (0, 5] seconds")
        super().__init__(name=name, interval_s=interval_s, logger=_log)
        self.switch = switch
        self.on_engage = on_engage
        self.retry_s = float(retry_s)
        self.looks = 0
        self._done_for: str | None = None
        self._next_try = 0.0

    def __repr__(self) -> str:
        return f"KillSwitchWatcher({self.switch!r}, interval_s={self.interval_s}, running={self.running})"

    def start(self) -> KillSwitchWatcher:
        """Start the thread (idempotent); returns ``self``. A restarted watcher acts on an engaged switch again."""
        if not self.running:
            self._done_for, self._next_try = None, 0.0
        return super().start()

    def tick(self) -> None:
        """One look at the switch; ``on_engage`` on a transition to engaged (or again after ``retry_s``)."""
        self.looks += 1
        try:
            reason = self.switch.engaged()
        except Exception:  # noqa: BLE001 - a watcher must not die of a bad look; fail closed
            _log.exception("kill switch look failed; treating it as engaged")
            reason = "kill switch unreadable"
        if reason is None:
            self._done_for = None
        elif self._done_for is None and time.monotonic() >= self._next_try:
            try:
                ok = bool(self.on_engage(reason))
            except Exception:  # noqa: BLE001 - logged; tried again after retry_s
                _log.exception("kill switch action failed")
                ok = False
            if ok:
                self._done_for = reason
            else:
                self._next_try = time.monotonic() + self.retry_s
