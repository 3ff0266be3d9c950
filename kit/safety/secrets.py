"""API credentials: found in the environment, ``.env`` or the OS keyring, and never shown anywhere.

A key and its secret are held in :class:`Secret` objects whose ``repr``, ``str`` and ``format`` show
only an 8-hex fingerprint, and which pickle to a fingerprint-only stub, so a key cannot reach a log
line, a notebook output, a journal row, an exception message or a child process by accident.
:func:`reveal <Secret.reveal>` is the one door to the value, used when the ccxt client is built.

Lookup order (:func:`load_credentials`): the process environment, then a ``.env`` file (read with
python-dotenv, *not* exported to ``os.environ``), then the OS keyring (service ``"tradekit"``).
Variable names come from :func:`env_names`::

    KIT_<EXCHANGE>_TESTNET_API_KEY / _API_SECRET      stage testnet
    KIT_<EXCHANGE>_LIVE_API_KEY / _API_SECRET         stages live_small and live (the same account)
    KIT_<EXCHANGE>_READ_ONLY_API_KEY / _API_SECRET    stage read_only (falls back to the LIVE pair)
    KIT_LOCALNET_API_KEY / _API_SECRET                the embedded localnet, any stage
    ..._API_PASSWORD                                  optional passphrase (OKX, KuCoin, ...)

Keys never come from code or notebook parameters: :func:`refuse_secret_params` rejects anything that
looks like one, and :func:`redact` / :class:`RedactingFilter` scrub text that might carry one.

>>> s = Secret("k" * 40)
>>> s, f"{s}", f"{s:>30}"
(Secret(fp=dc4c5d17), 'Secret(fp=dc4c5d17)', 'Secret(fp=dc4c5d17)')
>>> redact("GET /api/v3/account?timestamp=1&signature=abc123 key=" + "k" * 40)
'GET /api/v3/account?timestamp=1&signature=*** key=***'
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import inspect
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from kit import redact as _redact
from kit.errors import ConfigError, KitError, SecretNotFound
from kit.safety.stages import Stage

__all__ = [
    "KEYRING_SERVICE",
    "PASSPHRASE_EXCHANGES",
    "Credentials",
    "RedactingFilter",
    "Secret",
    "env_names",
    "install_record_redaction",
    "install_redaction",
    "keyring_names",
    "hide_arguments",
    "load_credentials",
    "no_echo",
    "password_env_name",
    "redact",
    "redact_url",
    "refuse_secret_args",
    "refuse_secret_params",
    "require_credentials",
    "require_password",
    "store_in_keyring",
]

#: Service name of every keyring entry the kit reads or writes.
KEYRING_SERVICE = "tradekit"

#: What :func:`redact` puts in place of a secret value (:data:`kit.redact.MASK`).
MASK = _redact.MASK

_log = logging.getLogger("kit.safety.secrets")
P = ParamSpec("P")
R = TypeVar("R")


# ---------------------------------------------------------------- Secret


class Secret:
    """A credential value that never shows itself.

    ``repr``, ``str`` and every format spec give ``Secret(fp=<8 hex>)``, the first 8 hex digits of
    the value's SHA-256, enough to tell two keys apart (and to match a key in the exchange's UI by
    its fingerprint in the journal) without disclosing it. Pickling (``multiprocessing``, ``copy``
    across processes, a joblib cache) yields a stub that holds only the fingerprint; its
    :meth:`reveal` raises :class:`~kit.errors.ConfigError`. Each live value is registered for
    :func:`redact`.

    Parameters
    ----------
    value
        The credential, a non-empty ``str`` (or a Secret, copied); surrounding whitespace (a copy-paste
        newline) is removed.

    Examples
    --------
    >>> import pickle
    >>> key = Secret("AbCdEfGh0123456789")
    >>> key
    Secret(fp=e87e5ee8)
    >>> key.reveal()
    'AbCdEfGh0123456789'
    >>> pickle.loads(pickle.dumps(key)).fingerprint == key.fingerprint
    True
    """

    __slots__ = ("__weakref__", "_fp", "_value")

    _value: str | None
    _fp: str

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret holds a str, not {type(value).__name__}")
        value = value.strip()
        if not value:
            raise ConfigError("empty credential value", hint="Set the variable to the key itself, not to ''.")
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "_fp", _fingerprint(value))
        _register(self)

    @classmethod
    def _stub(cls, fingerprint: str) -> Secret:
        """A fingerprint-only Secret, what unpickling produces."""
        self = object.__new__(cls)
        object.__setattr__(self, "_value", None)
        object.__setattr__(self, "_fp", str(fingerprint))
        return self

    @property
    def fingerprint(self) -> str:
        """First 8 hex digits of the value's SHA-256."""
        return self._fp

    @property
    def is_stub(self) -> bool:
        """True for a Secret that came through pickling and holds only the fingerprint."""
        return self._value is None

    def reveal(self) -> str:
        """The value itself, for the one place that needs it (the exchange client's config).

        Raises
        ------
        kit.errors.ConfigError
            On a stub that came through pickling: load the credentials in that process instead.
        """
        if self._value is None:
            raise ConfigError(
                f"{self!r} was pickled and holds only its fingerprint",
                hint=(
                    "Load the credentials in this process (kit.safety.secrets.load_credentials); "
                    "keys are never pickled."
                ),
            )
        return self._value

    def __repr__(self) -> str:
        return f"Secret(fp={self._fp})"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        # Any spec (``{s:>40}``, ``{s!s:x}`` goes through __str__) gives the redacted form.
        return repr(self)

    def __bool__(self) -> bool:
        return self._value is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        if self._value is not None and other._value is not None:
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        # A stub knows only its fingerprint: equal to a stub of the same fingerprint.
        return self._value is None and other._value is None and self._fp == other._fp

    def __hash__(self) -> int:
        return hash(("Secret", self._fp))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Secret._stub, (self._fp,))

    def __copy__(self) -> Secret:
        return self  # immutable; and the default (via __reduce__) would drop the value

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]


