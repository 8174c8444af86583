"""The build's scratch folder, laid out at the edge before a build: the Dockerfile and its ignore rules
(write_dockerfile), the code, dated (stage_code), the weights, linked (stage_weights); and what else an image is
labelled with from the checkout (git_labels)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Iterable

# The build contexts the Dockerfile names (templates/Dockerfile.j2) besides the project: the cog wheel, the
# project's code (weights aside) under the image's working folder and dated, and the weights.
RUNTIME_CONTEXT = "cog-runtime"
CODE_CONTEXT = "cog-code"
WEIGHTS_CONTEXT = "weights"
# Every image is dated 1980-01-01, the time every entry of a package's zip carries (cog.packages.zips.ZIP_TIME):
# the package has no other time, and the clock would make each build's image differ.
SOURCE_DATE_EPOCH = 315532800


def git_labels(directory: Path) -> dict[str, str]:
    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None

    labels = {}
    revision = git("rev-parse", "HEAD")
    if revision:
        labels["org.opencontainers.image.revision"] = revision
        version = git("describe", "--tags", "--always", "--dirty")
        if version:
            labels["org.opencontainers.image.version"] = version
    return labels


def literal_pattern(path: str) -> str:
    """A .dockerignore line that matches exactly this path: pattern characters escaped, a leading ! or # too."""
    escaped = re.sub(r"([*?\[\]\\])", r"\\\1", path)
    return "\\" + escaped if escaped[:1] in ("!", "#") else escaped


def stage_code(project_dir: Path, files: Iterable[str], folders: Iterable[str], root: Path, workdir: str) -> Path:
    """The code as its own build context `root`: a copy of the project's code files and folders under the image's
    working folder, every entry dated SOURCE_DATE_EPOCH, so that the Dockerfile's plain COPY (which keeps file
    times) makes the same image whenever and wherever the same code is built. A copy, not links: dating a link
    would date the project's own files.

    The copy lies in a folder named by a digest of all it holds, which the Dockerfile copies the contents of (COPY
    --from=cog-code /* /). BuildKit keeps each context's last copy and sends a build only what changed, by size and
    time; a folder that gains an entry keeps its (unchanged) time there, and BuildKit would copy it with the
    receiving machine's clock. Under a new name every folder arrives new; the same code keeps its name and its
    cached step."""
    digest = hashlib.sha256(workdir.encode())
    staging = root / ".staging"
    target = staging / workdir.strip("/")
    target.mkdir(parents=True)
    for relative in folders:
        (target / relative).mkdir(parents=True, exist_ok=True)
    for relative in files:
        source, destination = project_dir / relative, target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(link := os.readlink(source), destination)
            digest.update(b"\0link\0" + relative.encode() + b"\0" + link.encode())
            continue
        content = source.read_bytes()
        mode = stat.S_IMODE(source.stat().st_mode)
        destination.write_bytes(content)
        os.chmod(destination, mode)
        digest.update(b"\0file\0%s\0%o\0%s" % (relative.encode(), mode, hashlib.sha256(content).digest()))
    for folder in sorted(target.rglob("*")):  # as BuildKit copies a folder: with its mode
        if folder.is_dir() and not folder.is_symlink():
            relative = folder.relative_to(target)
            mode = stat.S_IMODE((project_dir / relative).stat().st_mode)
            os.chmod(folder, mode)
            digest.update(b"\0folder\0%s\0%o" % (relative.as_posix().encode(), mode))
    # The working folder and those above it as an image has them, whatever the checkout's (a temporary one's 0700
    # would shut out a container run as another user).
    for folder in [target, *target.parents]:
        if folder == staging.parent:
            break
        os.chmod(folder, 0o755)
    named = root / digest.hexdigest()[:32]
    staging.rename(named)
    for directory, folders_in, files_in in os.walk(named, topdown=False):  # after every write, the folders last
        for name in [*files_in, *folders_in]:
            os.utime(Path(directory, name), (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH), follow_symlinks=False)
    os.utime(named, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
    return named


def write_dockerfile(work: Path, name: str, text: str, ignore: str) -> Path:
    """Dockerfile.NAME in the scratch folder `work`, with the main context's ignore rules beside it."""
    dockerfile = work / f"Dockerfile.{name}"
    dockerfile.write_text(text, encoding="utf-8")
    # BuildKit reads the ignore rules of the main context from "<Dockerfile>.dockerignore" beside it.
    Path(f"{dockerfile}.dockerignore").write_text(ignore, encoding="utf-8")
    return dockerfile


def code_context(work: Path, project_dir: Path, files: Iterable[str], folders: Iterable[str], workdir: str) -> Path:
    """The code's context in the scratch folder `work`, staged (stage_code) once for each working folder."""
    root = work / CODE_CONTEXT / workdir.strip("/").replace("/", "-")
    if not root.exists():
        stage_code(project_dir, files, folders, root, workdir)
    return root


def stage_weights(project_dir: Path, weights: Iterable[str], target: Path) -> Path:
    """The weights as their own build context: hard links where possible, so nothing large is copied."""
    for relative in weights:
        source, destination = project_dir / relative, target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)
    return target
