"""Scan files for known secrets in every form :mod:`kit.redact` knows a secret takes on the way out.

A secret can leave a process raw, URL-encoded, base64 (standard or URL-safe, padded or not), hex
(either case) or JSON-escaped: :data:`kit.redact.ENCODINGS` lists these forms and
:func:`kit.redact.redact_text` masks them; this module looks for the same forms in what was
written, so the scan and the redactor cannot drift apart. A PEM private key is also looked for
by its body lines (the base64 key material without the ``-----BEGIN`` frame), and gzip files are
read decompressed.

A hit is reported as ``file: <encoding> form of secret <fingerprint>``; the fingerprint is the
first 8 hex digits of the secret's SHA-256, so a failing test never prints the secret itself.

>>> import base64, tempfile
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "log.txt").write_text("auth=" + base64.b64encode(b"Zq7RtY2uIo9pAs4dFg6hJk").decode())
>>> [hit.split(": ", 1)[1] for hit in scan_for_secrets([d], ["Zq7RtY2uIo9pAs4dFg6hJk"])]
['base64 form of secret 6dfee4e2']
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable
from pathlib import Path

from kit.redact import ENCODINGS

__all__ = ["KEY_STORES", "fingerprint", "needles", "scan_bytes", "scan_for_secrets", "secrets_in_keys_files"]

#: Files that hold keys by design: the localnet's database and its 0600 keys file (``keys.env``).
KEY_STORES = ("localnet.sqlite", "keys.env")

#: PEM body lines shorter than this are not looked for on their own (the last line may be a few characters).
_PEM_LINE_MIN = 16


def fingerprint(secret: str) -> str:
    """The first 8 hex digits of the secret's SHA-256: names a secret in a report without showing it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def needles(secret: str) -> dict[bytes, str]:
    """Every form of ``secret`` to look for, as bytes -> the name of its encoding.

    >>> sorted(set(needles('a+b/c="12345"').values()))
    ['base64', 'hex', 'json', 'plain', 'url']
    """
    out: dict[bytes, str] = {}
    for name, encode in ENCODINGS.items():
        for form in encode(secret):
            if form:
                out.setdefault(form.encode(), name)
    if "-----BEGIN" in secret:
        for line in secret.splitlines():
            line = line.strip()
            if len(line) >= _PEM_LINE_MIN and not line.startswith("-----"):
                out.setdefault(line.encode(), "pem-body")
    return out


def scan_bytes(data: bytes, secrets: Iterable[str]) -> list[str]:
    """``<encoding> form of secret <fingerprint>`` for each form of each secret found in ``data``."""
    hits: list[str] = []
    for secret in secrets:
        if not secret:
            continue
        for needle, name in needles(secret).items():
            if needle in data:
                hits.append(f"{name} form of secret {fingerprint(secret)}")
                break
    return hits


def _files(paths: Iterable[Path]) -> list[Path]:
    files: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            files.update(f for f in p.rglob("*") if f.is_file())
        elif p.is_file():
            files.add(p)
    return sorted(f for f in files if not f.name.startswith(KEY_STORES))


def scan_for_secrets(paths: Iterable[Path], secrets: Iterable[str]) -> list[str]:
    """Files under ``paths`` (files or folders) holding any form of any of ``secrets``: ``file: what``.

    The localnet's own key stores (:data:`KEY_STORES`) are skipped; gzip files are read decompressed.
    An empty list means nothing was found.
    """
    secrets = [s for s in secrets if s]
    found: list[str] = []
    for f in _files(paths):
        data = f.read_bytes()
        if data[:2] == b"\x1f\x8b":
            try:
                data += gzip.decompress(data)
            except (OSError, EOFError):
                pass
        found += [f"{f}: {hit}" for hit in scan_bytes(data, secrets)]
    return found


def secrets_in_keys_files(root: Path) -> list[str]:
    """Every API key and secret in the localnet keys files (``keys.env``) under ``root``.

    PEM secrets span lines in the file (shell-quoted), so values are read with :mod:`shlex`.
    """
    import shlex

    out: list[str] = []
    for keys in sorted(Path(root).rglob("keys.env")):
        for word in shlex.split(keys.read_text(encoding="utf-8")):
            name, sep, value = word.partition("=")
            if sep and (name.endswith("_API_KEY") or name.endswith("_API_SECRET")) and value:
                out.append(value)
    return out
