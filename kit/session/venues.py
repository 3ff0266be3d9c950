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


@dataclass(frozen=True)
class VenueSpec:
    """A resolved venue: ccxt id, whether it is a sandbox, the stage, and localnet's URL."""

    name: str
    exchange_id: str
    sandbox: bool
    stage: Stage
    url: str | None = None
    paper: bool = False

    @property
    def is_localnet(self) -> bool:
        """True for the embedded offline exchange, and for the paper venue (a private localnet)."""
        return self.name == "localnet" or self.paper


def resolve(exchange: str, stage: Stage | str | None) -> VenueSpec:
    """Turn ``Session(exchange, stage=...)`` arguments into a :class:`VenueSpec`."""
    import ccxt

    name = exchange.strip().lower()
    st = Stage(stage) if stage is not None else None
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

    if spec.is_localnet:
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
