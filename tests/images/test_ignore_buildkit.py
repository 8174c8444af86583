"""cog's reading of .dockerignore against BuildKit's own: the files BuildKit copies of a project are the files
cog.images.context.project_files lists (what the code digest, the import scan and a package hold)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from cog.images.context import docker_ignore_lines, project_files

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


def test_buildkit_copies_what_project_files_lists(tmp_path):
    project = tmp_path / "project"
    for path in FILES:
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(path)
    for name, text in IGNORES.items():
        (project / name).write_text(text)
    (project / "link").symlink_to("mypkg")
    # As cog build hands them over: the Dockerfile outside the context, its ignore rules beside it.
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\nCOPY . /\n")
    Path(f"{dockerfile}.dockerignore").write_text("\n".join(docker_ignore_lines(project)) + "\n")
    out = tmp_path / "out"
    subprocess.run(["docker", "buildx", "build", "--quiet", "--output", f"type=local,dest={out}", "-f", str(dockerfile),
                    str(project)], check=True, capture_output=True)
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
