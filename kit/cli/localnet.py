"""``kit localnet``: a click group; the main ``kit`` CLI attaches it as a subcommand.

``kit localnet serve --port 0 --speed 1 --seed 7`` prints the URL and the *names* of the
environment variables that hold the demo keys; the values go to a 0600 file in the state
directory, and are printed only with ``--print-keys`` (``eval "$(kit localnet serve --print-keys)"``
style use is not possible for a foreground server, so ``source <state-dir>/keys.env`` instead).
"""

from __future__ import annotations

import os
from pathlib import Path

import click


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/tradekit/localnet`` (``~/.local/state/tradekit/localnet``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tradekit" / "localnet"


@click.group("localnet")
def localnet() -> None:
    """An offline Binance-like exchange on 127.0.0.1 for trying and testing the kit."""


@localnet.command("serve")
@click.option("--port", default=8765, show_default=True, type=int, help="TCP port on 127.0.0.1; 0 picks a free one.")
@click.option("--speed", default=1.0, show_default=True, type=float, help="Simulated seconds per wall second.")
@click.option("--stepped", is_flag=True, help="Stop the clock; advance it with POST /_localnet/clock/step.")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the synthetic market.")
@click.option("--tick-ms", default=100, show_default=True, type=click.IntRange(10, 60_000),
              help="Wall ms between market ticks (the market moves by itself unless --stepped).")  # fmt: skip
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="SQLite state, request log and keys file. [default: ~/.local/state/tradekit/localnet]",
)
@click.option("--memory", is_flag=True, help="Keep no state on disk (nothing survives a restart).")
@click.option(
    "--candles",
    "candles",
    multiple=True,
    metavar="SYMBOL=FILE",
    help="Replay candles from a Parquet/CSV file for a symbol, e.g. BTCUSDT=btc-1m.parquet.",
)
@click.option(
    "--store",
    "store_root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Replay the 1m candles kept in this kit candle store (kit candles) for every symbol it has.",
)
@click.option(
    "--history-minutes",
    type=click.IntRange(0, None),
    default=None,
    help="Minutes of market history before the start. [default: 2 days; with --store, all stored]",
)
@click.option("--print-keys", is_flag=True, help="Also print export lines WITH the secrets (careful).")
@click.option(
    "--rehearsal",
    is_flag=True,
    help="Serve a rehearsal venue (Session('rehearsal', ...)), state in $KIT_HOME/rehearsal.",
)
def serve(
    port: int,
    speed: float,
    stepped: bool,
    seed: int,
    tick_ms: int,
    state_dir: Path | None,
    memory: bool,
    candles: tuple[str, ...],
    print_keys: bool,
    rehearsal: bool = False,
    store_root: Path | None = None,
    history_minutes: int | None = None,
) -> None:
    """Run localnet in the foreground until Ctrl-C."""
    from kit.localnet.config import LocalnetConfig
    from kit.localnet.server import env_names, export_lines
    from kit.localnet.server import serve as run

    state = None if memory else (state_dir or default_state_dir())
    frames = {**(store_candles(store_root) if store_root else {}), **_load_candles(candles)}
    extra: dict[str, object] = {}
    if history_minutes is not None:
        extra["history_minutes"] = history_minutes
    if frames and history_minutes is not None:  # replay: the clock starts that far into the candles
        extra["start_ms"] = replay_start_ms(frames, history_minutes)
    cfg = LocalnetConfig(
        seed=seed,
        speed=speed,
        stepped=stepped,
        state_dir=state,
        candles=frames or None,
        tick_interval_ms=tick_ms,
        **extra,  # type: ignore[arg-type]
    )
    if rehearsal:  # a second, separate instance with its own keys and state, never the default localnet
        from kit.safety.killswitch import kit_home
        from kit.session.venues import rehearsal_config

        state = None if memory else (state_dir or kit_home() / "rehearsal")
        cfg = rehearsal_config(state, seed=seed, speed=speed, stepped=stepped, candles=_load_candles(candles) or None)

    def ready(net: object) -> None:
        url = net.url  # type: ignore[attr-defined]
        click.echo(f"localnet listening on {url}  (REST {url}/api/v3, streams {url.replace('http', 'ws')}/ws)")
        click.echo("demo keys are in these environment variables:")
        for name, (kvar, svar) in env_names(cfg).items():
            click.echo(f"  {name:<11} {kvar} / {svar}")
        keys_file = net.keys_file  # type: ignore[attr-defined]
        if keys_file is not None:
            click.echo(f"set them with:  source {keys_file}")
        if print_keys:
            for line in export_lines(cfg, net.venue.keys_by_name, url):  # type: ignore[attr-defined]
                click.echo(line)
        click.echo("Ctrl-C to stop.")

    run(port=port, config=cfg, on_ready=ready)


def store_candles(root: Path) -> dict[str, object]:
    """The 1m candles a kit candle store under ``root`` holds for localnet's symbols (stored only).

    >>> store_candles(Path("/nonexistent-store"))
    {}
    """
    from kit.localnet.config import DEFAULT_SYMBOLS, store_frames
    from kit.store import Store

    return store_frames(Store(root), DEFAULT_SYMBOLS)


def replay_start_ms(frames: dict[str, object], history_minutes: int) -> int:
    """Start of a replay with ``history_minutes`` of it behind (:func:`kit.localnet.config.replay_start_ms`)."""
    from kit.localnet.config import replay_start_ms as start_ms

    return start_ms(frames, history_minutes)


def _load_candles(specs: tuple[str, ...]) -> dict[str, object]:
    import pandas as pd

    out: dict[str, object] = {}
    for spec in specs:
        symbol, sep, path = spec.partition("=")
        if not sep:
            raise click.BadParameter(f"expected SYMBOL=FILE, got {spec!r}", param_hint="--candles")
        frame = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path, index_col=0, parse_dates=True)
        if pd.DatetimeIndex(frame.index).tz is None:
            frame = frame.tz_localize("UTC")
        out[symbol.upper()] = frame
    return out
