"""Command lines as Cog's users type them, made into ones our parser reads. Pure: argv in, argv out.

Cog's CLI (Go's pflag) takes `--debug` before or after any command, boolean flags as `--flag=false`, and build
flags that mean nothing here; click would stop at each with a usage error. So, before click sees the line:

    cog build --debug -t x                       → debug on;              cog build -t x
    cog build --no-cache=false                   →                        cog build
    cog predict --use-cuda-base-image false      → a notice about it;     cog predict
    cog predict --progress plain                 → progress "plain";      cog predict
    cog run python train.py --debug              → unchanged from `python` on: the rest is the command's own

Nothing after `--`, or after the first argument of a command that takes the rest as its own (run, exec), changes.
A command that declares one of these flags itself gets it as typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_TRUE = {"true", "1", "yes", "t"}
_FALSE = {"false", "0", "no", "f"}


@dataclass(frozen=True)
class CompatFlag:
    """A flag of Cog's that any command accepts: kept as a setting, or dropped with a notice saying why."""

    takes_value: bool
    notice: str | None = None  # None: the value is kept in CommandLine.settings


COMPAT_FLAGS = {
    "--debug": CompatFlag(takes_value=False),
    "--no-color": CompatFlag(takes_value=False),
    "--progress": CompatFlag(takes_value=True),
    "--use-cog-base-image": CompatFlag(False, "images here start from the Python or CUDA base image, with cog's runtime in a layer of its own"),
    "--use-cuda-base-image": CompatFlag(True, "the GPU image takes the CUDA base image that cog.yaml's CUDA and torch resolve to"),
    "--separate-weights": CompatFlag(False, "weights always get an image layer of their own"),
    "--strip": CompatFlag(False, "shared libraries are left as installed"),
    "--precompile": CompatFlag(False, "Python compiles the model's code when it first imports it"),
    "--dockerfile": CompatFlag(True, "cog renders the Dockerfile from cog.yaml; see cog debug"),
    "--timestamp": CompatFlag(True, "layers keep the times they were built at"),
    "--x-fast": CompatFlag(False, "every build here is incremental"),
    "--x-localimage": CompatFlag(False, "images are always built with the local engine"),
}


class FlagValueError(ValueError):
    """`--flag=VALUE` where VALUE is not true or false, or a flag's value is missing."""


@dataclass(frozen=True)
class CommandLine:
    argv: list[str]
    settings: dict[str, str | bool] = field(default_factory=dict)  # e.g. {"debug": True, "progress": "plain"}
    notices: list[str] = field(default_factory=list)


def normalize(argv: list[str], root: Any) -> CommandLine:
    """`argv` (without the program name) as click reads it, with Cog's flags taken out and what they said kept.

    `root` is the click command tree (typer.main.get_command(app)); typer ships its own click, so its classes are
    read by their attributes: a group has `commands`, an option `opts` and `is_flag`."""
    out: list[str] = []
    settings: dict[str, str | bool] = {}
    notices: list[str] = []
    command = root
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            out += [token, *tokens]
            break
        if not token.startswith("-") or token == "-":
            out.append(token)
            if token in getattr(command, "commands", {}):
                command = command.commands[token]
            elif not _interspersed(command):
                out += list(tokens)  # the rest is the command's own (cog run python x.py --debug)
                break
            continue
        name, has_value, value = token.partition("=")
        option = _option(command, name) if command is not root else None  # the root's --debug is ours too
        compat = COMPAT_FLAGS.get(name)
        if option is None and compat is not None:
            if compat.takes_value and not has_value:
                value = next(tokens, None)
                if value is None:
                    raise FlagValueError(f"{name} needs a value")
            elif not compat.takes_value and has_value and not _truth(name, value):
                continue  # --flag=false: as if not given
            if compat.notice is None:
                settings[name.lstrip("-").replace("-", "_")] = value if compat.takes_value else True
            else:
                notices.append(f"{name} has no effect here: {compat.notice}")
            continue
        if option is not None and option.is_flag and has_value:
            flag = _bool_flag(option, name, value)
            if flag is not None:
                out.append(flag)
            continue
        out.append(token)
        if option is not None and not option.is_flag and not has_value:
            value = next(tokens, None)  # the option's value, whatever it looks like (-i text=--debug)
            if value is not None:
                out.append(value)
    return CommandLine(argv=out, settings=settings, notices=notices)


def _interspersed(command: Any) -> bool:
    """Whether options may follow arguments; `cog run` sets it off so that the command's own flags stay its own."""
    return command.context_settings.get("allow_interspersed_args", command.allow_interspersed_args)


def _option(command: Any, name: str) -> Any:
    for param in command.params:
        if getattr(param, "param_type_name", None) == "option" and (name in param.opts or name in param.secondary_opts):
            return param
    return None


def _truth(name: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise FlagValueError(f"{name}={value}: {name} is true or false")


def _bool_flag(option: Any, name: str, value: str) -> str | None:
    """`--flag=true|false` as click's flag, its `--no-` twin, or nothing (false with no twin: not given)."""
    if _truth(name, value):
        return name
    twins = option.secondary_opts if name in option.opts else option.opts
    return twins[0] if twins else None
