"""Cog's command lines, normalized for our parser (cog.cli.argv): --debug anywhere, --flag=BOOL, Cog's build flags."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from cog.cli.argv import FlagValueError, normalize
from cog.cli.main import app

ROOT = typer.main.get_command(app)

CASES = [
    ("debug before the command", ["--debug", "predict", "-i", "x=1"], ["predict", "-i", "x=1"], {"debug": True}, 0),
    ("debug after the command", ["predict", "--debug", "-i", "x=1"], ["predict", "-i", "x=1"], {"debug": True}, 0),
    ("debug among build options", ["build", "--debug", "-t", "x"], ["build", "-t", "x"], {"debug": True}, 0),
    ("an option's value is never a flag", ["predict", "-i", "--debug"], ["predict", "-i", "--debug"], {}, 0),
    ("a run command's own arguments", ["run", "python", "x.py", "--debug"], ["run", "python", "x.py", "--debug"], {}, 0),
    ("exec options before the command", ["exec", "--debug", "-e", "A=1", "python", "--debug"], ["exec", "-e", "A=1", "python", "--debug"], {"debug": True}, 0),
    ("nothing after --", ["build", "--", "--debug"], ["build", "--", "--debug"], {}, 0),
    ("a declared flag as =true", ["build", "--no-cache=true"], ["build", "--no-cache"], {}, 0),
    ("a declared flag as =false", ["build", "--no-cache=false"], ["build"], {}, 0),
    ("a Cog-only flag", ["build", "--separate-weights"], ["build"], {}, 1),
    ("a Cog-only flag with a value", ["predict", "--use-cuda-base-image", "false", "-i", "x=1"], ["predict", "-i", "x=1"], {}, 1),
    ("Cog's --timestamp", ["build", "--timestamp", "0", "-t", "x"], ["build", "-t", "x"], {}, 1),
    ("a Cog-only flag as =value", ["build", "--use-cuda-base-image=auto", "--use-cog-base-image=false"], ["build"], {}, 1),
    ("progress where the command has none", ["predict", "--progress", "plain"], ["predict"], {"progress": "plain"}, 0),
    ("progress where the command has its own", ["build", "--progress", "plain"], ["build", "--progress", "plain"], {}, 0),
    ("no-color anywhere", ["serve", "--no-color"], ["serve"], {"no_color": True}, 0),
    ("groups are walked", ["remote", "set", "--debug", "http://x"], ["remote", "set", "http://x"], {"debug": True}, 0),
    ("root options stay", ["--version"], ["--version"], {}, 0),
]


@pytest.mark.parametrize(("argv", "expected", "settings", "notices"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cog_command_lines_normalize(argv, expected, settings, notices):
    line = normalize(argv, ROOT)
    assert (line.argv, line.settings, len(line.notices)) == (expected, settings, notices)


def test_a_notice_says_the_flag_and_why():
    [notice] = normalize(["build", "--separate-weights"], ROOT).notices
    assert notice == "--separate-weights has no effect here: weights always get an image layer of their own"


@pytest.mark.parametrize(("argv", "message"), [
    (["build", "--no-cache=maybe"], "--no-cache=maybe: --no-cache is true or false"),
    (["build", "--use-cuda-base-image"], "--use-cuda-base-image needs a value"),
])
def test_bad_flag_values_are_one_line(argv, message):
    with pytest.raises(FlagValueError, match=message):
        normalize(argv, ROOT)


def cog(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cog.cli", *args], capture_output=True, text=True)


def test_a_bad_flag_value_exits_2_with_one_line():
    result = cog("build", "--no-cache=maybe")
    assert result.returncode == 2 and result.stderr == "error: --no-cache=maybe: --no-cache is true or false\n"
