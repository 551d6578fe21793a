"""The CLI's error edge: every failure is one line on stderr and a non-zero exit, never a
traceback — unless --debug asks for it."""

import errno

import pytest
import typer
from typer.testing import CliRunner

from graftlm.cli import GraftGroup
from graftlm.core.errors import InputError


def _app(error: BaseException) -> typer.Typer:
    app = typer.Typer(cls=GraftGroup, pretty_exceptions_enable=False)

    @app.callback()
    def main(debug: bool = False) -> None:
        pass

    @app.command()
    def run() -> None:
        raise error

    return app


@pytest.mark.parametrize("error, code, says", [
    (InputError("the file is empty; add examples"), 2, "error: the file is empty"),
    (OSError(errno.ENOSPC, "No space left on device", "/w/indexes/x/dense.faiss"), 1,
     "error: /w/indexes/x/dense.faiss: the disk is full"),
    (PermissionError(errno.EACCES, "Permission denied", "/data/a.jsonl"), 1,
     "error: /data/a.jsonl: permission denied"),
    (KeyError("chunks"), 1, "error: unexpected KeyError: 'chunks'. This is a bug"),
])
def test_every_error_is_one_line_and_a_non_zero_exit(error, code, says):
    result = CliRunner().invoke(_app(error), ["run"])
    assert result.exit_code == code
    assert result.output.strip().startswith(says), result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_debug_lets_the_traceback_through():
    result = CliRunner().invoke(_app(KeyError("chunks")), ["--debug", "run"])
    assert isinstance(result.exception, KeyError)