def _register(secret: Secret) -> None:
    if secret._value is not None:
        _redact.register(secret, secret._value)  # masked everywhere, in every encoding, while the Secret lives


# ---------------------------------------------------------------- Credentials


@dataclass(frozen=True)
class Credentials:
    """An API key pair found by :func:`load_credentials`; its repr shows fingerprints only.

    Parameters
    ----------
    api_key
        The public key (sent in a header such as ``X-MBX-APIKEY``).
    secret
        The signing secret (never sent).
    source
        Where it was found, e.g. ``"env:KIT_BINANCE_TESTNET_API_KEY"``, ``"dotenv:/home/me/proj/.env"``,
        ``"keyring:tradekit/binance:testnet"``.
    password
        The passphrase some exchanges add (OKX, KuCoin), else ``None``.

    Examples
    --------
    >>> c = Credentials(Secret("key-0123456789"), Secret("secret-0123456789"), "env:KIT_X_TESTNET_API_KEY")
    >>> c  # doctest: +ELLIPSIS
    Credentials(api_key=Secret(fp=...), secret=Secret(fp=...), source='env:KIT_X_TESTNET_API_KEY', password=None)
    >>> c.fingerprint == c.api_key.fingerprint
    True
    """

    api_key: Secret
    secret: Secret
    source: str
    password: Secret | None = None

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the API key: what the journal's ``preflight`` rows and ``kit doctor`` show."""
        return self.api_key.fingerprint

    def ccxt_config(self) -> dict[str, str]:
        """The ``apiKey``/``secret``/``password`` entries of a ccxt exchange config, values revealed.

        Pass the result straight to the ccxt constructor; never print, log or store it.
        """
        config = {"apiKey": self.api_key.reveal(), "secret": self.secret.reveal()}
        if self.password is not None:
            config["password"] = self.password.reveal()
        return config


# ---------------------------------------------------------------- names


def _slug(exchange: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]", "_", exchange.strip()).upper()
    if not slug.strip("_"):
        raise ConfigError(f"exchange id {exchange!r} is empty", hint="Pass a ccxt exchange id such as 'binance'.")
    return slug


def _slot(exchange: str, stage: Stage) -> str | None:
    """The credential slot of a stage: ``TESTNET``, ``LIVE`` (live_small and live), ``READ_ONLY``.

    localnet has no stage slots, except that read_only uses its reading-only demo key
    (``KIT_LOCALNET_READER_*``, as ``kit localnet serve`` names it): read-only stages never load a
    trading key.
    """
    if _slug(exchange) == "LOCALNET":
        return "READER" if stage is Stage.READ_ONLY else None
    if stage is Stage.PAPER:
        raise ConfigError(
            f"stage paper uses no {exchange} key: its orders go to the paper venue, which has its own",
            hint="Open Session(exchange, stage='paper') without any key; keys are for testnet and live stages.",
        )
    if stage is Stage.TESTNET:
        return "TESTNET"
    if stage in (Stage.LIVE_SMALL, Stage.LIVE):
        return "LIVE"
    return "READ_ONLY"


