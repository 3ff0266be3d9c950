"""Find a strategy class from ``path/to/file.py:Name`` or ``module:Name``, and parse ``k=v`` parameters.

>>> parse_params(["fast=5", "size=0.002"])
{'fast': '5', 'size': '0.002'}
>>> load_strategy("kit.strategy.examples:SmaCross").__name__
'SmaCross'
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path

from kit.errors import ConfigError
from kit.strategy.base import Strategy

__all__ = ["load_strategy", "parse_params"]

_FORM = "Give STRATEGY as path/to/file.py:ClassName or package.module:ClassName."


def load_strategy(spec: str) -> type[Strategy]:
    """The :class:`Strategy` subclass named by ``spec`` (the file is imported as a module)."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise ConfigError(f"strategy {spec!r} is not of the form FILE_OR_MODULE:Name", hint=_FORM)
    if where.endswith(".py") or "/" in where:
        path = Path(where).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"strategy file {where} does not exist", hint=_FORM)
        mod_name = f"kit_strategy_{path.stem}_{abs(hash(str(path))) % 10**8}"
        loader = importlib.util.spec_from_file_location(mod_name, path)
        if loader is None or loader.loader is None:
            raise ConfigError(f"cannot import {where}", hint=_FORM)
        module = importlib.util.module_from_spec(loader)
        sys.modules[mod_name] = module
        loader.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise ConfigError(f"cannot import module {where!r}: {exc}", hint=_FORM) from None
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        found = sorted(k for k, v in vars(module).items() if isinstance(v, type) and issubclass(v, Strategy)
                       and v is not Strategy)  # fmt: skip
        raise ConfigError(f"{where} has no Strategy subclass named {name!r}",
                          hint=f"Strategies found there: {', '.join(found) or 'none'}. " + _FORM)  # fmt: skip
    return cls


def parse_params(items: Iterable[str]) -> dict[str, str]:
    """``["k=v", ...]`` as a dict of strings (the strategy converts each to its default's type)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(f"parameter {item!r} is not of the form name=value",
                              hint="Write --param fast=10 (one --param per parameter).")  # fmt: skip
        out[key] = value.strip()
    return out
