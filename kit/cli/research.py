r"""``kit backtest`` and ``kit optimize``: thin commands over :mod:`kit.research`, each writing an HTML report.

On ``localnet`` without ``KIT_LOCALNET_URL`` a private deterministic localnet starts for the
command (:func:`kit.cli.demo.prepare`), so both work offline on a fresh clone::

    kit backtest kit.strategy.examples:SmaCross --symbol BTC/USDT --timeframe 5m --since -2d --param fast=10
    kit optimize kit.strategy.examples:SmaCross --symbol BTC/USDT --timeframe 5m --since -2d \\
        --grid fast=5,10,20 --grid slow=30:90:10 --workers 2
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

__all__ = ["backtest_command", "optimize_command"]

_RANGE = re.compile(r"^(-?[0-9.]+):(-?[0-9.]+)(?::(-?[0-9.]+))?$")


def _common(fn: Any) -> Any:
    opts = [
        click.argument("strategy"),
        click.option("--symbol", required=True, help="Symbol, e.g. BTC/USDT."),
        click.option("--timeframe", "-t", default=None, help="Candle size (default: the strategy's)."),
        click.option(
            "--since",
            default="-2d",
            show_default=True,
            help="ISO time, today, yesterday, or an offset from --until such as -30d.",
        ),  # fmt: skip
        click.option("--until", default="", help="ISO time or an offset from now (default: the exchange's now)."),
        click.option("--param", "params", multiple=True, help="Strategy parameter name=value (repeatable)."),
        click.option("--exchange", "-e", default="localnet", show_default=True, help="'localnet' or a ccxt id."),
        click.option(
            "--store",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("data"),
            show_default=True,
            help="Candle store folder.",
        ),  # fmt: skip
        click.option("--cash", default="10000", show_default=True, help="Starting quote balance."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _data(strategy: str, symbol: str, timeframe: str | None, since: str, until: str, exchange: str,
          store: Path) -> Any:  # fmt: skip
    from kit.cli.demo import prepare
    from kit.research import load
    from kit.research.core import resolve

    cls = resolve(strategy)
    prep = prepare(exchange, store_root=store)
    return load(symbol, timeframe or cls.timeframe, since, until, exchange=exchange, store=prep.store_root,
                now=prep.now() if prep.market is not None else None)  # fmt: skip


def _values(cls: Any, name: str, text: str) -> list[Any]:
    """``a,b,c`` or ``start:stop[:step]`` (stop included) as the parameter's own type."""
    from kit.errors import ConfigError

    m = _RANGE.match(text.strip())
    if m:
        start, stop, step = (float(g) if g is not None else None for g in m.groups())
        step = step or 1.0
        if step <= 0 or start is None or stop is None or stop < start:
            raise ConfigError(f"--grid {name}={text}: not a range start:stop:step with start <= stop and step > 0",
                              hint="Write --grid fast=5:30:5 or --grid fast=5,10,20.")  # fmt: skip
        raw: list[Any] = []
        v = start
        while v <= stop + 1e-12:
            raw.append(round(v, 10))
            v += step
    else:
        raw = [t.strip() for t in text.split(",") if t.strip()]
    return [getattr(cls(**{name: r}), name) for r in raw]


@click.command("backtest")
@_common
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML report path. [default: reports/backtest-STRATEGY-SYMBOL.html]")  # fmt: skip
def backtest_command(strategy: str, symbol: str, timeframe: str | None, since: str, until: str,
                     params: tuple[str, ...], exchange: str, store: Path, cash: str,
                     out: Path | None) -> None:  # fmt: skip
    """Backtest STRATEGY on stored candles and write an HTML report (statistics, figure, round trips)."""
    from kit.research import run
    from kit.research.core import resolve
    from kit.research.report import backtest_report
    from kit.strategy import parse_params

    cls = resolve(strategy)
    kv = parse_params(params)
    cls(**kv)  # bad parameters fail before any request
    data = _data(strategy, symbol, timeframe, since, until, exchange, store)
    result = run(strategy, data.candles(), data.need_market(), kv, cash=cash)
    path = backtest_report(result, out or Path("reports") / f"backtest-{cls.__name__}-{symbol.replace('/', '')}.html")
    s = result.stats
    click.echo(f"{cls.__name__} on {symbol} {data.timeframe}, {len(result.candles)} candles: "
               f"{s['# Trades']} trades, return {s['Return [%]']:.4f} %, Sharpe {s['Sharpe Ratio']:.4f}, "
               f"max drawdown {s['Max. Drawdown [%]']:.4f} %, fees {s['Fees [$]']:.6g}")  # fmt: skip
    click.echo(f"report: {path}")


