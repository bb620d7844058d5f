"""The fakes' command lines, as a developer runs them for a local walkthrough: `serve` prints what
to export and stops on Ctrl-C; a port that is taken is one line and exit code 1."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    ("module", "name", "command"),
    [
        ("tests.fakes.discord_api", "fake Discord", ["serve"]),
        ("tests.fakes.slack_api", "fake Slack", ["serve"]),
        ("tests.fakes.llm_server", "fake LLM server", []),
    ],
)
def test_a_fake_on_a_port_in_use_says_so_in_one_line(
    taken_port: int, module: str, name: str, command: list[str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, *command, "--port", str(taken_port)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"{name}: cannot listen on 127.0.0.1:{taken_port}: address already in use;"
        " stop what uses it or pick another with --port\n"
    )
    assert done.stdout == ""


@pytest.mark.usefixtures("ctrl_c_reaches_children")
def test_discord_serve_prints_the_variables_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.discord_api", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(7)]
        exports = dict(re.findall(r"export (DISCORD_\w+)=(\S+)", "".join(lines)))
        assert set(exports) == {"DISCORD_API_URL", "DISCORD_GATEWAY_URL", "DISCORD_TOKEN"}, lines
        api = exports["DISCORD_API_URL"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v10", api)
        assert exports["DISCORD_GATEWAY_URL"] == api.replace("http://", "ws://").replace("/api/v10", "/gateway")
        with urllib.request.urlopen(f"{api}/gateway", timeout=5) as resp:
            assert json.load(resp) == {"url": exports["DISCORD_GATEWAY_URL"]}
        assert "members: alice, wendy (Writers), dana (Analysts), mod (Moderators), eve" in "".join(lines)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0
    assert proc.stderr is not None and proc.stderr.read() == ""


@pytest.mark.parametrize(
    ("module", "said"),
    [
        ("tests.fakes.discord_api", "no fake Discord at {url}; start one: python -m tests.fakes.discord_api serve"),
        ("tests.fakes.slack_api", "cannot reach the fake or the app: "),
    ],
)
def test_a_client_without_its_fake_says_how_to_start_one(module: str, said: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: nothing answers there
        done = subprocess.run(
            [sys.executable, "-m", module, "state", "--fake", url], capture_output=True, text=True, timeout=30
        )
    assert done.returncode == 1
    assert done.stderr.startswith(said.format(url=url)), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"python -m {module} serve" in done.stderr
