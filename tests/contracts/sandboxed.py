"""Runs a server and schemathesis against it inside the network namespace this process was started in.

    unshare -rn python -m tests.contracts.sandboxed --port N --schema PATH [--max-examples N]
        [--exclude-path PATH]... [--token-file FILE] -- SERVER_ARGV...

Brings loopback up, starts SERVER_ARGV (which must listen on 127.0.0.1:N), waits until PATH answers, then runs
`st run` with every check against http://127.0.0.1:N/PATH; exits with st's status, after stopping the server.
Inside a fresh namespace only loopback exists, so the URLs schemathesis generates (webhooks, file inputs, upload
prefixes) reach nothing outside.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import List, Optional

ST = Path(sys.executable).with_name("st")
CONFIG = Path(__file__).with_name("schemathesis.toml")


def wait_for(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None:
            sys.exit(f"the server exited with status {server.returncode} before {url} answered")
        if time.monotonic() > deadline:
            sys.exit(f"{url} did not answer 200 within {timeout:g} s")
        time.sleep(0.1)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--schema", required=True, help="the OpenAPI document's path on the server")
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--exclude-path", action="append", default=[], help="an operation's path to leave out")
    parser.add_argument("--token-file", help="send the bearer token the server wrote here with every request")
    parser.add_argument("server", nargs="+")
    args = parser.parse_args(argv)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(args.server)
    try:
        wait_for(base + args.schema, server)
        auth = [f"--header=Authorization: Bearer {Path(args.token_file).read_text().strip()}"] if args.token_file else []
        with tempfile.TemporaryDirectory(prefix="cog-schemathesis-") as scratch:  # st's caches go there
            return subprocess.run([
                # Every check is on by default; --checks here would override the config's exceptions.
                str(ST), "--config-file", str(CONFIG), "run", base + args.schema,
                "--max-examples", str(args.max_examples),
                "--seed", "1", "--generation-database", "none", "--no-color", "--workers", "1",
                "--request-timeout", "30", *(f"--exclude-path={path}" for path in args.exclude_path), *auth,
            ], cwd=scratch).returncode
    finally:
        server.terminate()
        try:
            server.wait(3)
        except subprocess.TimeoutExpired:  # still retrying webhooks to generated hosts: enough
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
