"""localnet's market moves by itself in real time by default; the stepped clock stays for tests."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from kit.cli.localnet import serve
from kit.localnet import LocalnetConfig, start


@pytest.mark.slow
def test_a_default_localnet_prints_trades_and_moves_its_book_without_being_stepped() -> None:
    cfg = LocalnetConfig(history_minutes=5)
    assert not cfg.stepped and cfg.speed == 1.0 and cfg.tick_interval_ms == 100
    with start(config=cfg) as net:
        first = net.call(lambda v: (v.clock.now_ms(), len(v.recent["BTCUSDT"]), v.books["BTCUSDT"].update_id))
        # ~40 prints a minute on BTCUSDT, at random: 6 s see none with probability e^-4 (about 2 %),
        # so wait until one came, up to 30 s (none in 30 s: e^-20)
        deadline = time.monotonic() + 30.0
        time.sleep(6.0)
        while True:
            later = net.call(lambda v: (v.clock.now_ms(), len(v.recent["BTCUSDT"]), v.books["BTCUSDT"].update_id))
            if (later[1] > first[1] and later[2] > first[2]) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert later[0] - first[0] >= 5_500  # the clock follows the wall clock
    assert later[1] > first[1] and later[2] > first[2]  # new prints, and the book moved with them


def test_a_stepped_localnet_stands_still() -> None:
    with start(config=LocalnetConfig(history_minutes=5, stepped=True)) as net:
        before = net.call(lambda v: (v.clock.now_ms(), len(v.recent["BTCUSDT"])))
        time.sleep(0.5)
        assert net.call(lambda v: (v.clock.now_ms(), len(v.recent["BTCUSDT"]))) == before


def test_serve_takes_a_tick_cadence_and_refuses_a_silly_one() -> None:
    done = CliRunner().invoke(serve, ["--tick-ms", "5", "--memory"])
    assert done.exit_code == 2 and "--tick-ms" in done.output
    assert "--tick-ms" in CliRunner().invoke(serve, ["--help"]).output
