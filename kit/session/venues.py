"""Which exchange a Session talks to, and the ccxt client for it.

``"localnet"`` is the kit's embedded offline exchange: a running one is found through
``KIT_LOCALNET_URL`` (``kit localnet serve`` writes it to its keys file), else one is started in
this process. Any other name is a ccxt exchange id; the ``testnet`` stage puts it in ccxt's
sandbox mode (``"binance-testnet"`` is accepted as a spelling of ``"binance"`` + testnet).

>>> spec = resolve("binance-testnet", None)
>>> (spec.exchange_id, spec.sandbox, spec.stage.value)
('binance', True, 'testnet')
>>> resolve("localnet", None).stage.value
'testnet'
>>> paper = resolve("binance", "paper")
>>> (paper.paper, paper.sandbox, paper.is_localnet)
(True, True, True)

``"rehearsal"`` is a second, separate localnet that the user declares a rehearsal venue
(:func:`start_rehearsal`, ``KIT_REHEARSAL_URL``): it plays a real exchange with a testnet, so the whole
ladder ``read_only`` -> ``testnet`` -> ``live_small`` -> ``live`` runs offline, with the real evidence
gate, caps and kill switch. It has its own keys (``KIT_REHEARSAL_READ_ONLY_*``, ``KIT_REHEARSAL_TESTNET_*``,
``KIT_REHEARSAL_LIVE_*``), its own state (``$KIT_HOME/rehearsal``) and its own journal names
(``rehearsal-testnet``, ``rehearsal``); it is never the default, its evidence never counts for a real
exchange (nor a real exchange's for it), and a URL is checked to be a rehearsal instance before use.

>>> r = resolve("rehearsal", "live_small")
>>> (r.rehearsal, r.sandbox, r.is_localnet, r.journal_name)
(True, False, False, 'rehearsal')
>>> resolve("rehearsal", "testnet").journal_name
'rehearsal-testnet'
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.errors import ConfigError, StageError
from kit.safety.stages import Stage

#: The name of the rehearsal venue (journal venues ``rehearsal`` and ``rehearsal-testnet``).
REHEARSAL = "rehearsal"


def is_rehearsal(venue: str) -> bool:
    """True for a journal venue name of the rehearsal venue.

    >>> is_rehearsal("rehearsal-testnet"), is_rehearsal("binance"), is_rehearsal("localnet")
    (True, False, False)
    """
    return venue == REHEARSAL or venue.startswith(f"{REHEARSAL}-")


@dataclass(frozen=True)
class VenueSpec:
    """A resolved venue: ccxt id, whether it is a sandbox, the stage, and localnet's URL."""

    name: str
    exchange_id: str
    sandbox: bool
    stage: Stage
    url: str | None = None
    paper: bool = False
    rehearsal: bool = False

    @property
    def is_localnet(self) -> bool:
        """True for the embedded offline exchange, and for the paper venue (a private localnet)."""
        return self.name == "localnet" or self.paper

    @property
    def journal_name(self) -> str:
        """The venue name journal rows carry: ``binance``, ``binance-testnet``, ``localnet``, ``rehearsal``..."""
        return self.name if not self.sandbox or self.is_localnet else f"{self.name}-testnet"


def resolve(exchange: str, stage: Stage | str | None) -> VenueSpec:
    """Turn ``Session(exchange, stage=...)`` arguments into a :class:`VenueSpec`."""
    import ccxt

    name = exchange.strip().lower()
    st = Stage(stage) if stage is not None else None
    if name in (REHEARSAL, f"{REHEARSAL}-testnet"):
        st = st or (Stage.TESTNET if name.endswith("-testnet") else Stage.READ_ONLY)
        if st is Stage.PAPER:
            raise StageError(
                "stage paper mirrors a real market; the rehearsal venue is a localnet already",
                hint="No request was sent. Rehearse with read_only, testnet, live_small and live on it.",
            )
        if name.endswith("-testnet") and st not in (Stage.TESTNET, Stage.READ_ONLY):
            raise StageError(f"'{exchange}' is the rehearsal's testnet; stage {st.value} needs 'rehearsal'")
        return VenueSpec(REHEARSAL, "binance", st is Stage.TESTNET, st, rehearsal=True)
    if st is Stage.PAPER:
        # Orders go to the paper venue (kit.paper: a private localnet mirroring `name`'s public market).
        if name.endswith("-testnet"):
            raise StageError(
                f"stage paper mirrors a real market, not a testnet: use {name.removesuffix('-testnet')!r}",
                hint="No request was sent. Testnet books differ from the real market; paper there measures nothing.",
            )
        if name != "localnet" and name not in ccxt.exchanges:
            raise ConfigError(
                f"unknown exchange {exchange!r}: not 'localnet' and not a ccxt exchange id",
                hint="Use 'localnet' to paper-trade offline, or an id from ccxt.exchanges.",
            )
        return VenueSpec(name, "binance" if name == "localnet" else name, True, st, paper=True)
    if name == "localnet":
        st = st or Stage.TESTNET
        if st in (Stage.LIVE_SMALL, Stage.LIVE):
            raise StageError(
                "localnet is a sandbox: use stage 'read_only', 'paper' or 'testnet' there",
                hint=(
                    "No request was sent. Real-money stages need a real exchange id, e.g. Session('binance', "
                    "stage='live_small'), after testnet evidence."
                ),
            )
        return VenueSpec("localnet", "binance", True, st)
    if name.endswith("-testnet"):
        name = name.removesuffix("-testnet")
        if st not in (None, Stage.TESTNET, Stage.READ_ONLY):
            raise StageError(f"'{exchange}' is a testnet; stage {st.value} needs the live exchange id {name!r}")
        st = st or Stage.TESTNET
    if name not in ccxt.exchanges:
        raise ConfigError(
            f"unknown exchange {exchange!r}: not 'localnet' and not a ccxt exchange id",
            hint="Use 'localnet' to try the kit offline, or an id from ccxt.exchanges.",
        )
    st = st or Stage.READ_ONLY
    return VenueSpec(name, name, st is Stage.TESTNET, st)


