"""``kit candles fetch`` as a new user meets it (#17.8): timeframes, times, the exchange's option name."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from store_helpers import LocalnetSource

from kit.cli.candles import candles
from kit.errors import ConfigError
from kit.localnet import LocalnetConfig
from kit.localnet.server import Localnet, start


def test_an_unsupported_timeframe_is_an_error_listing_the_supported_ones(synth_net: Localnet, tmp_path: Path) -> None:
    src = LocalnetSource(synth_net)
    res = CliRunner().invoke(candles, ["fetch", "BTC/USDT", "7m", "--since", "2024-02-29T20:00", "--root",
                                       str(tmp_path), "--no-progress"], obj={"candle_source": src})  # fmt: skip
    assert isinstance(res.exception, ConfigError), res.output
    assert "'7m'" in str(res.exception) and "1m, " in str(res.exception) and "5m" in str(res.exception)
    assert src.calls == [] and not any(tmp_path.iterdir())  # refused before anything was fetched or stored


def test_times_are_read_like_in_kit_report_and_venue_is_a_deprecated_alias(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    cfg = LocalnetConfig(stepped=True, seed=7, start_ms=now - now % 60_000, history_minutes=3 * 60)
    with start(port=0, config=cfg) as net:
        src = LocalnetSource(net)
        args = ["fetch", "BTC/USDT", "1h", "--since", "-2h", "--until", "now", "--root", str(tmp_path), "--no-progress"]
        res = CliRunner().invoke(candles, [*args, "--venue", "localnet"], obj={"candle_source": src})
    assert res.exit_code == 0, res.output
    assert "BTC/USDT 1h on localnet: " in res.stdout and " candles in range; spans " in res.stdout
    assert "--venue is deprecated" in res.stderr and "--exchange" in res.stderr


@pytest.mark.parametrize("since", ["yesterday", "today", "-1d", "-90min", "2024-01-01T00:00+02:00"])
def test_every_time_word_is_accepted_before_anything_connects(since: str, tmp_path: Path) -> None:
    from kit.views.report import when

    assert when(since).tzinfo is not None  # the same parser the command uses (and kit report, and the notebooks)
