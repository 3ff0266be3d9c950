"""``kit candles`` (the click group in kit/cli/candles.py): fetch, ls, verify."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from store_helpers import MIN, T0, LocalnetSource, make_candles, ts

from kit.cli.candles import candles
from kit.localnet.server import Localnet
from kit.store import Store


def test_fetch_ls_verify(synth_net: Localnet, tmp_path: Path) -> None:
    src = LocalnetSource(synth_net)
    runner = CliRunner()
    args = [
        "fetch",
        "BTC/USDT",
        "1m",
        "--since",
        "2024-02-29T20:00",
        "--until",
        "2024-02-29T23:00",
        "--root",
        str(tmp_path),
        "--no-progress",
    ]
    res = runner.invoke(candles, args, obj={"candle_source": src})
    assert res.exit_code == 0, res.output
    assert "BTC/USDT 1m on localnet: 180 candles in range; spans stored=1" in res.output
    assert len(src.calls) == 1
    again = runner.invoke(candles, args, obj={"candle_source": src})
    assert again.exit_code == 0 and len(src.calls) == 1
    ls = runner.invoke(candles, ["ls", "--root", str(tmp_path)])
    assert ls.exit_code == 0 and "localnet" in ls.output and "BTC/USDT" in ls.output and "180" in ls.output
    ok = runner.invoke(candles, ["verify", "--root", str(tmp_path)])
    assert ok.exit_code == 0 and "ok: no findings" in ok.output
    empty = runner.invoke(candles, ["ls", "--root", str(tmp_path / "none")])
    assert "nothing stored" in empty.output


def test_verify_exit_code_on_findings(tmp_path: Path) -> None:
    frame = make_candles(10)
    frame["volume"] = np.where(np.arange(len(frame)) == 3, -2.0, frame["volume"])
    Store(tmp_path).put(frame, "BTC/USDT", "1m", venue="imported")
    res = CliRunner().invoke(candles, ["verify", "BTC/USDT", "1m", "--root", str(tmp_path)])
    assert res.exit_code == 1 and "negative volume" in res.output


def test_bad_time_is_a_kit_error(synth_net: Localnet, tmp_path: Path) -> None:
    from kit.errors import ConfigError

    res = CliRunner().invoke(
        candles,
        ["fetch", "BTC/USDT", "1m", "--since", "yesterday-ish", "--root", str(tmp_path)],
        obj={"candle_source": LocalnetSource(synth_net)},
    )
    assert isinstance(res.exception, ConfigError)  # the main `kit` group turns it into one line, exit 2


def test_fetch_through_a_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kit.localnet import LocalnetConfig
    from kit.localnet.server import start

    with start(port=0, config=LocalnetConfig(stepped=True, start_ms=T0, history_minutes=300)) as net:
        monkeypatch.setenv("KIT_LOCALNET_URL", net.url)
        monkeypatch.setenv("KIT_HOME", str(tmp_path / "home"))
        res = CliRunner().invoke(
            candles,
            [
                "fetch",
                "BTC/USDT",
                "1m",
                "--since",
                str(ts(T0 - 120 * MIN)),
                "--until",
                str(ts(T0 - 60 * MIN)),
                "--root",
                str(tmp_path / "data"),
                "--no-progress",
            ],
        )
        assert res.exit_code == 0, res.output
        assert "60 candles in range" in res.output
