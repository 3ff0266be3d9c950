"""One redactor (kit.redact): a known secret pushed through every output path is found nowhere, in any encoding.

Paths: ``repr`` of credentials, a log line, a journal row, an exception's message and its verbose
traceback (locals of every frame, the chained ccxt error too), the kit's request log, localnet's
request log, and a notebook's output (papermill, IPython's verbose tracebacks). Each path gets the
secret in each of :data:`kit.redact.ENCODINGS` (the same value plain, URL-encoded, base64, hex,
JSON-escaped) and its output is searched for every encoding of it.

Not covered by design (documented in kit/redact.py): a secret encoded together with other text
(``base64("key:secret")``) is masked only where a credential name or header says what it is.
"""

from __future__ import annotations

import ast
import io
import json
import logging
import os
import secrets as stdlib_secrets
import traceback
from collections.abc import Callable
from pathlib import Path

import ccxt
import nbformat
import pytest

from kit import redact as R
from kit.errors import AuthError, ConfigError, ReportFailed
from kit.journal.journal import Journal
from kit.localnet.reqlog import RequestLog as LocalnetLog
from kit.safety.secrets import Credentials, RedactingFilter, Secret, redact, refuse_secret_params
from kit.transport.ccxt_errors import ccxt_errors
from kit.transport.logs import RequestLog

KIT = Path(__file__).resolve().parents[1] / "kit"


def _value() -> str:
    """A fresh 64-character key, shaped like Binance's (letters and digits)."""
    return "".join(
        stdlib_secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(64)
    )


def _carried(value: str, encoding: str) -> str:
    """``value`` as it would be carried in the ``encoding`` (the first form of that encoding)."""
    return R.ENCODINGS[encoding](value)[0]


def _found(text: str | bytes, value: str) -> list[str]:
    data = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return [name for name, enc in R.ENCODINGS.items() for form in enc(value) if form and form in data]


# ---------------------------------------------------------------- the paths: each returns what it output


def path_repr(value: str, carried: str, tmp: Path) -> str:
    key, sec = Secret(value), Secret(carried)
    creds = Credentials(key, sec, "env:KIT_X_TESTNET_API_KEY")
    return "\n".join([repr(key), str(sec), f"{key:>80}", repr(creds), str(creds), repr([creds, {"k": key}])])


def path_log_line(value: str, carried: str, tmp: Path) -> str:
    held = Secret(value)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(note)s"))
    handler.addFilter(RedactingFilter())
    log = logging.getLogger(f"kit.test.redact.{stdlib_secrets.token_hex(4)}")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("GET /api/v3/account?symbol=%s&recvWindow=5000 -> 401", carried, extra={"note": f"n {carried}"})
        try:
            raise RuntimeError(f"refused {carried}")
        except RuntimeError:
            log.exception("request failed for key %r", {"apiKey": carried})
    finally:
        log.removeHandler(handler)
    del held
    return stream.getvalue()


def path_journal_row(value: str, carried: str, tmp: Path) -> bytes:
    held = Secret(value)
    with Journal(tmp / "j.sqlite") as j:
        j.append("error", venue="binance", op="fetch_balance", error_class="AuthError",
                 message=f"binance GET https://h/api/v3/account?x={carried} 401 {carried}",
                 detail={"reply": f"key {carried}", "items": [carried]})  # fmt: skip
        rows = json.dumps([e.payload for e in j.events()])
    del held
    return rows.encode() + b"".join(p.read_bytes() for p in tmp.glob("j.sqlite*"))


def _like_ccxt_fetch(headers: dict[str, str], url: str) -> None:
    """A stand-in for ccxt's fetch(): the request's headers and signed URL are its locals when it raises."""
    raise ccxt.AuthenticationError(f"binance GET {url} 401 " + json.dumps({"msg": "bad key", "headers": headers}))


def _through_ccxt_errors(carried: Callable[[], str]) -> AuthError:
    """Raise like ccxt and map; catch here, so this frame (no secret in its locals) is the traceback's top."""
    try:
        with ccxt_errors("fetch_balance", write=False):
            _like_ccxt_fetch({"X-MBX-APIKEY": carried()}, f"https://h/api/v3/account?timestamp=1&note={carried()}")
    except AuthError as err:
        return err
    raise AssertionError("ccxt_errors did not map the error")


def path_exception(value: str, carried: str, tmp: Path) -> str:
    held = Secret(value)
    exc = _through_ccxt_errors(lambda: carried)
    out = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    out.append("".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format()))
    del held
    return "\n".join(out)