def _prefix(exchange: str, slot: str | None) -> str:
    slug = _slug(exchange)
    if slot is None:
        return f"KIT_{slug}"
    # "binance-testnet" + testnet -> KIT_BINANCE_TESTNET, not KIT_BINANCE_TESTNET_TESTNET.
    slug = slug.removesuffix(f"_{slot}")
    return f"KIT_{slug}_{slot}"


def env_names(exchange: str, stage: Stage | str) -> tuple[str, str]:
    """The environment variables (also the ``.env`` keys) holding a key pair for an exchange and stage.

    Parameters
    ----------
    exchange
        A ccxt exchange id (``"binance"``) or ``"localnet"``; upper-cased, non-alphanumerics become ``_``.
    stage
        The stage; ``live_small`` and ``live`` share the ``LIVE`` pair (one real account).

    Returns
    -------
    tuple[str, str]
        ``(api_key_var, api_secret_var)``; the optional passphrase is the same prefix + ``_API_PASSWORD``.

    Examples
    --------
    >>> env_names("binance", Stage.TESTNET)
    ('KIT_BINANCE_TESTNET_API_KEY', 'KIT_BINANCE_TESTNET_API_SECRET')
    >>> env_names("binanceusdm", "live_small") == env_names("binanceusdm", "live")
    True
    >>> env_names("localnet", "testnet")
    ('KIT_LOCALNET_API_KEY', 'KIT_LOCALNET_API_SECRET')
    """
    prefix = _prefix(exchange, _slot(exchange, Stage.parse(stage)))
    return f"{prefix}_API_KEY", f"{prefix}_API_SECRET"


def keyring_names(exchange: str, stage: Stage | str) -> tuple[str, str]:
    """The keyring usernames (service :data:`KEYRING_SERVICE`) holding a key pair.

    ``"<exchange>:<slot>:api_key"`` and ``":secret"`` (``":password"`` for a passphrase), where the
    slot is ``testnet``, ``live`` (live_small and live) or ``read_only``; localnet has no slot
    (``"localnet:api_key"``), as its environment variables have none.

    Examples
    --------
    >>> keyring_names("binance", "live_small")
    ('binance:live:api_key', 'binance:live:secret')
    """
    return _keyring_prefix(exchange, _slot(exchange, Stage.parse(stage)))[:2]


def _keyring_prefix(exchange: str, slot: str | None) -> tuple[str, str, str]:
    ex = _slug(exchange).lower()
    if slot is not None:
        ex = ex.removesuffix(f"_{slot.lower()}")
    base = ex if slot is None else f"{ex}:{slot.lower()}"
    return f"{base}:api_key", f"{base}:secret", f"{base}:password"


def _slots_to_try(exchange: str, stage: Stage) -> list[str | None]:
    # read_only never falls back to a trading key (issue #4: read-only stages do not load trading
    # keys); without a read-only key the session uses public data only.
    return [_slot(exchange, stage)]


# ---------------------------------------------------------------- lookup


