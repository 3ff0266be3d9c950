"""``kit --help`` imports no heavy library: the subcommands in their own modules are lazy (kit/cli/group.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kit.cli.group import LazyGroup
from kit.cli.main import LAZY_COMMANDS, cli

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "pyarrow", "numpy", "ccxt")


def _loaded_after(argv: list[str]) -> tuple[str, set[str]]:
    """Run ``kit ARGV`` in a fresh interpreter; its output and the top-level modules it loaded."""
    code = (
        "import sys\n"
        "from kit.cli.main import main\n"
        f"sys.argv = ['kit', *{argv!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('MODULES', ' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    head, _, modules = done.stdout.rpartition("MODULES ")
    return head + done.stderr, set(modules.split())  # bare `kit` prints its help on stderr


@pytest.mark.parametrize("argv", [["--help"], ["--version"], []], ids=["help", "version", "bare"])
def test_kit_help_loads_no_heavy_library(argv: list[str]) -> None:
    output, loaded = _loaded_after(argv)
    assert "click" in loaded and "kit" in loaded  # the probe does see what was imported
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    if argv != ["--version"]:
        for name in LAZY_COMMANDS:
            assert f"  {name} " in output


@pytest.mark.slow  # a fresh interpreter imports pandas
def test_the_probe_sees_a_heavy_import() -> None:
    """The probe would report a heavy module: ``kit candles verify`` on an empty store imports pandas."""
    output, loaded = _loaded_after(["candles", "verify", "--root", str(ROOT / "tests" / "no-such-store")])
    assert "ok: no findings" in output
    assert "pandas" in loaded


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_lazy_table_matches_the_commands(name: str) -> None:
    """The short help ``kit --help`` prints from the table is the command's own, and the name is its name."""
    target, short_help = LAZY_COMMANDS[name]
    group = LazyGroup("probe", lazy={name: (target, short_help)})
    command = group.get_command(click.Context(group), name)
    assert command is not None and command.name == name
    assert command.get_short_help_str(limit=1000) == short_help


def test_help_lists_every_command_once() -> None:
    result = CliRunner().invoke(cli, ["--help"], prog_name="kit")
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:\n", 1)[1].splitlines() if line.strip()]
    assert listed == sorted({*LAZY_COMMANDS, "demo", "doctor"})


def test_a_lazy_command_runs() -> None:
    result = CliRunner().invoke(cli, ["report", "schedule", "--at", "25:00"], prog_name="kit")
    assert result.exit_code == 2
    assert "expected HH:MM" in result.output


def test_a_lazy_target_that_is_not_a_command_is_a_type_error() -> None:
    group = LazyGroup("probe", lazy={"x": ("kit.cli.main:LAZY_COMMANDS", "not a command")})
    with pytest.raises(TypeError, match="not a click command"):
        group.get_command(click.Context(group), "x")
