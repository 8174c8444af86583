"""Where the CLI finds its cog server: the project's repo (.cog/settings.json), else the user's remote; and tokens.

    PROJECT/.cog/settings.json      {"repo": "http://HOST:PORT/OWNER/NAME"}        cog repo set
    USER_CONFIG/cog/settings.json   {"remote": "http://HOST:PORT",                 cog remote set
                                     "tokens": {"http://HOST:PORT": "cog_..."}}    cog login http://HOST:PORT
COG_TOKEN, when set, is the token for every server (for CI).
"""

from __future__ import annotations

import getpass
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

from cog.errors import CogError
from cog.config.parse import find_config_file
from cog.packages.records import check_model_part

PROJECT_SETTINGS = Path(".cog") / "settings.json"


@dataclass(frozen=True)
class Repo:
    server: str  # http(s)://HOST[:PORT][/PATH], no trailing slash
    model: str | None  # OWNER/NAME; None for a remote without a repo

    def __str__(self) -> str:
        return f"{self.server}/{self.model}" if self.model else self.server


def parse_server(url: str) -> str:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError:
        raise CogError(f"{url} is not a server URL: its port is not a number from 1 to 65535; expected http://HOST[:PORT]") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CogError(f"{url} is not a server URL; expected http://HOST[:PORT]")
    return url.rstrip("/")


def parse_repo(url: str) -> Repo:
    """http://HOST[:PORT][/PATH]/OWNER/NAME → the server and the model."""
    server = parse_server(url)
    head, _, name = server.rpartition("/")
    base, _, owner = head.rpartition("/")
    if not urlsplit(base).netloc or not owner:
        raise CogError(f"{url}: expected http://HOST[:PORT]/OWNER/NAME")
    try:
        check_model_part(owner, "owner")
        check_model_part(name, "name")
    except ValueError as exc:
        raise CogError(f"{url}: {exc}") from None
    return Repo(server=base, model=f"{owner}/{name}")


def project_root(start: Path | None = None) -> Path:
    """The project holding the current directory (where cog.yaml is), else the current directory itself."""
    start = start or Path.cwd()
    found = find_config_file(start)
    return found.parent.resolve() if found else start.resolve()


def set_repo(url: str, directory: Path | None = None) -> Repo:
    repo = parse_repo(url)
    _write(project_root(directory) / PROJECT_SETTINGS, {**_read(project_root(directory) / PROJECT_SETTINGS), "repo": str(repo)})
    return repo


def local_admin_token_file() -> Path:
    """Where `cog server` writes the admin token it creates at its first start (unless told otherwise)."""
    return Path(platformdirs.user_data_dir("cog")) / "server-token"


def default_model(project_dir: Path) -> str:
    """OWNER/NAME for a project pushed with only a remote set: this user's name and the project's directory."""
    owner, name = (_as_model_part(part, fallback) for part, fallback in ((getpass.getuser(), "user"), (project_dir.name, "model")))
    return f"{owner}/{name}"


def _as_model_part(text: str, fallback: str) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64]
    return cleaned or fallback


def set_remote(url: str) -> str:
    server = parse_server(url)
    _write(user_settings_file(), {**_read(user_settings_file()), "remote": server})
    return server


def current_repo(directory: Path | None = None) -> Repo | None:
    """The project's repo if set, else the user's remote (without a model), else None."""
    project = _read(project_root(directory) / PROJECT_SETTINGS).get("repo")
    if project:
        return parse_repo(project)
    remote = _read(user_settings_file()).get("remote")
    return Repo(server=remote, model=None) if remote else None


def save_token(server: str, token: str) -> None:
    settings = _read(user_settings_file())
    _write(user_settings_file(), {**settings, "tokens": {**settings.get("tokens", {}), server: token}})


def token_for(server: str) -> str | None:
    return os.environ.get("COG_TOKEN") or _read(user_settings_file()).get("tokens", {}).get(server)


def user_settings_file() -> Path:
    return Path(platformdirs.user_config_dir("cog")) / "settings.json"


def _read(path: Path) -> dict:
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CogError(f"{path} cannot be read ({exc}); fix or delete it") from None
    if not isinstance(settings, dict):
        raise CogError(f"{path} is not a JSON object; fix or delete it")
    return settings


def _write(path: Path, settings: dict) -> None:
    """Readable by the user only: the user's settings hold tokens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(settings, out, indent=2, sort_keys=True)
        out.write("\n")
    partial.replace(path)