def build_client(
    spec: VenueSpec, api_key: str | None, secret: str | None, *, url: str | None, password: str | None = None
) -> Any:
    """A ``ccxt.pro`` (async) client for the venue, with ccxt's own limiter off (the kit's budget rules)."""
    import ccxt.pro

    if spec.is_localnet or spec.rehearsal:
        from kit.localnet.ccxt_client import connect

        assert url is not None
        return connect(url, api_key, secret, pro=True, enableRateLimit=False)
    cls = getattr(ccxt.pro, spec.exchange_id, None)
    if cls is None:
        import ccxt.async_support as cls_module

        cls = getattr(cls_module, spec.exchange_id)
    config: dict[str, Any] = {"enableRateLimit": True}
    if spec.exchange_id == "binance":  # the kit's budget charges the symbol-less call its full weight (80)
        config["options"] = {"fetchOpenOrders": {"warnWithoutSymbol": False}}
    if api_key:
        config.update(apiKey=api_key, secret=secret)
        if password:  # the passphrase of OKX, KuCoin, Bitget keys
            config["password"] = password
    ex = cls(config)
    if spec.sandbox:
        if not ex.urls.get("test"):
            raise ConfigError(
                f"{spec.exchange_id} has no sandbox (testnet) in ccxt",
                hint="Use 'localnet' for offline orders, or an exchange with a testnet.",
            )
        ex.set_sandbox_mode(True)
    return ex


_LOCAL: dict[str, Any] = {}
_LOCAL_LOCK = threading.Lock()