def load_credentials(
    exchange: str,
    stage: Stage | str,
    *,
    env: Mapping[str, str] | None = None,
    dotenv: str | Path | None = ".env",
    use_keyring: bool = True,
) -> Credentials | None:
    """Find the key pair for an exchange and stage, or ``None`` when none is configured.

    Sources, first hit wins: ``env`` (default ``os.environ``), the ``dotenv`` file (read, never
    exported to ``os.environ``), the OS keyring. A source must hold both halves: one half without
    the other is a configuration mistake and raises rather than silently trying the next source.
    Keyring failures (no backend, locked, D-Bus missing) count as "not found".

    Parameters
    ----------
    exchange
        A ccxt exchange id or ``"localnet"``.
    stage
        The stage; see :func:`env_names` for which variables each stage reads.
    env
        The environment to read; ``None`` means ``os.environ``.
    dotenv
        Path of a ``.env`` file (relative to the working directory); ``None`` skips it. A missing
        file is skipped silently; a file readable by group or others is used with a warning.
    use_keyring
        Look in the OS keyring (service ``"tradekit"``) last.

    Returns
    -------
    Credentials or None

    Raises
    ------
    kit.errors.ConfigError
        A source holds a key without its secret (or the reverse).

    Examples
    --------
    >>> env = {"KIT_BINANCE_TESTNET_API_KEY": "k" * 64, "KIT_BINANCE_TESTNET_API_SECRET": "s" * 64}
    >>> creds = load_credentials("binance", "testnet", env=env, dotenv=None, use_keyring=False)
    >>> creds.source
    'env:KIT_BINANCE_TESTNET_API_KEY'
    >>> load_credentials("binance", "live", env=env, dotenv=None, use_keyring=False) is None
    True
    """
    st = Stage.parse(stage)
    environ: Mapping[str, str] = os.environ if env is None else env
    file_values = _read_dotenv(dotenv)
    slots = _slots_to_try(exchange, st)
    for slot in slots:
        prefix = _prefix(exchange, slot)
        names = (f"{prefix}_API_KEY", f"{prefix}_API_SECRET", f"{prefix}_API_PASSWORD")
        found = _pair_from_mapping(environ, names, source=f"env:{names[0]}")
        if found is None and file_values is not None:
            path, values = file_values
            found = _pair_from_mapping(values, names, source=f"dotenv:{path}")
        if found is not None:
            return found
    if use_keyring:
        for slot in slots:
            found = _pair_from_keyring(exchange, slot)
            if found is not None:
                return found
    return None


def require_credentials(
    exchange: str,
    stage: Stage | str,
    *,
    env: Mapping[str, str] | None = None,
    dotenv: str | Path | None = ".env",
    use_keyring: bool = True,
) -> Credentials:
    """Like :func:`load_credentials`, but a missing key pair raises, naming what to set.

    Raises
    ------
    kit.errors.SecretNotFound
        Nothing found; the message names the environment variables and keyring entries to set.

    Examples
    --------
    >>> require_credentials("kraken", "testnet", env={}, dotenv=None, use_keyring=False)
    Traceback (most recent call last):
    kit.errors.SecretNotFound: no API key for kraken in stage testnet ...
    """
    found = load_credentials(exchange, stage, env=env, dotenv=dotenv, use_keyring=use_keyring)
    if found is not None:
        return found
    st = Stage.parse(stage)
    key_var, secret_var = env_names(exchange, st)
    user_key, user_secret = keyring_names(exchange, st)
    looked = ["the environment"]
    if dotenv is not None:
        looked.append(f".env ({Path(dotenv)})")
    if use_keyring:
        looked.append(f"the keyring (service {KEYRING_SERVICE!r})")
    hint = (
        f"Set {key_var} and {secret_var} in the environment or in .env, or store them in the OS keyring "
        f"(service {KEYRING_SERVICE!r}, usernames {user_key!r} and {user_secret!r}: "
        f"`keyring set {KEYRING_SERVICE} {user_key}`). Use a trade-only key with withdrawals disabled and "
        "an IP allowlist; never put keys in code or notebooks."
    )
    raise SecretNotFound(f"no API key for {exchange} in stage {st.value} (looked in {', '.join(looked)})",
                         env_var=key_var, hint=hint)  # fmt: skip


#: ccxt ids whose keys come with a passphrase (ccxt's ``requiredCredentials['password']``), checked
#: against ccxt 4.5.90 by ``tests/venues/test_passphrase.py``.
PASSPHRASE_EXCHANGES = frozenset({"okx", "myokx", "okxus", "kucoin", "kucoinfutures", "bitget"})


def password_env_name(exchange: str, stage: Stage | str) -> str:
    """The variable (also the ``.env`` key) holding a key's passphrase: the key's prefix + ``_API_PASSWORD``.

    Examples
    --------
    >>> password_env_name("okx", "live_small")
    'KIT_OKX_LIVE_API_PASSWORD'
    """
    return env_names(exchange, stage)[0].removesuffix("_API_KEY") + "_API_PASSWORD"


