"""The console entry point (``ganbench.cli.main``): exit codes and an early Ctrl-C (typer ends it
with 130 and says nothing; ganbench says one line)."""

from __future__ import annotations

import sys

import pytest

import ganbench.runner
from ganbench import cli
from tests.conftest import write_suite


def _main(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["ganbench", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    return info.value.code


def test_ctrl_c_before_the_run_installs_its_handlers_is_one_line_and_130(tmp_path, monkeypatch, capsys):
    suite = write_suite(tmp_path, "name: t\ndatasets: [ring8]\nmethods: [gan]\n")

    def ctrl_c(*args, **kwargs):  # a SIGINT while torch and Ray are still being imported
        raise KeyboardInterrupt

    monkeypatch.setattr(ganbench.runner, "run_suite", ctrl_c)
    assert _main(monkeypatch, "run", str(suite), "--results", str(tmp_path / "r")) == 130
    err = capsys.readouterr().err
    assert "Aborted" not in err and "Traceback" not in err
    assert err.strip().splitlines() == ["interrupted: stopped before any work was recorded; run the same "
                                        "command again"]


def test_exit_codes_are_typer_s(tmp_path, monkeypatch, capsys):
    assert _main(monkeypatch, "--version") == 0
    assert capsys.readouterr().out.startswith("ganbench ")
    assert _main(monkeypatch, "nosuch") == 2
    assert "No such command 'nosuch'" in capsys.readouterr().err
    assert _main(monkeypatch, "run", str(tmp_path / "missing.yaml")) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'missing.yaml'}: no such suite file"
