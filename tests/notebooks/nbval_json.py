"""A pytest plugin for the inner nbval runs: apply the sanitize patterns to JSON outputs too.

nbval sanitises string outputs only; a plotly figure (``application/vnd.plotly.v1+json``) is a
dict, so its time axis (today's dates) would never compare equal. Dicts and lists are compared as
canonical JSON text after the same patterns. Loaded with ``-p nbval_json`` by test_nbval.py.
"""

from __future__ import annotations

import json
from typing import Any

from nbval.plugin import IPyNbCell

_text_sanitize = IPyNbCell.sanitize


def _sanitize(self: IPyNbCell, s: Any) -> Any:
    if isinstance(s, dict | list):
        s = json.dumps(s, sort_keys=True, separators=(",", ":"))
    return _text_sanitize(self, s)


IPyNbCell.sanitize = _sanitize  # type: ignore[method-assign]
