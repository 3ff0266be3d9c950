"""One chaos run: exchange process, workload process, fault episodes, final reconciliation, invariants.

>>> from pathlib import Path                                                   # doctest: +SKIP
>>> result = ChaosRun(Path("/tmp/chaos"), seed=3).run()                         # doctest: +SKIP
>>> result.ok, result.figures()                                               # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.faults import ALL_EPISODES, SOAK_WEIGHTS, FaultDriver, Outage
from lab.invariants import Invariants, check_invariants, exchange_balances
from lab.receiver import WebhookReceiver
from lab.server import ServerProcess

__all__ = ["ChaosRun", "RunResult", "WorkloadProcess"]

SYMBOLS = ("BTC/USDT", "ETH/USDT")
_ALERT_TEXT = re.compile(r"(ALERT|ALL CLEAR) \S+: (\w+)")
_ENV_DROP = ("KIT_KILL", "KIT_ALERT_", "KIT_LOCALNET_")


def _scrubbed_env(**extra: str) -> dict[str, str]:
    """The environment for a child: no inherited kit keys, kill switch or alert settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_DROP)}
    env["PYTHONUNBUFFERED"] = "1"
    tests_dir = str(Path(__file__).resolve().parent.parent)  # `python -m lab.workload` needs tests/ importable
    env["PYTHONPATH"] = os.pathsep.join([tests_dir, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    env.update(extra)
    return env


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Set (and afterwards restore) environment variables, dropping inherited kit ones meanwhile."""
    saved = dict(os.environ)
    try:
        for k in [k for k in os.environ if k.startswith(_ENV_DROP)]:
            del os.environ[k]
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class WorkloadProcess:
    """The workload subprocess, its marker lines, and SIGKILL (see :mod:`lab.workload`)."""

    def __init__(self, home: Path, server: ServerProcess, *, seed: int, env: dict[str, str], out_dir: Path) -> None:
        self.home, self.server, self.seed, self.env, self.out_dir = home, server, seed, env, out_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.markers: list[tuple[float, str, list[str]]] = []
        self.starts = 0
        self.killed_at: float | None = None
        self._cond = threading.Condition()
        self._arm: tuple[str, int, str, float] | None = None
        self._started_at = 0.0
        self._armed_hit = False

    def start(self) -> None:
        """Start a new workload process (it resumes from the journal)."""
        self.starts += 1
        self.killed_at = None
        self._started_at = time.monotonic()
        cmd = [
            sys.executable,
            "-m",
            "lab.workload",
            "--home",
            str(self.home),
            "--keys-file",
            str(self.server.keys_file),
            "--admin-url",
            self.server.url,
            "--seed",
            str(self.seed),
        ]
        err = open(self.out_dir / "workload.err", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=self.env)
        err.close()
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with proc.stdout, open(self.out_dir / "workload.out", "ab") as log:
            for raw in proc.stdout:
                log.write(raw)
                parts = raw.decode("utf-8", "replace").split()
                if len(parts) < 2 or parts[0] != "M":
                    continue
                now = time.monotonic()
                with self._cond:
                    if (
                        self._arm is not None
                        and parts[1] == self._arm[0]
                        and (not self._arm[2] or self._arm[2] in parts[2:])
                    ):
                        marker, left, arg, delay = self._arm[0], self._arm[1] - 1, self._arm[2], self._arm[3]
                        self._arm = (marker, left, arg, delay) if left > 0 else None
                        if left <= 0:
                            if delay:
                                threading.Timer(delay, self._sigkill, args=(proc,)).start()
                            else:
                                self._sigkill(proc)
                            self._armed_hit = True
                    self.markers.append((now, parts[1], parts[2:]))
                    self._cond.notify_all()

    def _sigkill(self, proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        self.killed_at = time.monotonic()

    def kill(self) -> None:
        """SIGKILL now, and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self._sigkill(self.proc)
        self.reap()

    def reap(self, timeout: float = 30.0) -> int | None:
        """Wait for the process to end; returns its exit code."""
        if self.proc is None:
            return None
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        return code

    def kill_on(self, marker: str, *, arg: str = "", nth: int = 1, delay_s: float = 0.0, timeout: float = 20.0) -> bool:
        """SIGKILL ``delay_s`` after the ``nth`` next ``marker`` line (with ``arg``, if given); True if it did.

        The reader thread sends the signal itself, so it lands right after the line was written.
        """
        with self._cond:
            self._arm, self._armed_hit = (marker, nth, arg, delay_s), False
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._armed_hit and time.monotonic() < deadline:
                self._cond.wait(0.1)
            hit, self._arm = self._armed_hit, None
        if hit:
            time.sleep(delay_s)
            self.reap()
        return hit

    def wait_for(self, marker: str, *, after: float, timeout: float) -> float | None:
        """Monotonic time of the first ``marker`` line after ``after``; None on timeout or if the process ended."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for t, name, _ in self.markers:
                    if name == marker and t >= after:
                        return t
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc is not None and self.proc.poll() is not None and self.killed_at is None):
                    return None
                self._cond.wait(min(left, 0.2))

    def died(self) -> int | None:
        """Exit code if the process ended by itself before announcing DONE (a bug), else None."""
        if self.proc is None or self.killed_at is not None:
            return None
        code = self.proc.poll()
        if code is None:
            return None
        with self._cond:
            done = any(name == "DONE" for t, name, _ in self.markers if t >= self._started_at)
        return None if done else code

    def bugs(self) -> list[str]:
        """``BUG`` markers: exceptions the workload caught that are not kit errors."""
        with self._cond:
            return [" ".join(a) for _, n, a in self.markers if n == "BUG"]

    def last_step(self) -> int:
        """The highest step number announced so far."""
        with self._cond:
            steps = [int(a[0]) for _, n, a in self.markers if n == "STEP" and a]
        return max(steps, default=-1)


@dataclass
class RunResult:
    """Figures and verdict of one run."""

    seed: int
    seconds: float = 0.0
    steps: int = 0
    episodes: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    kill_points: Counter[str] = field(default_factory=Counter)
    recover_s: list[float] = field(default_factory=list)
    exchange_restarts: int = 0
    invariants: Invariants = field(default_factory=Invariants)
    final_reconcile: str = ""
    final_counts: dict[str, int] = field(default_factory=dict)  # ReconcileReport.counts() of that last pass
    outages: list[Outage] = field(default_factory=list)
    alerts_by_kind: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every invariant held and every outage gave one alert and one all-clear."""
        return not self.all_problems()

    def all_problems(self) -> list[str]:
        """Invariant violations plus run problems (alerts, recovery)."""
        return self.invariants.problems() + self.problems

    def figures(self) -> dict[str, Any]:
        """The numbers the soak prints."""
        inv = self.invariants
        return {
            "seconds": round(self.seconds, 1),
            "steps": self.steps,
            "faults": dict(sorted(self.faults.items())),
            "kills": self.kills,
            "kill_points": dict(sorted(self.kill_points.items())),
            "recover_s_max": round(max(self.recover_s), 2) if self.recover_s else None,
            "orders_on_exchange": inv.orders_on_exchange,
            "amends_on_exchange": inv.amends_on_exchange,
            "fills_checked": inv.fills_on_exchange,
            "duplicates": inv.duplicates,
            "lost_fills": len(inv.lost_fills),
            "phantom_fills": len(inv.phantom_fills),
            "balance_mismatches": len(inv.balance_mismatches),
            "position_mismatches": len(inv.position_mismatches),
            "exchange_anomalies": len(inv.exchange_anomalies),
            "outage_alerts": [(o.kind, o.alerts, o.all_clears) for o in self.outages],
            "alerts_by_kind": dict(sorted(self.alerts_by_kind.items())),
        }


class ChaosRun:
    """One run (see the module docstring).

    Parameters
    ----------
    workdir
        Fresh directory for the exchange state, the kit home (journal, logs) and process output.
    seed
        Seeds the workload plan, the episode order and every random choice of the driver.
    episodes
        Episode names in order (default: every kind once, in a seeded order); see
        :mod:`lab.faults`.
    duration_s
        Instead of ``episodes``: draw episodes (weighted, :data:`~lab.faults.SOAK_WEIGHTS`)
        until this much time has passed.
    gap_s
        Quiet trading between episodes.
    alert_after_s
        How long an outage lasts before it is alerted (``KIT_ALERT_AFTER_S`` of the workload).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        seed: int = 1,
        episodes: list[str] | None = None,
        duration_s: float | None = None,
        gap_s: float = 0.7,
        hold_s: float = 2.0,
        maintenance_s: float = 6.0,
        alert_after_s: float = 2.0,
    ) -> None:
        self.workdir = Path(workdir)
        self.seed = seed
        self.rng = random.Random(seed)
        if episodes is None and duration_s is None:
            episodes = list(ALL_EPISODES)
            self.rng.shuffle(episodes)
        self.episodes = episodes
        self.duration_s = duration_s
        self.gap_s = gap_s
        self.alert_after_s = alert_after_s
        self.home = self.workdir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.server = ServerProcess(self.workdir / "exchange", seed=seed)
        self.receiver = WebhookReceiver()
        self.workload: WorkloadProcess = None  # type: ignore[assignment]  # set in run()
        self.t0 = time.monotonic()
        self.driver = FaultDriver(self, random.Random(seed * 7919 + 1), hold_s=hold_s, maintenance_s=maintenance_s)

    # -- the run ---------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Run everything and return the result (processes are always stopped)."""
        res = RunResult(self.seed)
        t0 = self.t0 = time.monotonic()
        self.receiver.start()
        try:
            self.server.start()
            with self._client() as ex:
                baseline = exchange_balances(ex)
            env = _scrubbed_env(
                KIT_HOME=str(self.home),
                KIT_LOCALNET_URL=self.server.url,
                KIT_ALERT_WEBHOOK_URL=self.receiver.url,
                KIT_ALERT_AFTER_S=str(self.alert_after_s),
            )
            self.workload = WorkloadProcess(self.home, self.server, seed=self.seed, env=env, out_dir=self.workdir)
            self.workload.start()
            if self.workload.wait_for("RECOVERED", after=0, timeout=120) is None:
                res.problems.append("the workload did not start")
            for name in self._schedule():
                time.sleep(self.gap_s)
                self._revive(res)
                self.driver.episode(name)
                res.episodes.append(name)
            self._revive(res)
            time.sleep(self.gap_s)
            (self.home / "STOP").touch()
            if self.workload.wait_for("DONE", after=0, timeout=120) is None:
                res.problems.append("the workload did not stop when asked")
            self.workload.reap()
            res.steps = self.workload.last_step() + 1
            self.server.clear_faults()
            self.server.reset_limits()
            res.final_reconcile, res.final_counts = self._final_reconcile()
            with self._client() as ex:
                res.invariants = check_invariants(
                    self.home / "journal.sqlite",
                    ex,
                    baseline=baseline,
                    symbols=SYMBOLS,
                    secrets=self.server.secrets(),
                    scan=[
                        self.home,
                        self.server.state_dir / "requests.log",
                        self.workdir / "workload.out",
                        self.workdir / "workload.err",
                    ],
                )
        finally:
            if self.workload is not None:
                self.workload.kill()
            self.server.stop()
            self.receiver.stop()
        d = self.driver
        res.faults = Counter(d.counts)
        res.kill_points = Counter(d.kill_points)
        res.kills = sum(d.kill_points.values())
        res.recover_s = list(d.recover_s)
        res.exchange_restarts = self.server.restarts
        res.problems += [line for line in d.log if "did not" in line]
        if self.workload is not None:
            res.problems += [f"workload bug at step {b}" for b in self.workload.bugs()]
        res.timeline = list(d.log)
        self._judge_alerts(res)
        res.seconds = time.monotonic() - t0
        return res

    def _revive(self, res: RunResult) -> None:
        """A workload that died by itself is a bug: record it, and start it again so the run goes on."""
        code = self.workload.died()
        if code is not None:
            res.problems.append(f"the workload exited by itself (code {code}); see {self.workdir / 'workload.err'}")
            self.workload.start()
            self.workload.wait_for("RECOVERED", after=time.monotonic() - 1, timeout=120)

    def _schedule(self) -> Iterator[str]:
        """Episodes in order, except that ``rate_limit`` waits for the end of a weight window.

        (Other episodes run meanwhile; when only it is left, the workload trades until the time comes.)
        """
        if self.episodes is not None:
            pending = list(self.episodes)
            while pending:
                if "rate_limit" in pending and (FaultDriver.rate_limit_due() or pending == ["rate_limit"]):
                    pending.remove("rate_limit")
                    yield "rate_limit"
                    continue
                yield pending.pop(next(i for i, e in enumerate(pending) if e != "rate_limit"))
            return
        assert self.duration_s is not None
        names, weights = zip(*SOAK_WEIGHTS.items(), strict=True)
        end = time.monotonic() + self.duration_s
        deferred = 0
        while time.monotonic() < end:
            name = self.rng.choices(names, weights=weights)[0]
            if name == "rate_limit" and not FaultDriver.rate_limit_due():
                deferred += 1
                continue
            if deferred and FaultDriver.rate_limit_due():
                deferred -= 1
                name = "rate_limit"
            yield name

    @contextlib.contextmanager
    def _client(self) -> Iterator[Any]:
        """A plain synchronous ccxt client with the workload's key (closed afterwards)."""
        from kit.localnet.ccxt_client import connect

        key, secret = self.server.credentials()
        ex = connect(self.server.url, key, secret, enableRateLimit=False)
        try:
            yield ex
        finally:
            session = getattr(ex, "session", None)
            if session is not None:
                session.close()

    def _final_reconcile(self) -> tuple[str, dict[str, int]]:
        """Cancel what is open, then reconcile until nothing is pending (a Session of its own): summary and counts."""
        from kit.ops.reconcile import reconcile
        from kit.session import Session

        with _environ(KIT_HOME=str(self.home), KIT_LOCALNET_URL=self.server.url):
            s = Session(
                "localnet", journal=self.home / "journal.sqlite", dotenv=self.server.keys_file, recv_window_ms=5000
            )
            try:
                s.cancel_all()
                deadline = time.monotonic() + 90
                while True:
                    report = reconcile(s)
                    if report.settled or time.monotonic() > deadline:
                        return report.summary(), report.counts()
                    time.sleep(1.0)
            finally:
                s.close()

    def _judge_alerts(self, res: RunResult) -> None:
        for text in self.receiver.texts():
            m = _ALERT_TEXT.search(text)
            kind = m.group(2) if m else "?"
            state = "all_clear" if "ALL CLEAR" in text else "alert"
            res.alerts_by_kind[f"{kind}:{state}"] += 1
        for out in self.driver.outages:
            texts = [t for t in self.receiver.since(out.start, out.settled) if "exchange_down" in t]
            out.alerts = sum("ALERT" in t and "ALL CLEAR" not in t for t in texts)
            out.all_clears = sum("ALL CLEAR" in t for t in texts)
            # A maintenance window outlasts the alert threshold: exactly one alert and one all-clear. A restart
            # may be too short to alert at all; if it alerts, one of each.
            want_ok = (out.alerts, out.all_clears) == (1, 1) or (
                out.kind != "maintenance" and out.alerts == out.all_clears == 0
            )
            if not want_ok:
                res.problems.append(f"{out.kind} outage gave {out.alerts} alerts and {out.all_clears} all-clears")
        res.outages = list(self.driver.outages)
