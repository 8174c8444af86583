"""cog's reading of .dockerignore against BuildKit's own: the files BuildKit copies of a project are the files
cog.images.context.project_files lists (what the code digest, the import scan and a package hold), and the code
context cog build stages (cog.images.builder.stage_code) holds what BuildKit would copy, dated."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from pathlib import Path

from cog.images.staging import SOURCE_DATE_EPOCH, stage_code
from cog.images.context import docker_ignore_lines, project_entries, project_files

FILES = [
    "predict.py", "cog.yaml", "README.md", "CHANGES.md", "docs/guide.md", "data/train.csv", "mypkg/__init__.py",
    "mypkg/data/__init__.py", "mypkg/__pycache__/m.cpython-311.pyc", "logs/keep.txt", "logs/run.txt",
    "data/keep.txt", "notes/keep.txt",
    "somedir/temporary.txt", "somedir/temp/deep.txt", "tempa", "a/x/y/b", "a+b(c).txt", "build/out.o",
    ".git/HEAD", "sub/.git/HEAD", ".venv/pyvenv.cfg", "scratch.log", "nested/scratch.log", "keep.py", "x.py",
]
IGNORES = {
    ".dockerignore": "# a comment\ndata\n*.md\n!README*.md\nlogs\n!logs/keep.txt\n!*/keep.txt\n*/temp*\ntemp?\n/build/\n",
    ".cogignore": "a/**/b\n*.log\n[x].py\na+b(c).txt\n",
}


EMPTY_FOLDERS = ["empty", "mypkg/assets", "somedir/temp/empty", "data/empty"]  # the last two are left out


def make_project(project: Path) -> None:
    for path in FILES:
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(path)
    for folder in EMPTY_FOLDERS:
        (project / folder).mkdir(parents=True)
    for name, text in IGNORES.items():
        (project / name).write_text(text)
    (project / "link").symlink_to("mypkg")
    (project / "keep.py").chmod(0o755)
    (project / "mypkg" / "assets").chmod(0o700)


def buildkit_copy(project: Path, out: Path) -> Path:
    """What BuildKit copies of the project (FROM scratch, COPY . /), written out to `out`. The Dockerfile lies
    outside the context with its ignore rules beside it, as cog build hands them over."""
    dockerfile = out.with_name(f"{out.name}.Dockerfile")
    dockerfile.write_text("FROM scratch\nCOPY . /\n")
    Path(f"{dockerfile}.dockerignore").write_text("\n".join(docker_ignore_lines(project)) + "\n")
    subprocess.run(["docker", "buildx", "build", "--quiet", "--output", f"type=local,dest={out}", "-f", str(dockerfile),
                    str(project)], check=True, capture_output=True)
    return out


def test_buildkit_copies_what_project_files_lists(tmp_path):
    project = tmp_path / "project"
    make_project(project)
    out = buildkit_copy(project, tmp_path / "out")
    copied = sorted(
        Path(root, name).relative_to(out).as_posix()
        for root, directories, files in os.walk(out)
        for name in [*files, *(d for d in directories if Path(root, d).is_symlink())]
    )
    listed = project_files(project)
    assert listed == copied
    assert "mypkg/data/__init__.py" in listed and "logs/keep.txt" in listed and "sub/.git/HEAD" in listed
    # A `!` rule takes back files in any folder left out, whatever its pattern begins with.
    assert "notes/keep.txt" in listed and "data/keep.txt" in listed


def tree(root: Path) -> dict[str, tuple]:
    """Each entry under root: (kind, permission bits, content or link target)."""
    entries = {}
    for directory, folders, files in os.walk(root):
        for name in [*folders, *files]:
            path = Path(directory, name)
            mode = path.lstat().st_mode
            kind = "link" if stat.S_ISLNK(mode) else "folder" if stat.S_ISDIR(mode) else "file"
            content = os.readlink(path) if kind == "link" else path.read_text() if kind == "file" else None
            entries[path.relative_to(root).as_posix()] = (kind, stat.S_IMODE(mode) if kind != "link" else None, content)
    return entries


def test_the_staged_code_is_what_buildkit_copies_of_the_project_dated(tmp_path):
    project = tmp_path / "project"
    make_project(project)
    out = buildkit_copy(project, tmp_path / "out")
    files, folders = project_entries(project)
    staged = stage_code(project, files, folders, tmp_path / "stage", "/src")
    assert list((tmp_path / "stage").iterdir()) == [staged]
    assert tree(staged / "src") == tree(out)
    assert {"empty", "mypkg/assets"} <= set(folders) and "somedir/temp/empty" not in folders
    assert tree(staged / "src")["keep.py"][1] == 0o755 and tree(staged / "src")["mypkg/assets"][1] == 0o700
    assert {path.lstat().st_mtime for path in [staged, *staged.rglob("*")]} == {SOURCE_DATE_EPOCH}
    assert (project / "keep.py").stat().st_mtime != SOURCE_DATE_EPOCH  # the project's own files keep their times


def test_the_staged_codes_folder_is_named_by_all_it_holds(tmp_path):
    """BuildKit syncs a context by size and time against its last copy; a new name for any change means no folder
    of the copy is ever changed in place (where it would be dated with the daemon's clock)."""
    project = tmp_path / "project"
    make_project(project)

    def staged_name(**change) -> str:
        files, folders = project_entries(project)
        return stage_code(project, files, folders, Path(tempfile.mkdtemp(dir=tmp_path)), change.get("workdir", "/src")).name

    first = staged_name()
    assert staged_name() == first
    assert staged_name(workdir="/app") != first
    names = {first}
    for change in (lambda: (project / "keep.py").write_text("edited"), lambda: (project / "new").mkdir(),
                   lambda: (project / "keep.py").chmod(0o644), lambda: (project / "link").unlink()):
        change()
        names.add(staged_name())
    assert len(names) == 5
