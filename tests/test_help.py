"""`--help` is the reference: every command has help, and its help carries an example."""

from __future__ import annotations

import click
import pytest

import cli
from clirun import run


def _commands(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, path + (name,))


COMMANDS = list(_commands(cli.main_group))


def test_the_authoring_commands_are_there():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"rules check", "rules lint", "rules test", "rules schema", "rules diff", "coverage"} <= names


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) or "aiguillage" for p, _ in COMMANDS])
def test_every_command_has_help_with_an_example(path, command):
    assert command.help and "Exemple" in command.help, f"aiguillage {' '.join(path)} : aide sans exemple"
    result = run(*path, "--help")
    assert result.code == 0 and result.stderr == ""
    assert result.stdout.startswith(f"Usage: aiguillage {' '.join(path)}".rstrip())
    assert "aiguillage" in result.stdout.split("Exemple", 1)[1]
