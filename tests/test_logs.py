"""The request log: JSON lines, rotation by size, several writers, and no secret ever in a line."""

from __future__ import annotations

import doctest
import json
import logging
import multiprocessing as mp
import stat
import time
from pathlib import Path
from typing import Any

import pytest

import kit.transport.logs
from kit.errors import AuthError
from kit.transport.logs import RequestLog, is_credential_name, redact_text, redact_url

SPAWN = mp.get_context("spawn")


def test_write_and_read_back(tmp_path: Path) -> None:
    rl = RequestLog(tmp_path / "logs")
    before = int(time.time() * 1000)
    rl.write("get", "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=100", 200, weight=5, latency_ms=12.3456)
    rl.write("POST", "https://api.binance.com/api/v3/order", None, error="timeout", retry=1)
    first, second = rl.read()
    assert first["method"] == "GET" and first["status"] == 200 and first["weight"] == 5
    assert first["url"] == "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=100"
    assert first["latency_ms"] == 12.346 and first["error"] is None
    assert before <= first["ts_ms"] <= int(time.time() * 1000)
    assert first["time"].endswith("Z") and first["time"][:4].isdigit()
    assert second["status"] is None and second["error"] == "timeout" and second["retry"] == 1
    assert stat.S_IMODE(rl.path.stat().st_mode) == 0o600
    lines = rl.path.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.binance.com/api/v3/order?symbol=BTCUSDT&side=BUY&timestamp=1700000000000&signature=9f0a1b",
            # one redactor (kit.redact): the timestamp stays, as in kit.safety.secrets.redact_url (clock errors)
            "https://api.binance.com/api/v3/order?symbol=BTCUSDT&side=BUY&timestamp=1700000000000",
        ),
        (
            "https://api.binance.com/api/v3/time?timestamp=1700000000000",  # unsigned: the timestamp stays
            "https://api.binance.com/api/v3/time?timestamp=1700000000000",
        ),
        ("https://x.test/p?apiKey=abc&secret=def&a=1", "https://x.test/p?a=1"),
        ("https://user:pass@x.test/p?listenKey=zzz", "https://user:***@x.test/p"),  # password masked, as in secrets
    ],
)
def test_urls_are_redacted(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_no_secret_reaches_the_file(tmp_path: Path) -> None:
    from kit.safety.secrets import Secret

    value = "Live" + "q" * 40
    live = Secret(value)
    rl = RequestLog(tmp_path)
    url = f"https://api.binance.com/api/v3/account?timestamp=1&signature=cafebabe99&apiKey={value}"
    err = AuthError(f"binance GET {url} 401 Invalid API-key {value}")
    rl.write("GET", url, 401, error=err, headers={"X-MBX-APIKEY": value, "Accept": "json"}, note=f"key {value}",
             api_secret="whatever")  # fmt: skip
    text = rl.path.read_text()
    assert value not in text and "cafebabe99" not in text and "whatever" not in text
    (line,) = rl.read()
    assert line["error"].startswith("AuthError: binance GET https://api.binance.com/api/v3/account")
    assert line["headers"] == {"X-MBX-APIKEY": "[redacted]", "Accept": "json"}
    assert line["api_secret"] == "[redacted]"
    del live


def test_credential_names() -> None:
    for name in ("apiKey", "api-key", "X-MBX-APIKEY", "secret", "api_secret", "password", "passphrase", "signature",
                 "listenKey", "token", "access_token", "private_key", "key"):  # fmt: skip
        assert is_credential_name(name), name
    for name in ("symbol", "key_age_days", "fingerprint", "timestamp", "recvWindow", "keys_found", "monkey_id"):
        assert not is_credential_name(name), name


def test_redact_text_keeps_the_rest() -> None:
    # one redactor (kit.redact): credential values in text are masked in place, as every other path did
    text = "POST https://api.x.test/order?symbol=ETHUSDT&signature=abc123&type=LIMIT failed (400)"
    assert redact_text(text) == "POST https://api.x.test/order?symbol=ETHUSDT&signature=***&type=LIMIT failed (400)"
    assert redact_text("https://x.test/p?signature=abc&a=1") == "https://x.test/p?signature=***&a=1"
    assert redact_text("nothing to hide") == "nothing to hide"


def test_rotation_keeps_the_newest_lines(tmp_path: Path) -> None:
    rl = RequestLog(tmp_path, max_bytes=1000, backups=2)
    for i in range(100):
        rl.write("GET", f"https://x.test/p?i={i}", 200, seq=i)
    files = rl.files()
    assert [p.name for p in files] == ["requests.jsonl.2", "requests.jsonl.1", "requests.jsonl"]
    assert not (tmp_path / "requests.jsonl.3").exists()
    assert all(p.stat().st_size <= 1000 for p in files)
    seqs = [line["seq"] for line in rl.read()]
    assert seqs == list(range(seqs[0], 100))  # contiguous, oldest first, ending with the last write
    assert 0 < seqs[0]  # the oldest lines were dropped with the oldest backup


def test_rotation_without_backups(tmp_path: Path) -> None:
    rl = RequestLog(tmp_path, max_bytes=500, backups=0)
    for i in range(50):
        rl.write("GET", "https://x.test/", 200, seq=i)
    assert rl.files() == [rl.path] and rl.path.stat().st_size <= 500
    assert rl.read()[-1]["seq"] == 49


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        RequestLog("/tmp", max_bytes=0)


def test_write_failure_warns_once_and_never_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rl = RequestLog(tmp_path)
    rl.path.mkdir()  # the log file's name is taken by a directory: every write fails
    with caplog.at_level(logging.WARNING, logger="kit.transport.logs"):
        rl.write("GET", "https://x.test/", 200)
        rl.write("GET", "https://x.test/", 200)
    assert [r.levelname for r in caplog.records if r.name == "kit.transport.logs"] == ["WARNING"]


def _write_lines(directory: str, writer: int, n: int, start: Any) -> None:
    rl = RequestLog(directory, max_bytes=20_000, backups=50)
    start.wait()
    for i in range(n):
        rl.write("GET", f"https://x.test/api?w={writer}&i={i}", 200, writer=writer, i=i, pad="x" * 100)


@pytest.mark.slow
def test_processes_share_a_rotating_log(tmp_path: Path) -> None:
    start = SPAWN.Event()
    procs = [SPAWN.Process(target=_write_lines, args=(str(tmp_path), w, 300, start)) for w in (1, 2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    rl = RequestLog(tmp_path, max_bytes=20_000, backups=50)
    assert len(rl.files()) > 3  # it did rotate while both were writing
    raw = [line for p in rl.files() for line in p.read_text().splitlines()]
    lines = [json.loads(line) for line in raw]  # no torn or interleaved line
    assert len(lines) == 600
    for w in (1, 2):
        assert [x["i"] for x in lines if x["writer"] == w] == list(range(300))  # none lost, order kept
    assert all(p.stat().st_size <= 20_000 for p in rl.files())


def test_docstring_examples() -> None:
    result = doctest.testmod(kit.transport.logs, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