def find_or_start_localnet() -> tuple[str, Path | None, str]:
    """URL of a running localnet (``KIT_LOCALNET_URL``), else start one in this process.

    Returns the URL, the keys file to read credentials from for one started here (a 0600 dotenv
    file written by the server, never printed), and the name to journal it under.

    A localnet started here keeps its state in ``$KIT_HOME/localnet`` (accounts, orders, fills
    and keys survive, so the journal's trade ids stay unique), held with a lock while this
    process runs it. If another process holds that state, this one runs a private localnet in a
    temporary folder and journals it under its own name (``localnet-<id>``), so its fresh trade
    ids can never be mistaken for the shared one's.
    """
    url = os.environ.get("KIT_LOCALNET_URL")
    if url:
        if _role(url.rstrip("/")) == REHEARSAL:
            raise ConfigError(
                f"KIT_LOCALNET_URL points at a rehearsal venue ({url}), not at a localnet",
                hint="A rehearsal venue is reached as Session('rehearsal', ...) only; point KIT_LOCALNET_URL at "
                "the default localnet or unset it.",
            )
        return url.rstrip("/"), None, "localnet"
    with _LOCAL_LOCK:
        found = _LOCAL.get("net")
        if found is None:
            from kit.localnet import LocalnetConfig, start
            from kit.safety.killswitch import kit_home

            state, name = kit_home() / "localnet", "localnet"
            state.mkdir(parents=True, exist_ok=True)
            lock = os.open(state / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(lock)
                state = Path(tempfile.mkdtemp(prefix="kit-localnet-"))
                name = f"localnet-{state.name.rsplit('-', 1)[-1][:8]}"
            net = start(config=LocalnetConfig(state_dir=state))
            found = _LOCAL["net"] = (net, name)
        net, name = found
        return net.url, net.keys_file, name


# ------------------------------------------------------------------------------ the rehearsal venue


def rehearsal_config(state_dir: Path | None, **overrides: Any) -> Any:
    """The :class:`~kit.localnet.LocalnetConfig` of a rehearsal venue.

    Three keys, one per credential slot, as on a real exchange: ``reader`` (reading only,
    ``KIT_REHEARSAL_READ_ONLY_*``), ``testnet`` (trading on the ``testnet`` account,
    ``KIT_REHEARSAL_TESTNET_*``) and ``live`` (trading on the ``live`` account, restricted to
    127.0.0.1, ``KIT_REHEARSAL_LIVE_*``); no key can withdraw. The two accounts hold separate funds,
    like a testnet and a real account.
    """
    from decimal import Decimal

    from kit.localnet import LocalnetConfig
    from kit.localnet.config import AccountSpec, KeySpec

    funds = {"USDT": Decimal("10000"), "BTC": Decimal("0.5"), "ETH": Decimal("5")}
    cfg: dict[str, Any] = dict(
        role=REHEARSAL,
        state_dir=state_dir,
        accounts=(AccountSpec("testnet", dict(funds)), AccountSpec("live", dict(funds))),
        keys=(
            KeySpec("reader", "live", env="KIT_REHEARSAL_READ_ONLY"),
            KeySpec("testnet", "testnet", spot_trading=True, env="KIT_REHEARSAL_TESTNET"),
            KeySpec("live", "live", spot_trading=True, ip_allowlist=("127.0.0.1",), env="KIT_REHEARSAL_LIVE"),
        ),
    )
    cfg.update(overrides)
    return LocalnetConfig(**cfg)


def start_rehearsal(*, port: int = 0, state_dir: Path | None = None, **overrides: Any) -> Any:
    """Start a rehearsal venue in this process (state in ``$KIT_HOME/rehearsal`` unless ``state_dir``).

    Its keys file (``<state_dir>/keys.env``, mode 0600) sets ``KIT_REHEARSAL_URL`` and the three key
    pairs: ``source`` it, or let :class:`~kit.session.Session` find the keys there
    (``KIT_REHEARSAL_URL`` and ``KIT_REHEARSAL_KEYS`` are set in this process by this call).

    Examples
    --------
    >>> net = start_rehearsal()                          # doctest: +SKIP
    >>> s = Session("rehearsal", stage="testnet")        # doctest: +SKIP
    """
    from kit.localnet import start
    from kit.safety.killswitch import kit_home

    state = Path(state_dir) if state_dir is not None else kit_home() / REHEARSAL
    state.mkdir(parents=True, exist_ok=True)
    net = start(port=port, config=rehearsal_config(state, **overrides))
    os.environ["KIT_REHEARSAL_URL"] = net.url
    if net.keys_file is not None:
        os.environ["KIT_REHEARSAL_KEYS"] = str(net.keys_file)
    return net


def rehearsal_endpoint() -> tuple[str, Path | None]:
    """The declared rehearsal venue: its URL (``KIT_REHEARSAL_URL``) and keys file (``KIT_REHEARSAL_KEYS``).

    Raises
    ------
    kit.errors.ConfigError
        No rehearsal venue declared, one that is not on this machine (loopback), or a URL whose
        server is not a rehearsal localnet (e.g. the default localnet, or anything else).
    """
    import ipaddress
    import json
    import urllib.request
    from urllib.parse import urlsplit

    url = (os.environ.get("KIT_REHEARSAL_URL") or "").rstrip("/")
    if not url:
        raise ConfigError(
            "no rehearsal venue is declared (KIT_REHEARSAL_URL is not set)",
            hint="Start one: `kit localnet serve --rehearsal --port 8766` and source the keys file it names, "
            "or kit.session.venues.start_rehearsal() in this process. It is never started by default.",
        )
    host = urlsplit(url).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConfigError(
            f"the rehearsal venue must run on this machine (127.0.0.1), not at {host!r}",
            hint="A rehearsal is an offline localnet; point KIT_REHEARSAL_URL at the one you started.",
        )
    try:
        with urllib.request.urlopen(url + "/_localnet/state", timeout=10) as resp:  # noqa: S310 - loopback only
            role = json.load(resp).get("role")
    except OSError as exc:
        raise ConfigError(f"the rehearsal venue at {url} is not reachable: {exc}",
                          hint="Start it again, or unset KIT_REHEARSAL_URL.") from None  # fmt: skip
    if role != REHEARSAL:
        raise ConfigError(
            f"{url} is a {role or 'non-localnet'} server, not a rehearsal venue",
            hint="Start a separate one with `kit localnet serve --rehearsal`; the default localnet is never one.",
        )
    keys = os.environ.get("KIT_REHEARSAL_KEYS")
    return url, Path(keys) if keys else None


def _role(url: str) -> str | None:
    """The role a localnet at ``url`` says it has (``GET /_localnet/state``); ``None`` if it does not say."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/_localnet/state", timeout=10) as resp:  # noqa: S310 - the user's localnet
            role = json.load(resp).get("role")
    except (OSError, ValueError):
        return None
    return str(role) if role else None
