"""kit.safety.secrets: a key never shows itself, is found in env > .env > keyring, and never comes from parameters."""

from __future__ import annotations

import copy
import dataclasses
import gc
import io
import json
import logging
import multiprocessing
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest
from keyring.backends.fail import Keyring as FailKeyring

from kit.errors import ConfigError, SecretNotFound
from kit.safety.secrets import (
    KEYRING_SERVICE,
    Credentials,
    RedactingFilter,
    Secret,
    env_names,
    install_redaction,
    keyring_names,
    load_credentials,
    redact,
    redact_url,
    refuse_secret_params,
    require_credentials,
    store_in_keyring,
)
from kit.safety.stages import Stage

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"  # shape of a Binance key
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real, complete keyring backend that keeps entries in a dict (keyring's own API, no patching)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError(username) from None


class BrokenKeyring(MemoryKeyring):
    """A backend that fails like a locked or unreachable Secret Service does."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("the collection is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("no")


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def broken_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(BrokenKeyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def assert_clean(text: str) -> None:
    assert API_KEY not in text
    assert API_SECRET not in text
    # Not even a long piece of it.
    assert API_KEY[:16] not in text and API_SECRET[:16] not in text


# ---------------------------------------------------------------- Secret never shows itself


def test_secret_repr_str_format_show_only_the_fingerprint() -> None:
    s = Secret(API_KEY)
    fp = s.fingerprint
    assert len(fp) == 8 and int(fp, 16) >= 0
    shown = [
        repr(s),
        str(s),
        f"{s}",
        f"{s!r}",
        f"{s!s}",
        f"{s:>80}",
        f"{s:s}",
        "{}".format(s),  # noqa: UP032 - str.format is a different path from f-strings
        "{0!r}".format(s),  # noqa: UP030, UP032
        "%s" % s,  # noqa: UP031 - so is %-formatting (logging uses it)
        "%r" % (s,),  # noqa: UP031
        repr([s]),
        repr({"k": s}),
        repr(Credentials(s, Secret(API_SECRET), "env:X")),
    ]
    for text in shown:
        assert_clean(text)
        assert f"fp={fp}" in text
    assert repr(s) == f"Secret(fp={fp})"
    assert s.reveal() == API_KEY


def test_secret_cannot_be_serialised_or_concatenated_by_accident() -> None:
    s = Secret(API_KEY)
    with pytest.raises(TypeError):
        json.dumps({"apiKey": s})
    with pytest.raises(TypeError):
        "key=" + s  # type: ignore[operator]
    with pytest.raises(AttributeError):
        s._value = "changed"
    assert not hasattr(s, "__dict__")


def test_secret_in_an_exception_message_stays_hidden() -> None:
    s = Secret(API_SECRET)
    err = ConfigError(f"bad secret {s}", hint=f"was {s!r}")
    assert_clean(str(err))
    assert_clean(repr(err))


def test_pickle_keeps_only_the_fingerprint() -> None:
    s = Secret(API_SECRET)
    blob = pickle.dumps(s)
    assert API_SECRET.encode() not in blob
    assert API_SECRET[:16].encode() not in blob
    stub = pickle.loads(blob)
    assert stub.fingerprint == s.fingerprint
    assert repr(stub) == repr(s)
    assert stub.is_stub and not stub
    with pytest.raises(ConfigError, match="holds only its fingerprint"):
        stub.reveal()
    creds = Credentials(Secret(API_KEY), s, "env:KIT_X_LIVE_API_KEY")
    blob = pickle.dumps(creds)
    assert API_KEY.encode() not in blob and API_SECRET.encode() not in blob
    back = pickle.loads(blob)
    assert back.fingerprint == creds.fingerprint and back.source == creds.source


def _child_reveal(secret: Secret, queue: multiprocessing.Queue[tuple[str, str, bool]]) -> None:  # pragma: no cover
    try:
        value = secret.reveal()
    except ConfigError as exc:
        queue.put((repr(secret), type(exc).__name__, secret.is_stub))
    else:
        queue.put((repr(secret), value, secret.is_stub))


def test_a_child_process_receives_a_stub_not_the_key() -> None:
    s = Secret(API_SECRET)
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[tuple[str, str, bool]] = ctx.Queue()
    proc = ctx.Process(target=_child_reveal, args=(s, queue))
    proc.start()
    shown, outcome, is_stub = queue.get(timeout=60)
    proc.join(timeout=60)
    assert proc.exitcode == 0
    assert shown == repr(s)
    assert outcome == "ConfigError" and is_stub


def test_copy_keeps_the_value_within_a_process() -> None:
    s = Secret(API_KEY)
    assert copy.copy(s).reveal() == API_KEY
    assert copy.deepcopy(s).reveal() == API_KEY
    creds = Credentials(s, Secret(API_SECRET), "env:X")
    as_dict = dataclasses.asdict(creds)
    assert as_dict["api_key"].reveal() == API_KEY
    assert_clean(repr(as_dict))


def test_equality_by_value_hash_and_bool() -> None:
    a, b, c = Secret(API_KEY), Secret(API_KEY), Secret(API_SECRET)
    assert a == b and a is not b and hash(a) == hash(b)
    assert a != c
    assert a != API_KEY  # never equal to the raw string
    assert bool(a)
    assert len({a, b, c}) == 2
    stub = pickle.loads(pickle.dumps(a))
    assert stub == pickle.loads(pickle.dumps(b))
    assert stub != a  # a stub cannot prove it holds the same value


def test_secret_rejects_empty_and_non_str_and_strips_copy_paste_whitespace() -> None:
    with pytest.raises(ConfigError):
        Secret("   \n")
    with pytest.raises(TypeError):
        Secret(API_KEY.encode())  # type: ignore[arg-type]
    assert Secret(f"  {API_KEY}\n").reveal() == API_KEY
    assert Secret(Secret(API_KEY)).reveal() == API_KEY


def test_credentials_ccxt_config_reveals_only_there() -> None:
    creds = Credentials(Secret(API_KEY), Secret(API_SECRET), "env:X", password=Secret("passphrase-123"))
    assert creds.ccxt_config() == {"apiKey": API_KEY, "secret": API_SECRET, "password": "passphrase-123"}
    assert creds.fingerprint == Secret(API_KEY).fingerprint
    assert "passphrase-123" not in repr(creds)


# ---------------------------------------------------------------- logging


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, list[logging.LogRecord]]]:
    """The "kit" logger with a real stream handler and a record-keeping handler, both redacting."""
    log = logging.getLogger("kit")
    stream = io.StringIO()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    text_handler = logging.StreamHandler(stream)
    text_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s %(extra_field)s"))
    keep = Keep()
    old_level = log.level
    log.setLevel(logging.DEBUG)
    log.addHandler(text_handler)
    log.addHandler(keep)
    flt = install_redaction(log)
    try:
        yield log, stream, records
    finally:
        for h in (text_handler, keep):
            log.removeHandler(h)
        log.removeFilter(flt)
        log.setLevel(old_level)


def test_logging_through_redacting_filter_never_shows_the_secret(captured) -> None:
    log, stream, records = captured
    key, secret = Secret(API_KEY), Secret(API_SECRET)
    child = logging.getLogger("kit.session.orders")  # propagates to the "kit" handlers
    child.warning("using key %s", key.reveal(), extra={"extra_field": f"secret={secret.reveal()}"})
    log.info("GET https://api.binance.com/api/v3/account?timestamp=1&signature=0af3 key " + secret.reveal(),
             extra={"extra_field": "-"})  # fmt: skip
    try:
        raise RuntimeError(f"signing failed for {secret.reveal()}")
    except RuntimeError:
        child.exception("order failed", extra={"extra_field": "-"})
    child.error("broken %d format %s", "not-a-number", key.reveal(), extra={"extra_field": "-"})
    output = stream.getvalue()
    assert_clean(output)
    assert "signature=***" in output and "RuntimeError: signing failed for ***" in output
    assert len(records) == 4
    for r in records:
        assert_clean(r.getMessage())
        assert_clean(str(r.exc_text or ""))
        assert_clean(str(r.__dict__.get("extra_field")))
    assert f"using key {MASK_SENTINEL}" in records[0].getMessage()


MASK_SENTINEL = "***"


def test_redacting_filter_on_a_handler_covers_any_logger() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("someone.else")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("%r", {"apiKey": Secret(API_KEY).reveal()})
    finally:
        log.removeHandler(handler)
        log.propagate = True
    assert_clean(stream.getvalue())


# ---------------------------------------------------------------- redact / redact_url


def test_redact_masks_live_secrets_in_raw_and_url_encoded_form() -> None:
    s = Secret("abc+def/ghi=jkl0123456789")
    text = f"raw {s.reveal()} encoded abc%2Bdef%2Fghi%3Djkl0123456789 plus abc%2Bdef%2Fghi%3Djkl0123456789"
    out = redact(text)
    assert "abc+def" not in out and "abc%2Bdef" not in out
    assert out.count("***") == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1&signature=deadbeef&b=2", "a=1&signature=***&b=2"),
        ("?apiKey=XYZ&recvWindow=5000", "?apiKey=***&recvWindow=5000"),
        ("api_key=XYZ secret=abc", "api_key=*** secret=***"),
        ('{"apiKey": "XYZ", "symbol": "BTCUSDT"}', '{"apiKey": "***", "symbol": "BTCUSDT"}'),
        ("{'secret': 'abc', 'limit': 5}", "{'secret': '***', 'limit': 5}"),
        ("X-MBX-APIKEY: XYZ123\nContent-Type: json", "X-MBX-APIKEY: ***\nContent-Type: json"),
        ("https://user:hunter22@example.com/x", "https://user:***@example.com/x"),
        # one list of names (kit.redact): any name containing "signature" is a credential's name, as the
        # request log already held; "design" is not ("sign" counts only as a whole name)
        ("design=fine signature_ok=1", "design=fine signature_ok=***"),
    ],
)
def test_redact_masks_credential_fields(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redaction_lasts_as_long_as_any_holder_of_the_value() -> None:
    value = "zQ9vLm3Rt7Xw2Kp8Hn4Bc6Df1Gj5Sa0E"
    first, second = Secret(value), Secret(value)
    assert first == second
    del first
    gc.collect()
    assert redact(f"x {value} y") == "x *** y"
    del second
    gc.collect()
    assert redact(f"x {value} y") == f"x {value} y"  # nobody holds it any more: no registry leak


def test_redact_short_secret_only_when_passed() -> None:
    short = Secret("pw12")  # too short to register: would mask every "pw12" everywhere
    assert redact("pass pw12") == "pass pw12"
    assert redact("pass pw12", [short]) == "pass ***"


def test_redact_url_drops_credential_params_and_keeps_the_rest() -> None:
    url = (
        "https://testnet.binance.vision/api/v3/order?symbol=BTCUSDT&side=BUY&timestamp=1700000000000"
        f"&recvWindow=5000&apiKey={API_KEY}&signature=9f0ab1c2"
    )
    out = redact_url(url)
    assert out == (
        "https://testnet.binance.vision/api/v3/order?symbol=BTCUSDT&side=BUY&timestamp=1700000000000&recvWindow=5000"
    )
    assert redact_url("https://u:p4ss@h.example/x?Signature=1&a=b") == "https://u:***@h.example/x?a=b"
    s = Secret(API_SECRET)
    assert_clean(redact_url(f"https://h.example/{s.reveal()}/x"))


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("exchange", "stage", "expected"),
    [
        ("binance", Stage.TESTNET, ("KIT_BINANCE_TESTNET_API_KEY", "KIT_BINANCE_TESTNET_API_SECRET")),
        ("binance", Stage.LIVE_SMALL, ("KIT_BINANCE_LIVE_API_KEY", "KIT_BINANCE_LIVE_API_SECRET")),
        ("binance", "live", ("KIT_BINANCE_LIVE_API_KEY", "KIT_BINANCE_LIVE_API_SECRET")),
        ("binance", "read_only", ("KIT_BINANCE_READ_ONLY_API_KEY", "KIT_BINANCE_READ_ONLY_API_SECRET")),
        ("binance-testnet", "testnet", ("KIT_BINANCE_TESTNET_API_KEY", "KIT_BINANCE_TESTNET_API_SECRET")),
        ("localnet", Stage.TESTNET, ("KIT_LOCALNET_API_KEY", "KIT_LOCALNET_API_SECRET")),
        ("localnet", Stage.READ_ONLY, ("KIT_LOCALNET_READER_API_KEY", "KIT_LOCALNET_READER_API_SECRET")),
        ("gate.io", "testnet", ("KIT_GATE_IO_TESTNET_API_KEY", "KIT_GATE_IO_TESTNET_API_SECRET")),
        ("Kraken", "live", ("KIT_KRAKEN_LIVE_API_KEY", "KIT_KRAKEN_LIVE_API_SECRET")),
    ],
)
def test_env_names(exchange: str, stage: Stage | str, expected: tuple[str, str]) -> None:
    assert env_names(exchange, stage) == expected


def test_keyring_names_and_bad_inputs() -> None:
    assert keyring_names("binance", Stage.TESTNET) == ("binance:testnet:api_key", "binance:testnet:secret")
    assert keyring_names("binance", "live") == keyring_names("binance", "live_small")
    assert keyring_names("localnet", "testnet") == ("localnet:api_key", "localnet:secret")
    with pytest.raises(ConfigError):
        env_names("binance", "paper")
    with pytest.raises(ConfigError):
        env_names("--", "testnet")


# ---------------------------------------------------------------- lookup order

TESTNET_ENV = {"KIT_BINANCE_TESTNET_API_KEY": API_KEY, "KIT_BINANCE_TESTNET_API_SECRET": API_SECRET}


def write_env(path: Path, key: str, secret: str, prefix: str = "KIT_BINANCE_TESTNET") -> Path:
    path.write_text(f"# keys for the testnet\n{prefix}_API_KEY={key}\n{prefix}_API_SECRET='{secret}'\n")
    path.chmod(0o600)
    return path


def test_environment_comes_first(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    dotenv = write_env(tmp_path / ".env", "dotenv-key-000000", "dotenv-secret-000000")
    store_in_keyring("binance", "testnet", "ring-key-000000", "ring-secret-000000")
    creds = load_credentials("binance", Stage.TESTNET, env=TESTNET_ENV, dotenv=dotenv)
    assert creds is not None
    assert creds.api_key.reveal() == API_KEY and creds.secret.reveal() == API_SECRET
    assert creds.source == "env:KIT_BINANCE_TESTNET_API_KEY"


def test_dotenv_second_and_not_exported(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    dotenv = write_env(tmp_path / ".env", "dotenv-key-000000", "dotenv-$HOME-secret")
    store_in_keyring("binance", "testnet", "ring-key-000000", "ring-secret-000000")
    creds = load_credentials("binance", "testnet", env={}, dotenv=dotenv)
    assert creds is not None
    assert creds.api_key.reveal() == "dotenv-key-000000"
    assert creds.secret.reveal() == "dotenv-$HOME-secret"  # taken literally, no interpolation
    assert creds.source == f"dotenv:{dotenv.resolve()}"
    assert "KIT_BINANCE_TESTNET_API_KEY" not in os.environ


def test_keyring_last(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    store_in_keyring("binance", "testnet", "ring-key-000000", "ring-secret-000000", password="ring-pass-00")
    assert memory_keyring.entries[(KEYRING_SERVICE, "binance:testnet:api_key")] == "ring-key-000000"
    creds = load_credentials("binance", "testnet", env={}, dotenv=tmp_path / "missing.env")
    assert creds is not None
    assert creds.api_key.reveal() == "ring-key-000000"
    assert creds.password is not None and creds.password.reveal() == "ring-pass-00"
    assert creds.source == "keyring:tradekit/binance:testnet"
    assert load_credentials("binance", "testnet", env={}, dotenv=None, use_keyring=False) is None


def test_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch, no_keyring: None, tmp_path: Path) -> None:
    monkeypatch.setenv("KIT_KRAKEN_LIVE_API_KEY", API_KEY)
    monkeypatch.setenv("KIT_KRAKEN_LIVE_API_SECRET", API_SECRET)
    creds = load_credentials("kraken", Stage.LIVE_SMALL, dotenv=tmp_path / "none")
    assert creds is not None and creds.source == "env:KIT_KRAKEN_LIVE_API_KEY"
    assert load_credentials("kraken", Stage.TESTNET, dotenv=tmp_path / "none") is None


def test_keyring_failures_mean_not_found(broken_keyring: None) -> None:
    assert load_credentials("binance", "testnet", env={}, dotenv=None) is None
    with pytest.raises(ConfigError, match="cannot write to the OS keyring"):
        store_in_keyring("binance", "testnet", "k" * 20, "s" * 20)


def test_no_keyring_backend_means_not_found(no_keyring: None) -> None:
    assert load_credentials("binance", "testnet", env={}, dotenv=None) is None


def test_read_only_never_loads_a_trading_key(memory_keyring: MemoryKeyring) -> None:
    live = {"KIT_BINANCE_LIVE_API_KEY": API_KEY, "KIT_BINANCE_LIVE_API_SECRET": API_SECRET}
    assert load_credentials("binance", "read_only", env=live, dotenv=None) is None
    both = {**live, "KIT_BINANCE_READ_ONLY_API_KEY": "ro-key-0000000", "KIT_BINANCE_READ_ONLY_API_SECRET": "ro-s-00000"}
    creds = load_credentials("binance", "read_only", env=both, dotenv=None)
    assert creds is not None and creds.api_key.reveal() == "ro-key-0000000"
    # but a testnet stage never picks up the live key
    assert load_credentials("binance", "testnet", env=live, dotenv=None) is None


def test_half_a_pair_is_an_error_that_names_the_variable_not_the_value(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(ConfigError) as info:
        load_credentials("binance", "testnet", env={"KIT_BINANCE_TESTNET_API_KEY": API_KEY}, dotenv=None)
    assert "KIT_BINANCE_TESTNET_API_SECRET" in str(info.value)
    assert_clean(str(info.value))
    memory_keyring.set_password(KEYRING_SERVICE, "binance:testnet:secret", API_SECRET)
    with pytest.raises(ConfigError, match="holds only one"):
        load_credentials("binance", "testnet", env={}, dotenv=None)


def test_blank_values_count_as_unset(memory_keyring: MemoryKeyring) -> None:
    env = {"KIT_BINANCE_TESTNET_API_KEY": "  ", "KIT_BINANCE_TESTNET_API_SECRET": ""}
    assert load_credentials("binance", "testnet", env=env, dotenv=None) is None


def test_world_readable_dotenv_is_used_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dotenv = write_env(tmp_path / ".env", API_KEY, API_SECRET)
    dotenv.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="kit.safety.secrets"):
        creds = load_credentials("binance", "testnet", env={}, dotenv=dotenv, use_keyring=False)
    assert creds is not None
    assert "chmod 600" in caplog.text
    assert_clean(caplog.text)


def test_require_credentials_names_what_to_set(no_keyring: None, tmp_path: Path) -> None:
    with pytest.raises(SecretNotFound) as info:
        require_credentials("binance", Stage.LIVE, env={}, dotenv=tmp_path / ".env")
    err = info.value
    assert err.env_var == "KIT_BINANCE_LIVE_API_KEY"
    text = str(err)
    for needle in ("KIT_BINANCE_LIVE_API_KEY", "KIT_BINANCE_LIVE_API_SECRET", "binance:live:api_key", "tradekit"):
        assert needle in text
    assert isinstance(err, ConfigError)
    ok = require_credentials("binance", Stage.TESTNET, env=TESTNET_ENV, dotenv=None)
    assert ok.api_key.reveal() == API_KEY


def test_loaded_credentials_are_redacted_everywhere(tmp_path: Path, no_keyring: None) -> None:
    creds = load_credentials("binance", "testnet", env=TESTNET_ENV, dotenv=None)
    assert creds is not None
    assert_clean(repr(creds))
    assert_clean(redact(f"ccxt said: binance {{'apiKey': '{API_KEY}'}} sig {API_SECRET}"))


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "params",
    [
        {"api_key": "abc"},
        {"apiKey": "abc"},
        {"API-SECRET": "abc"},
        {"secret": "abc"},
        {"password": "hunter2"},
        {"passphrase": "x"},
        {"private_key": "-----BEGIN"},
        {"token": "t"},
        {"credentials": {"a": 1}},
        {"notes": API_KEY},
        {"notes": "dGhpcyBpcyBhIGJhc2U2NCBzZWNyZXQgdmFsdWUhIQ=="},
        {"exchange": {"options": {"secret": "abc"}}},
        {"symbols": ["BTC/USDT", API_SECRET]},
        {"creds": Secret("abcdefgh1234")},
        {API_KEY: "value"},
        # #12.6: PEM private keys, secrets inside longer text, short keys
        {"notes": "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBk2\n-----END EC PRIVATE KEY-----"},
        {"notes": "-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA"},
        {"notes": f"use key {API_KEY} for the run"},
        {"venue": f"binance?apiKey={API_SECRET}"},
        {"venue": "Ab3dE5gH7jK9mN1pQ"},
        {"symbols": ["BTC/USDT", "x7Kq2Lm9Np4Rs8Tv"]},
        {"token_of_the_day": "x"},
    ],
)
def test_refuse_secret_params_refuses(params: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        refuse_secret_params(params, "papermill parameters")
    text = str(info.value)
    assert text.startswith("papermill parameters: ")
    assert "KIT_" in text and "never" in text and "papermill parameters" in text
    assert_clean(text)
    assert "hunter2" not in text and "abcdefgh1234" not in text


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"symbol": "BTC/USDT", "timeframe": "1h", "limit": 500, "since": "2024-01-01"},
        {"stage": "testnet", "exchange": "binance", "key_age_days": 40},
        {"path": "data/binance/BTC_USDT-1h.parquet", "run_id": "2024-06-01T00-00-00"},
        {"api_key": None, "secret": ""},  # a declared-but-empty notebook parameter is harmless
        {"symbols": ["BTC/USDT", "ETH/USDT"], "caps": {"max_order_notional": "20"}},
        {"note": "a sentence with spaces that is longer than thirty two characters"},
        {"path": "data/binance/BTC_USDT/period=2024/part-0.parquet", "client_id": "tk-000001-3f9a2b1c4d5e6f70"},
        {"since": "2024-06-01T00:00:00+00:00", "until": "2024-06-02T00:00:00+00:00", "exchange": "binance-testnet"},
    ],
)
def test_refuse_secret_params_allows_ordinary_parameters(params: dict[str, object]) -> None:
    refuse_secret_params(params, "papermill parameters")
