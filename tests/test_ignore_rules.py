"""The .dockerignore rules as Docker reads them (cog.images.context): what a project's image, code digest, import
scan and package hold. tests/images/test_ignore_buildkit.py checks the same rules against BuildKit itself."""

from __future__ import annotations

import pytest

from cog.errors import CogError
from cog.images.context import ignore_rule, is_ignored, project_files


def rules(*lines: str):
    return tuple(rule for rule in map(ignore_rule, lines) if rule is not None)


@pytest.mark.parametrize("lines, path, ignored", [
    # Docker's own examples: patterns are anchored at the context's root.
    (["*/temp*"], "somedir/temporary.txt", True),
    (["*/temp*"], "somedir/temp/file", True),
    (["*/temp*"], "temporary.txt", False),
    (["*/*/temp*"], "a/b/temp.txt", True),
    (["*/*/temp*"], "a/temp.txt", False),
    (["temp?"], "tempa", True),
    (["temp?"], "temp", False),
    (["temp?"], "sub/tempa", False),
    (["**/*.go"], "a/b/c.go", True),
    (["**/*.go"], "c.go", True),
    (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md"], "CHANGES.md", True),
    (["*.md"], "docs/guide.md", False),  # unlike a .gitignore, *.md is the root's alone
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README-public.md", False),
    # A folder's match leaves out everything in it; a name is not matched at every depth.
    (["data"], "data/train.csv", True),
    (["data"], "mypkg/data/__init__.py", False),
    (["/build/"], "build/out.o", True),
    (["./build"], "build/out.o", True),
    (["a/**/b"], "a/b", True),
    (["a/**/b"], "a/x/y/b", True),
    (["a/**"], "a/x/y", True),
    (["a/**"], "ab", False),
    (["logs", "!logs/keep.txt"], "logs/keep.txt", False),
    (["logs", "!logs/keep.txt"], "logs/run.txt", True),
    # Characters a regular expression would read otherwise are themselves.
    (["foo.txt"], "foo_txt", False),
    (["a+b(c)|{d}$"], "a+b(c)|{d}$", True),
    (["[ab].py"], "a.py", True),
    (["[ab].py"], "c.py", False),
    (["\\*.py"], "*.py", True),
    (["\\*.py"], "x.py", False),
    # Comments and blank lines are no rules; a line that begins with a space is no comment.
    (["# data", "", "   "], "# data", False),
])
def test_docker_reads_a_pattern_so(lines, path, ignored):
    assert is_ignored(path, rules(*lines)) is ignored


@pytest.mark.parametrize("line, message", [("!", "takes back nothing"), ("  !  ", "takes back nothing"),
                                           ("[ab", "is not a pattern")])
def test_a_bad_line_is_refused_at_its_place(tmp_path, line, message):
    (tmp_path / "predict.py").write_text("")
    (tmp_path / ".dockerignore").write_text(f"*.log\n{line}\n")
    with pytest.raises(CogError, match=rf"^\.dockerignore:2: .*{message}"):
        project_files(tmp_path)


def test_project_files_follow_the_ignore_files_and_cogs_own_rules(tmp_path):
    for path in ["predict.py", "data/x.csv", "mypkg/data/__init__.py", "logs/keep.txt", "logs/run.txt",
                 ".git/HEAD", "mypkg/__pycache__/m.cpython-311.pyc", "notes.md", "docs/guide.md"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    (tmp_path / ".dockerignore").write_text("\ufeffdata\nlogs\n!logs/keep.txt\n")
    (tmp_path / ".cogignore").write_text("*.md\n")
    assert project_files(tmp_path) == [".cogignore", ".dockerignore", "docs/guide.md", "logs/keep.txt",
                                       "mypkg/data/__init__.py", "predict.py"]
