"""Files that may hold account data (reports, journals, their folders) are private to their owner.

Reports show balances, orders and fills; the journal holds every order. They are written mode
``0600``, and the folders the kit creates for them ``0700``, whatever the process's umask. A
folder that already existed keeps its mode (it may be your working directory): the files in it
are still ``0600``.

Examples
--------
>>> import stat, tempfile
>>> root = Path(tempfile.mkdtemp())
>>> folder = private_dir(root / "reports" / "2024")
>>> page = write_private_text(folder / "daily.html", "<p>balances</p>")
>>> oct(stat.S_IMODE(folder.stat().st_mode)), oct(stat.S_IMODE(page.stat().st_mode))
('0o700', '0o600')
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "private_file", "write_private_text"]

#: Mode of a file that may hold account data.
FILE_MODE = 0o600
#: Mode of a folder the kit creates for such files.
DIR_MODE = 0o700


def private_dir(path: str | Path) -> Path:
    """Create ``path`` and its missing parents mode ``0700``; a folder that exists is left as it is.

    Returns the path. Each folder created is set to ``0700`` explicitly (``mkdir``'s mode is
    reduced by the umask, and ``parents=True`` would give the parents the default mode).
    """
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it in between: not ours to change
            continue
        os.chmod(folder, DIR_MODE)
    return path


def private_file(path: str | Path) -> Path:
    """Make sure ``path`` exists and is mode ``0600`` (created empty if missing; content kept otherwise).

    Call it before another library writes the file (papermill opens it with ``"w"``, which keeps
    an existing file's mode), and after, in case that library replaced the file.
    """
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path``, mode ``0600`` (its folder created ``0700`` if missing); returns the path."""
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    with os.fdopen(fd, "w", encoding=encoding) as fh:
        fh.write(text)
    return path