def require_password(creds: Credentials, exchange: str, stage: Stage | str) -> str | None:
    """The passphrase to give ccxt: revealed when the venue needs one, ``None`` when it does not.

    Passphrase venues (:data:`PASSPHRASE_EXCHANGES`: OKX, KuCoin, Bitget) refuse a key without
    one, so a missing passphrase is an error here, before any request, naming the variable to set.

    Raises
    ------
    kit.errors.SecretNotFound
        The venue needs a passphrase and the source of the key holds none.

    Examples
    --------
    >>> c = Credentials(Secret("key-0123456789"), Secret("secret-0123456789"), "env:KIT_OKX_LIVE_API_KEY")
    >>> require_password(c, "binance", "live") is None
    True
    >>> require_password(c, "okx", "live")
    Traceback (most recent call last):
    kit.errors.SecretNotFound: okx keys need their passphrase, and KIT_OKX_LIVE_API_PASSWORD is not set ...
    """
    if _slug(exchange).lower() not in PASSPHRASE_EXCHANGES:
        return None
    if creds.password is not None:
        return creds.password.reveal()
    var = password_env_name(exchange, stage)
    user = _keyring_prefix(exchange, _slot(exchange, Stage.parse(stage)))[2]
    raise SecretNotFound(
        f"{exchange} keys need their passphrase, and {var} is not set (the key came from {creds.source})",
        env_var=var,
        hint=f"Set {var} next to the key and secret (environment or .env), or store it in the OS keyring "
        f"(`keyring set {KEYRING_SERVICE} {user}`): the passphrase you chose when creating the key. Never in code.",
    )


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _pair_from_mapping(
    values: Mapping[str, str | None], names: tuple[str, str, str], *, source: str
) -> Credentials | None:
    key, secret, password = (_clean(values.get(n)) for n in names)
    if key is None and secret is None:
        return None
    where = "the environment" if source.startswith("env:") else source.replace("dotenv:", "", 1)
    if key is None or secret is None:
        have, missing = (names[0], names[1]) if secret is None else (names[1], names[0])
        raise ConfigError(
            f"{have} is set in {where} but {missing} is not",
            hint=f"Set both {names[0]} and {names[1]} in the same place (environment, .env or keyring).",
        )
    return Credentials(Secret(key), Secret(secret), source, Secret(password) if password else None)


def _read_dotenv(path: str | Path | None) -> tuple[Path, Mapping[str, str | None]] | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        _log.warning("%s is readable by other users; run `chmod 600 %s`", p, p)
    from dotenv import dotenv_values

    # interpolate=False: take values literally; a secret may contain "$".
    return p.resolve(), dotenv_values(p, interpolate=False)


def _pair_from_keyring(exchange: str, slot: str | None) -> Credentials | None:
    user_key, user_secret, user_password = _keyring_prefix(exchange, slot)
    try:
        import keyring

        key = _clean(keyring.get_password(KEYRING_SERVICE, user_key))
        secret = _clean(keyring.get_password(KEYRING_SERVICE, user_secret))
        password = _clean(keyring.get_password(KEYRING_SERVICE, user_password)) if key and secret else None
    except Exception as exc:  # noqa: BLE001 - any backend failure means "not in the keyring"
        # The message of a backend error never holds a value (we only asked); the type is enough.
        _log.debug("keyring lookup skipped: %s", type(exc).__name__)
        return None
    if key is None and secret is None:
        return None
    source = f"keyring:{KEYRING_SERVICE}/{user_key.rsplit(':', 1)[0]}"
    if key is None or secret is None:
        raise ConfigError(
            f"the keyring holds only one of {user_key!r} and {user_secret!r} (service {KEYRING_SERVICE!r})",
            hint=f"Store both: `keyring set {KEYRING_SERVICE} {user_key}` and `keyring set {KEYRING_SERVICE} "
            f"{user_secret}`.",
        )
    return Credentials(Secret(key), Secret(secret), source, Secret(password) if password else None)


def store_in_keyring(
    exchange: str,
    stage: Stage | str,
    api_key: Secret | str,
    secret: Secret | str,
    *,
    password: Secret | str | None = None,
) -> str:
    """Save a key pair in the OS keyring (for ``kit doctor``-style setup that prompts with ``getpass``).

    Returns
    -------
    str
        The source string :func:`load_credentials` will report for it.

    Raises
    ------
    kit.errors.ConfigError
        No usable keyring backend on this machine.
    """
    st = Stage.parse(stage)
    slot = _slot(exchange, st)
    user_key, user_secret, user_password = _keyring_prefix(exchange, slot)
    values = [(user_key, Secret(api_key)), (user_secret, Secret(secret))]
    if password is not None:
        values.append((user_password, Secret(password)))
    try:
        import keyring

        for user, value in values:
            keyring.set_password(KEYRING_SERVICE, user, value.reveal())
    except Exception as exc:  # noqa: BLE001 - report any backend failure the same way
        raise ConfigError(
            f"cannot write to the OS keyring ({type(exc).__name__})",
            hint=f"Install a keyring backend, or set {' and '.join(env_names(exchange, st))} in .env instead.",
        ) from None
    return f"keyring:{KEYRING_SERVICE}/{user_key.rsplit(':', 1)[0]}"


