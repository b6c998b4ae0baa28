"""Every subcommand's --help reads as written: no doubled percent signs (argparse formats `help=`
strings with %, but prints a `description=` as it is)."""

from __future__ import annotations

import pytest

from harness.cli.main import build_parser


def _subcommands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(sub.choices)


@pytest.mark.parametrize("command", _subcommands())
def test_help_has_no_doubled_percent(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "%%" not in out, [line for line in out.splitlines() if "%%" in line]


def test_compare_help_says_95_percent_ci(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["compare", "--help"])
    assert "95% CI" in " ".join(capsys.readouterr().out.split())
