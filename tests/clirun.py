"""Run the command line as a user does (through `cli.main`, which turns errors into exit codes)."""

from __future__ import annotations

from dataclasses import dataclass

from click.testing import CliRunner

import cli


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def err_lines(self) -> list[str]:
        return self.stderr.splitlines()


def run(*args: str) -> Run:
    """`aiguillage ARGS`: exit code, stdout and stderr kept apart."""
    with CliRunner().isolation() as (stdout, stderr, _):
        code = cli.main([str(a) for a in args])
        return Run(code, stdout.getvalue().decode("utf-8"), stderr.getvalue().decode("utf-8"))
