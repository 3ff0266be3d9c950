"""The user's kill file stops a notebook kernel's orders, also where ``prepare()`` isolated the journal (#17.2).

A kernel is started as JupyterLab starts one, with the user's ``KIT_HOME`` in its environment and
no localnet: ``prepare("localnet")`` starts a private localnet and moves the journal to a
temporary folder. The kernel places a resting order; the test then does what a user does in a
terminal, ``touch $KIT_HOME/KILL``, and the kernel's Session must cancel the order by itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from harness import clean_env

pytestmark = pytest.mark.slow

SETUP = """
from decimal import Decimal
from kit.cli.demo import prepare
from kit.session import Session
prep = prepare("localnet")
s = Session("localnet", stage="testnet")
last = Decimal(str(s.ticker("BTC/USDT")["last"]))
o = s.place("BTC/USDT", "buy", "0.001", price=str(last - 100))
import json, os
ids = [str(i) for i in s.open_orders("BTC/USDT")["id"]]
print(json.dumps({"id": str(o["id"]), "open": ids, "kill_file": str(prep.kill_file),
                  "home": os.environ["KIT_HOME"], "summary": prep.summary}))
"""

WAIT = """
import time, json
t0 = time.monotonic()
while str(o["id"]) in [str(i) for i in s.open_orders("BTC/USDT")["id"]] and time.monotonic() - t0 < 5:
    time.sleep(0.1)
print(json.dumps({"open": [str(i) for i in s.open_orders("BTC/USDT")["id"]],
                  "status": s.order("BTC/USDT", order_id=o["id"])["status"], "kill": s.status()["kill_switch"]}))
"""


def _run(kc: Any, code: str) -> dict[str, Any]:
    out: list[str] = []
    errors: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            errors.append("\n".join(msg["content"]["traceback"]))

    kc.execute_interactive(code, output_hook=hook, timeout=60)
    assert not errors, errors[0]
    lines = [line for line in "".join(out).splitlines() if line.startswith("{")]
    assert lines, "".join(out)
    return dict(json.loads(lines[-1]))


def test_touching_the_users_kill_file_cancels_a_kernels_open_orders(tmp_path: Path) -> None:
    from jupyter_client.manager import KernelManager

    home = tmp_path / "user-home"
    home.mkdir()
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=clean_env(home), cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        placed = _run(kc, SETUP)
        assert placed["id"] in placed["open"]
        assert placed["kill_file"] == str(home / "KILL")  # the user's, not the kernel's temporary KIT_HOME
        assert placed["home"] != str(home)  # the journal was isolated, and the summary says so
        assert f"touch {home / 'KILL'}" in placed["summary"] and "temporary folder" in placed["summary"]
        (home / "KILL").write_text("test: the user touched the kill file")
        after = _run(kc, WAIT)
        assert after["status"] == "canceled", after
        # the kit's order is gone; the one placed "on the website" (the demo's history) is not the kit's to cancel
        assert after["open"] == [i for i in placed["open"] if i != placed["id"]]
        assert "the user touched the kill file" in str(after["kill"])
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