def path_request_log(value: str, carried: str, tmp: Path) -> bytes:
    held = Secret(value)
    rl = RequestLog(tmp / "logs")
    rl.write("GET", f"https://h/api/v3/account?symbol={carried}&apiKey={carried}&signature=ab", 401,
             error=AuthError(f"binance 401 {carried}"), headers={"X-MBX-APIKEY": carried}, note=carried)  # fmt: skip
    del held
    return b"".join(p.read_bytes() for p in (tmp / "logs").glob("requests.jsonl*"))


def path_localnet_request_log(value: str, carried: str, tmp: Path) -> bytes:
    held = Secret(value)
    log = LocalnetLog(tmp / "ln.log")
    log.write(method="POST", path="/api/v3/order", query=f"symbol=BTCUSDT&newClientOrderId={carried}&timestamp=1",
              body=f"apiKey={carried}&listenKey={carried}&signature=ab", status=400, weight=1, key_fp="ab12cd34",
              ip="127.0.0.1", latency_ms=1.0)  # fmt: skip
    log.close()
    del held
    return (tmp / "ln.log").read_bytes()


PATHS: dict[str, Callable[[str, str, Path], str | bytes]] = {
    "repr": path_repr,
    "log line": path_log_line,
    "journal row": path_journal_row,
    "exception and verbose traceback": path_exception,
    "kit request log": path_request_log,
    "localnet request log": path_localnet_request_log,
}


@pytest.mark.parametrize("encoding", sorted(R.ENCODINGS))
@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_secret_is_found_nowhere(path: str, encoding: str, tmp_path: Path) -> None:
    value = _value()
    out = PATHS[path](value, _carried(value, encoding), tmp_path)
    assert out  # the path did write something
    assert _found(out, value) == []


def test_the_scan_finds_what_it_looks_for() -> None:
    value = _value()
    for encoding in R.ENCODINGS:
        assert encoding in _found(f"x {_carried(value, encoding)} y", value)


NOTEBOOK = [
    "%xmode Verbose",
    "import os\nimport ccxt\nfrom kit.safety.secrets import Secret, redact\n"
    "from kit.transport.ccxt_errors import ccxt_errors\n"
    "key = Secret(os.environ.pop('SEAM_TEST_SECRET'))\nkey",
    "print(repr(key), redact('apiKey=' + key.reveal()), redact('hex ' + key.reveal().encode().hex()))",
    "def fetch(headers):\n    raise ccxt.AuthenticationError('binance 401 ' + str(headers))\n\n"
    "with ccxt_errors('fetch_balance', write=False):\n    fetch({'X-MBX-APIKEY': key.reveal()})",
]


@pytest.mark.slow
def test_a_secret_is_found_nowhere_in_notebook_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kit.views.report import run_notebook

    value = _value()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src = tmp_path / "leak.ipynb"
    nbformat.write(nb, src)
    monkeypatch.setenv("SEAM_TEST_SECRET", value)
    with pytest.raises(ReportFailed) as info:
        run_notebook(src, tmp_path / "out.ipynb", {"note": "x"})
    text = (tmp_path / "out.ipynb").read_text()
    assert "AuthError" in text and "Secret(fp=" in text  # the cells ran and printed
    assert "X-MBX-APIKEY" in text or "fetch_balance" in text
    assert _found(text, value) == [] and _found(str(info.value), value) == []


# ---------------------------------------------------------------- one list, one module


def test_the_redactor_is_a_leaf() -> None:
    tree = ast.parse((KIT / "redact.py").read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m == "kit" or m.startswith("kit.")]


def _name_lists(tree: ast.Module) -> list[int]:
    """Lines of module-level collections or regexes whose strings name 3+ credentials: a list of names."""
    words = ("signature", "secret", "password", "passphrase", "apikey", "api_key", "listenkey", "token")
    out = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and node.value is not None
            and not any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)
            and not (isinstance(node.value, ast.Constant | ast.JoinedStr))  # a message, not a list
        ):
            text = " ".join(
                c.value.lower()
                for c in ast.walk(node.value)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            )
            if sum(w in text for w in words) >= 3:
                out.append(node.lineno)
    return out


def test_every_redactor_is_the_one() -> None:
    from kit.transport import ccxt_errors, logs

    assert logs.redact_text is R.redact_text and logs.redact_url is R.redact_url
    assert logs.is_credential_name is R.is_credential_name
    assert ccxt_errors.redact_text("listenKey=abc&sign=def") == R.redact_text("listenKey=abc&sign=def")
    src = "X = ('signature', 'secret', 'token')\nY = re.compile('password|apikey|listenkey')\n"
    src += "Z = 'secret token signature'\n"
    assert _name_lists(ast.parse(src)) == [1, 2]  # the rule sees lists and patterns, not messages
    found = {
        p.relative_to(KIT).as_posix(): lines
        for p in sorted(KIT.rglob("*.py"))
        if p.name != "redact.py" and (lines := _name_lists(ast.parse(p.read_text())))
    }
    assert found == {}, "keep credential names in kit/redact.py only"


