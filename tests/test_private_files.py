"""#12: reports and journals may hold account data: files ``0600``, folders the kit creates ``0700``."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.journal.journal import Journal
from kit.safety.private import private_dir, private_file, write_private_text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: modes must not depend on the user's umask being strict."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_private_dir_makes_missing_folders_0700_and_leaves_existing_ones(tmp_path: Path, open_umask: None) -> None:
    os.chmod(tmp_path, 0o755)
    target = private_dir(tmp_path / "a" / "b" / "c")
    assert target.is_dir()
    assert [_mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", target)] == [0o700] * 3
    assert _mode(tmp_path) == 0o755  # it existed: not the kit's to change
    assert private_dir(target) == target and _mode(target) == 0o700


def test_private_file_and_text_are_0600_even_over_an_existing_0644_file(tmp_path: Path, open_umask: None) -> None:
    existing = tmp_path / "old.html"
    existing.write_text("old")
    os.chmod(existing, 0o644)
    assert _mode(private_file(existing)) == 0o600 and existing.read_text() == "old"  # content kept
    page = write_private_text(tmp_path / "new" / "daily.html", "<p>0.5 BTC</p>")
    assert _mode(page) == 0o600 and _mode(page.parent) == 0o700 and page.read_text() == "<p>0.5 BTC</p>"
    assert _mode(write_private_text(existing, "new")) == 0o600 and existing.read_text() == "new"


def test_journal_folder_and_files_are_private(tmp_path: Path, open_umask: None) -> None:
    j = Journal(tmp_path / "home" / "journal.sqlite")
    j.append("note", venue="localnet", x=1)
    assert _mode(tmp_path / "home") == 0o700
    files = [p for p in (tmp_path / "home").iterdir() if p.name.startswith("journal.sqlite")]
    assert files and all(_mode(p) == 0o600 for p in files), {p.name: oct(_mode(p)) for p in files}
    j.close()


@pytest.mark.slow  # nbconvert's import and template take about 2.5 s
def test_report_html_is_0600_in_a_new_0700_folder(tmp_path: Path, open_umask: None) -> None:
    import nbformat

    from kit.views.report import to_html

    nb = nbformat.v4.new_notebook()
    printed = nbformat.v4.new_output("stream", text="free 0.5 BTC")
    nb.cells.append(nbformat.v4.new_code_cell("print(1)", outputs=[printed]))
    src = tmp_path / "daily.ipynb"
    nbformat.write(nb, src)
    page = to_html(src, tmp_path / "reports" / "daily.html")
    assert "free 0.5 BTC" in page.read_text(encoding="utf-8")
    assert _mode(page) == 0o600 and _mode(page.parent) == 0o700


def test_the_cron_line_runs_the_report_under_umask_077(tmp_path: Path) -> None:
    from kit.cli.report import cron_line

    line = cron_line(tmp_path / "reports")
    assert " && umask 077 && " in line and line.index("umask 077") < line.index(" report daily ")