# ---------------------------------------------------------------- parameters

_WHERE_KEYS_COME_FROM = (
    "Keys come from the environment (KIT_<EXCHANGE>_<STAGE>_API_KEY / _API_SECRET), .env or the keyring, never "
    "from code, notebook or papermill parameters. Remove the parameter (and revoke the key if it was saved)."
)


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any, str | None]]:
    """Yield (path, value, key-name-or-None) for every leaf and every mapping key under ``value``."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            name = str(k)
            shown = "<key that looks like a secret>" if _redact.looks_like_secret(name) else name
            sub = f"{path}.{shown}" if path else shown
            yield sub, v, name
            yield from _walk(v, sub)
    elif isinstance(value, list | tuple | set | frozenset):
        for i, v in enumerate(value):
            sub = f"{path}[{i}]"
            yield sub, v, None
            yield from _walk(v, sub)


def refuse_secret_params(params: Mapping[str, Any], where: str) -> None:
    """Refuse parameters that carry a credential (by name or by shape), before anything uses them.

    A key is refused when its name is a credential's name (:func:`kit.redact.is_credential_name`:
    ``apikey``, ``secret``, ``password``, ``passphrase``, ``private_key``, ``token``, ``credential``,
    ``signature``, ``listenKey`` ..., case and ``_``/``-`` ignored); a value when it is a
    :class:`Secret`/:class:`Credentials` or a string that is, contains or has the shape of a
    credential (:func:`kit.redact.looks_like_secret`: a PEM private key, a live secret, a 32+
    character key-alphabet token, a shorter mixed-case random one, a known key prefix), also
    inside longer text. Nested mappings and sequences are searched. The message names the
    parameter, never its value.

    Parameters
    ----------
    params
        E.g. papermill parameters, a strategy's config, ccxt ``params``.
    where
        Who passed them, for the message (``"papermill parameters"``, ``"Session(...)"``).

    Raises
    ------
    kit.errors.ConfigError

    Examples
    --------
    >>> refuse_secret_params({"symbol": "BTC/USDT", "limit": 5}, "papermill parameters")
    >>> refuse_secret_params({"api_key": "x"}, "papermill parameters")
    Traceback (most recent call last):
    kit.errors.ConfigError: papermill parameters: 'api_key' looks like a credential ...
    """
    for path, value, name in _walk(params, ""):
        if name is not None and _redact.is_credential_name(name) and value not in (None, "", False):
            reason = "its name is a credential's name"
        elif isinstance(value, Secret | Credentials):
            reason = "its value is a Secret"
        elif isinstance(value, str | bytes) and _redact.looks_like_secret(value):
            reason = "its value is, holds or has the shape of an API key, secret or private key"
        elif name is not None and _redact.looks_like_secret(name):
            reason = "a mapping key has the shape of an API key or secret"
        else:
            continue
        raise ConfigError(f"{where}: {path!r} looks like a credential ({reason})", hint=_WHERE_KEYS_COME_FROM)


# ---------------------------------------------------------------- arguments that are never echoed

#: What a message shows in place of an argument that looks like a credential.
NOT_SHOWN = "<a value that looks like a credential, not shown>"


def refuse_secret_args(where: str, **args: Any) -> None:
    """Refuse arguments that are certainly credentials, naming the argument, never showing its value.

    For arguments that are names (an exchange id, a stage, an account name), where no legitimate
    value has the shape of a key: refused are a :class:`Secret`/:class:`Credentials` and any string
    that :func:`kit.redact.looks_like_secret` (a PEM block, a live secret of this process in any
    encoding, a key-shaped token, also inside longer text).

    Raises
    ------
    kit.errors.ConfigError
        Before anything is sent or stored.

    Examples
    --------
    >>> refuse_secret_args("Session()", exchange="binance", account="main")
    >>> refuse_secret_args("Session()", exchange="vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A")
    Traceback (most recent call last):
    kit.errors.ConfigError: Session(): the exchange argument looks like a credential; it is not shown. Pass ...
    """
    for name, value in args.items():
        if isinstance(value, Secret | Credentials) or _redact.looks_like_secret(value):
            raise ConfigError(
                f"{where}: the {name} argument looks like a credential; it is not shown",
                hint=f"Pass the {name} by its name (e.g. exchange='binance', stage='testnet'). {_WHERE_KEYS_COME_FROM}",
            )


def _certain_secret(value: Any) -> bool:
    """A Secret, a PEM private key, or a live secret of this process: never sent anywhere as an argument."""
    if isinstance(value, Secret | Credentials):
        return True
    if not isinstance(value, str):
        return False
    return "-----BEGIN" in value or _redact.holds_live_secret(value)


def hide_arguments(exc: BaseException, values: Mapping[str, str]) -> None:
    """Replace each of ``values`` (argument name -> value) in ``exc``'s text and context, and in its chain.

    Strings in the exception's attributes (a :class:`~kit.errors.KitError`'s message, hint and
    context such as ``symbol``) and ``args`` are rewritten in place; each value is replaced in
    every encoding by ``<the NAME argument, not shown: it looks like a credential>``.
    """
    forms = sorted(
        ((form, f"<the {name} argument, not shown: it looks like a credential>")
         for name, value in values.items() for form in _redact.encoded_forms(value) if len(form) >= 4),
        key=lambda pair: -len(pair[0]),
    )  # fmt: skip

    def clean(text: str) -> str:
        for form, shown in forms:
            text = text.replace(form, shown)
        return text

    for e in _redact.exception_chain(exc):
        for attr, value in list(vars(e).items()):
            if isinstance(value, str) and clean(value) != value:
                setattr(e, attr, clean(value))
        if any(isinstance(a, str) for a in e.args):
            try:
                e.args = tuple(clean(a) if isinstance(a, str) else a for a in e.args)
            except (AttributeError, TypeError):  # an exception type that fixes its args
                pass


def no_echo(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a public method so that its arguments that look like credentials are never repeated.

    Before the call, an argument that is certainly a credential (a :class:`Secret`, a PEM private
    key, a live secret of this process) is refused with :class:`~kit.errors.ConfigError`, naming
    the argument only: nothing is sent. After it, a :class:`~kit.errors.KitError` the call raises
    has every argument that looks like a credential (:func:`kit.redact.looks_like_secret`) replaced
    in its message and context (:func:`hide_arguments`). Shaped-but-unknown values are still
    used (an order id or client id placed elsewhere may look random), only never echoed.

    Examples
    --------
    >>> from kit.errors import OrderRejected
    >>> @no_echo
    ... def place(symbol: str) -> None:
    ...     raise OrderRejected(f"unknown symbol {symbol!r}", symbol=symbol)
    >>> place("Ab3dE5gH7jK9mN1pQ2rS")
    Traceback (most recent call last):
    kit.errors.OrderRejected: unknown symbol '<the symbol argument, not shown: it looks like a credential>' ...
    """
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            bound = sig.bind(*args, **kwargs).arguments
        except TypeError:
            return fn(*args, **kwargs)  # the call itself is wrong: let Python say so
        flat: dict[str, Any] = {}
        for name, value in bound.items():
            if isinstance(value, Mapping) and sig.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                flat.update(value)
            elif name != "self":
                flat[name] = value
        for name, value in flat.items():
            if _certain_secret(value):
                raise ConfigError(
                    f"{fn.__name__}(): the {name} argument is a credential; it is not shown and nothing was sent",
                    hint=f"Pass the {name} itself, never a key, secret or private key. {_WHERE_KEYS_COME_FROM}",
                )
        try:
            return fn(*args, **kwargs)
        except KitError as exc:
            shaped = {n: v for n, v in flat.items() if isinstance(v, str) and _redact.looks_like_secret(v)}
            if shaped:
                hide_arguments(exc, shaped)
            raise

    return wrapper