@pytest.mark.parametrize(
    "name", ["apiKey", "api-key", "X-MBX-APIKEY", "secret", "apiSecret", "password", "passphrase", "signature",
             "listenKey", "token", "access_token", "private_key", "privateKey", "sign", "key", "credentials"],
)  # fmt: skip
def test_every_path_agrees_on_credential_names(name: str) -> None:
    assert R.is_credential_name(name)
    assert R.redact_text(f"{name}=zz9zz9zz9") == f"{name}=***"
    assert R.redact_url(f"https://h/p?{name}=zz9zz9zz9&a=1") == "https://h/p?a=1"
    from kit.localnet.reqlog import sanitize

    assert sanitize(f"{name}=zz9zz9zz9&a=1") == "a=1"
    with pytest.raises(ConfigError):
        refuse_secret_params({name: "x"}, "test")


def test_pem_private_keys_are_masked_whole() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKxoT7Wv0Zn4y2\n-----END PRIVATE KEY-----"
    out = redact(f"config: {pem} done")
    assert out == f"config: {R.MASK} done"
    assert R.redact_text(json.dumps({"k": pem})) == json.dumps({"k": R.MASK})


def test_values_are_registered_only_while_held() -> None:
    value = _value()
    held = Secret(value)
    assert redact(value) == R.MASK
    del held
    import gc

    gc.collect()
    assert redact(value) == value
    assert os.environ.get("SEAM_TEST_SECRET") is None


def test_kit_log_records_are_redacted_whatever_handler_prints_them(caplog: pytest.LogCaptureFixture) -> None:
    from kit.safety.secrets import install_record_redaction

    install_record_redaction()
    install_record_redaction()  # idempotent: one factory
    value = _value()
    held = Secret(value)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("kit.session").warning("refused %s", {"X-MBX-APIKEY": _carried(value, "base64")})
        logging.getLogger("ccxt.base.exchange").debug("GET /api/v3/account?signature=ab %s", _carried(value, "hex"))
        try:
            raise RuntimeError(f"key {value}")
        except RuntimeError:
            logging.getLogger("kit.ops.alerts").exception("delivery failed")
        logging.getLogger("someone.else").warning("not ours: %s", "left alone")
    text = caplog.text + "".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "refused" in text and "delivery failed" in text and "left alone" in text
    assert _found(text, value) == [] and "signature=***" in text
    del held


def test_the_shortcut_for_text_no_pattern_can_match_changes_nothing() -> None:
    """``redact_text`` skips its patterns when the text has none of what they need (#14: the journal's cost).

    Checked against every pattern applied unconditionally, on random text built from the pieces the
    patterns look for (separators, PEM headers, auth words in odd cases and spacing) and plain words.
    """
    import random

    def full(text: str) -> str:  # the patterns, each applied whatever the text holds
        t = R._PEM.sub(R.MASK, text)
        t = R._BEARER.sub(lambda m: f"{m.group(1)} {R.MASK}", t)
        t = R._KV.sub(lambda m: f"{m.group(1)}={R.MASK}" if R.is_credential_name(m.group(1)) else m.group(0), t)
        t = R._QUOTED.sub(lambda m: (f"{m.group(1)}{m.group(2)}{m.group(1)}{m.group(3)}{m.group(4)}{R.MASK}{m.group(4)}"
                                     if R.is_credential_name(m.group(2)) else m.group(0)), t)  # fmt: skip
        t = R._HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{R.MASK}" if R.is_credential_name(m.group(2))
                          else m.group(0), t)  # fmt: skip
        return R._USERINFO.sub(lambda m: f"{m.group(1)}:{R.MASK}@", t)

    pieces = ["BTC/USDT", "buy", "tk-d-80f5664a636f1fab62d7", " ", "\t", "\n", "=", ":", '"', "'", "@", "/", "-----",
              "-----BEGIN RSA PRIVATE KEY-----", "Bearer", "BASIC", "bAsIc", "apiKey", "secret", "signature",
              "http://", "abcdefghijklmnop", "x", "0.001", "ſ", "K"]  # fmt: skip
    rng = random.Random(14)
    skipped = 0
    for _ in range(4000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        assert R.redact_text(text) == full(text), text
        skipped += not R._MAYBE.search(text)
    assert 200 < skipped < 3800  # both paths were taken