@click.command("optimize")
@_common
@click.option("--grid", "grids", multiple=True, required=True,
              help="Parameter to search: name=a,b,c or name=start:stop[:step] (repeatable).")  # fmt: skip
@click.option("--maximize", default="Sharpe Ratio", show_default=True, help="Statistic to maximise.")
@click.option("--method", type=click.Choice(["grid", "random", "optuna"]), default="grid", show_default=True)
@click.option("--trials", type=int, default=None, help="Combinations tried by random and optuna (default 50).")
@click.option("--min-trades", type=int, default=0, show_default=True, help="Ignore combinations with fewer trades.")
@click.option("--workers", type=int, default=None, help="Worker processes of a local Dask cluster (default: cores).")
@click.option("--scheduler", default=None, help="Address of a Dask scheduler to run on instead (tcp://host:8786).")
@click.option("--walk-forward", "walk", default=None, help="Also walk forward: TRAIN:TEST durations, e.g. 2D:1D.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML report path. [default: reports/optimize-STRATEGY-SYMBOL.html]")  # fmt: skip
def optimize_command(strategy: str, symbol: str, timeframe: str | None, since: str, until: str,
                     params: tuple[str, ...], exchange: str, store: Path, cash: str, grids: tuple[str, ...],
                     maximize: str, method: str, trials: int | None, min_trades: int, workers: int | None,
                     scheduler: str | None, walk: str | None, out: Path | None) -> None:  # fmt: skip
    """Search STRATEGY's parameters on Dask and write an HTML report (best, heatmap, every combination)."""
    from kit.errors import ConfigError
    from kit.research import optimize, run, walk_forward
    from kit.research.core import resolve
    from kit.research.report import optimize_report
    from kit.strategy import parse_params

    if workers is not None and scheduler:
        raise click.UsageError("give --workers or --scheduler, not both")
    cls = resolve(strategy)
    fixed = parse_params(params)
    cls(**fixed)
    space = {k: _values(cls, k, v) for k, v in parse_params(grids).items()}
    require = (lambda s: s["# Trades"] >= min_trades) if min_trades else None
    train_test = None
    if walk:
        train, _, test = walk.partition(":")
        if not train or not test:
            raise ConfigError(f"--walk-forward {walk!r} is not TRAIN:TEST", hint="Write e.g. --walk-forward 2D:1D.")
        train_test = (train, test)
    data = _data(strategy, symbol, timeframe, since, until, exchange, store)
    opts: dict[str, Any] = {"maximize": maximize, "method": method, "n_trials": trials, "require": require,
                            "cash": cash, "scheduler": scheduler, "workers": workers}  # fmt: skip
    searched: dict[str, Any] = {**opts, **space}
    opt = optimize(strategy, data, fixed=fixed, **searched)
    best = run(strategy, data.candles(), data.need_market(), {**fixed, **opt.best}, cash=cash) if opt.best else None
    wf = None
    if train_test:
        held: dict[str, Any] = {**searched, **{k: [v] for k, v in fixed.items()}}
        wf = walk_forward(strategy, data, train=train_test[0], test=train_test[1], **held)
    path = optimize_report(opt, out or Path("reports") / f"optimize-{cls.__name__}-{symbol.replace('/', '')}.html",
                           best=best, walk=wf, title=f"Optimisation: {cls.__name__} on {symbol}")  # fmt: skip
    click.echo(repr(opt))
    if len(opt.failures):
        click.echo(f"{len(opt.failures)} combination(s) failed; their tracebacks are in the report", err=True)
    click.echo(f"report: {path}")