# ---------------------------------------------------------------- redaction


def redact(text: str, secrets: Iterable[Secret] = ()) -> str:
    """Mask every live :class:`Secret` value (plus ``secrets``) and credential-named fields in ``text``.

    The kit's one redactor, :func:`kit.redact.redact_text`: values of Secrets alive in this process
    in every encoding (plain, URL-encoded, base64, hex, JSON-escaped), ``signature=``, ``apiKey=``,
    ``secret=``, ``listenKey=``... query/form parameters, the same names as JSON fields or HTTP
    headers (``X-MBX-APIKEY: ...``), bearer tokens, PEM private keys and passwords in URL userinfo.

    Parameters
    ----------
    text
        Any text: a log message, an exception message, a URL, a response body.
    secrets
        Extra secrets to mask (e.g. ones created with fewer than 8 characters, which are not registered).

    Returns
    -------
    str

    Examples
    --------
    >>> redact('{"apiKey": "abc", "symbol": "BTCUSDT"}')
    '{"apiKey": "***", "symbol": "BTCUSDT"}'
    """
    extra = [v for v in (s._value for s in secrets) if v]
    return _redact.redact_text(text, extra)


def redact_url(url: str) -> str:
    """A URL safe to log: credential and signature query parameters removed, secrets masked.

    ``signature``, ``apiKey``, ``secret``, ``password``, ``token``... are dropped from the query
    (``timestamp``, ``recvWindow`` and the rest stay: they explain clock and rate-limit issues), a
    URL password is masked, and any live secret value left anywhere is masked.

    Examples
    --------
    >>> redact_url("https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1700000000000&signature=9f0a")
    'https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1700000000000'
    """
    return _redact.redact_url(url)


