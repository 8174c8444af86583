"""Where torch comes from, chosen at the edge: the COG_TORCH_INDEX setting, and in `auto` a probe from this host.

    COG_TORCH_INDEX=auto   (the default) PyTorch's wheel index (download.pytorch.org/whl/cpu, /cu124, ...), as
                           cuda_matrix/ names it, if it answers a GET from this host within a few seconds; else PyPI,
                           with a one-line warning, rather than a DNS error from inside the build
    COG_TORCH_INDEX=pypi   PyPI (or the project's own --index-url): PyPI's torch wheels, no PyTorch index
    COG_TORCH_INDEX=URL    a mirror of PyTorch's index, in place of its URLs; {index} in it stands for the path after
                           https://download.pytorch.org/whl/ (cpu, cu124, ...) for a mirror of the whole tree

The probe honours the proxy settings (HTTPS_PROXY, NO_PROXY) and the CA bundle (--ca-bundle, COG_CA_BUNDLE,
SSL_CERT_FILE). A project that installs nothing from PyTorch's site is never probed for. Resolving stays pure:
this module only picks the `torch_index` that cog.compiler.resolve takes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlsplit

from cog.compiler.plan import BuildPlan
from cog.compiler.resolve import TORCH_FROM_PYPI, pytorch_index_prefix
from cog.errors import CogError, ConfigWarning
from cog.matrix import load_matrix

SETTING = "COG_TORCH_INDEX"
AUTO = "auto"
PROBE_OVERRIDE = "_COG_TORCH_INDEX_PROBE"  # for tests: the URL probed in place of PyTorch's (a loopback server)
PROBE_TIMEOUT_S = 5.0


def torch_index_setting(environ: Mapping[str, str] | None = None) -> str:
    """auto, pypi or a mirror's URL, from COG_TORCH_INDEX; anything else is the user's mistake, said in one line."""
    value = (os.environ if environ is None else environ).get(SETTING, "").strip()
    if value.lower() in ("", AUTO):
        return AUTO
    if value.lower() == TORCH_FROM_PYPI:
        return TORCH_FROM_PYPI
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc:
        return value
    raise CogError(f"{SETTING}={value}: use auto, pypi, or the URL of a mirror of PyTorch's wheel index "
                   f"(https://mirror.example/whl/cpu, or https://mirror.example/whl/{{index}} for all of them)")


def resolve_torch_source(
    resolve_plans: Callable[[str | None], list[BuildPlan]],
    *,
    ca_bundle: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[BuildPlan]:
    """The plans `resolve_plans(torch_index)` makes for the torch source COG_TORCH_INDEX chooses. In auto, the
    PyTorch indexes the plans name are probed; if one does not answer, the plans are made again with torch from
    PyPI, each carrying one warning that says so."""
    environ = os.environ if environ is None else environ
    setting = torch_index_setting(environ)
    if setting != AUTO:
        return resolve_plans(setting)
    plans = resolve_plans(None)
    if ca_bundle is None and environ.get("COG_CA_BUNDLE"):
        ca_bundle = Path(environ["COG_CA_BUNDLE"])
    for url in pytorch_urls(plans):
        if not index_answers(environ.get(PROBE_OVERRIDE) or url, ca_bundle=ca_bundle):
            warning = ConfigWarning(
                f"the PyTorch wheel index ({url}) did not answer; installing torch from PyPI instead "
                f"(set {SETTING} to a mirror of it to choose)"
            )
            return [plan.model_copy(update={"warnings": (warning, *plan.warnings)}) for plan in resolve_plans(TORCH_FROM_PYPI)]
    return plans


def pytorch_urls(plans: list[BuildPlan]) -> list[str]:
    """The URLs on PyTorch's site that the plans install from, in order, each once."""
    prefix = pytorch_index_prefix(load_matrix())
    urls = []
    for plan in plans:
        options = plan.install_options
        for url in (options.index_url, *options.extra_index_urls, *options.find_links):
            if url and (url.startswith(prefix) or url.rstrip("/") + "/" == prefix) and url not in urls:
                urls.append(url)
    return urls


def index_answers(url: str, *, ca_bundle: Path | None = None, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether one GET of `url` gets an answer that is not an error (redirects followed) within `timeout`."""
    import ssl  # here, with httpx: a project that installs nothing from PyTorch's site is never probed

    import httpx

    verify: ssl.SSLContext | bool = True
    if ca_bundle is not None:
        try:
            verify = ssl.create_default_context(cafile=str(ca_bundle))
        except (OSError, ssl.SSLError) as error:
            raise CogError(f"the CA bundle {ca_bundle} cannot be read: {error}") from None
    try:
        with httpx.Client(timeout=timeout, verify=verify, follow_redirects=True, trust_env=True) as client:
            with client.stream("GET", url) as response:
                return response.status_code < 400
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ssl.SSLError, ValueError):
        return False