_STD_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    r"""A logging filter that redacts each record's message, arguments, traceback and string extras.

    Attach it to **handlers** (or use :func:`install_redaction`): a filter on a logger sees only
    records logged on that very logger, not those propagating up from its children
    (``kit.session`` records pass the ``kit`` logger's handlers, not its filters).

    Examples
    --------
    >>> import logging, io
    >>> stream = io.StringIO()
    >>> handler = logging.StreamHandler(stream)
    >>> handler.addFilter(RedactingFilter())
    >>> log = logging.getLogger("kit.doctest.redact")
    >>> log.addHandler(handler); log.propagate = False
    >>> log.warning("GET %s", "/api/v3/account?signature=deadbeef")
    >>> stream.getvalue()
    'GET /api/v3/account?signature=***\n'
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; always keep it (True)."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken %-format: log its pieces, redacted
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            # Formatters append exc_text; dropping exc_info stops one from re-rendering the raw traceback.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name not in _STD_RECORD_ATTRS and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


def install_redaction(logger: logging.Logger | str = "kit") -> RedactingFilter:
    """Attach one :class:`RedactingFilter` to a logger and to each of its handlers (idempotent).

    Handlers added to the logger later need ``handler.addFilter(...)`` with the returned filter.

    Returns
    -------
    RedactingFilter
    """
    log = logging.getLogger(logger) if isinstance(logger, str) else logger
    existing = next((f for f in log.filters if isinstance(f, RedactingFilter)), None)
    flt = existing or RedactingFilter()
    if existing is None:
        log.addFilter(flt)
    for handler in log.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(flt)
    return flt


#: Loggers whose records are redacted when they are created (:func:`install_record_redaction`).
REDACTED_LOGGERS = ("kit", "ccxt")
_FACTORIES: set[int] = set()  # ids of the record factories installed here


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken %-format: keep its pieces, redacted
        message = f"{record.msg!s} {record.args!r}"
    record.msg = redact(message)
    record.args = None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None  # a formatter would render the raw traceback again
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install_record_redaction() -> None:
    """Redact every record of the ``kit`` and ``ccxt`` loggers when it is created (idempotent).

    A filter on a logger does not see its children's records, and a notebook, pytest or an error
    reporter adds handlers the kit never sees; a record factory sees every record first, whatever
    handler prints it. Records of other loggers are left as they are.

    Examples
    --------
    >>> install_record_redaction()
    >>> r = logging.getLogger("kit.doctest").makeRecord("kit.doctest", 30, "f", 1, "GET %s", ("/x?signature=ab",), None)
    >>> r.getMessage()
    'GET /x?signature=***'
    """
    previous = logging.getLogRecordFactory()
    if id(previous) in _FACTORIES:
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        name = record.name
        if any(name == root or name.startswith(root + ".") for root in REDACTED_LOGGERS):
            _redact_record(record)
        return record

    _FACTORIES.add(id(factory))
    logging.setLogRecordFactory(factory)
