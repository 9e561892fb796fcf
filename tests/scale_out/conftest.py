"""Shared stores for the scale-out tests: a Postgres schema of their own and a Chroma server.

Postgres tests skip, saying why, when no server answers at 127.0.0.1:5432 (as in
tests/test_records.py); Chroma tests skip when the bundled ``chroma`` server cannot start.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from vagent import ConfigError
from vagent._postgres import connect

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
FHA = Path(__file__).resolve().parents[2] / "examples" / "fha_resource_center" / "agent.toml"
#: Polls of the Chroma server's heartbeat, a quarter second apart, before giving up.
_HEARTBEAT_POLLS = 120


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A URL of the local Postgres server whose tables land in a fresh schema, dropped after."""
    schema = f"vagent_test_{uuid.uuid4().hex[:12]}"
    _postgres_or_skip()

    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"

    with connect(POSTGRES_URL) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _postgres_or_skip() -> None:
    """Return if the local Postgres server answers, else skip saying why."""
    try:
        connect(POSTGRES_URL).close()
    except ConfigError as exc:
        pytest.skip(f"no Postgres at 127.0.0.1:5432 ({exc}); its tests are skipped")


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a Chroma server on a free local port, stopped after the module's tests."""
    chroma = Path(sys.executable).with_name("chroma")
    if not chroma.exists():
        pytest.skip(f"no chroma command beside {sys.executable}; Chroma server tests are skipped")
    folder = tmp_path_factory.mktemp("chroma-server")
    url = f"http://127.0.0.1:{free_port()}"
    command = [str(chroma), "run", "--path", str(folder / "data"), "--host", "127.0.0.1"]
    command += ["--port", url.rsplit(":", 1)[1]]
    with (folder / "server.log").open("wb") as log, pytest.MonkeyPatch.context() as env:
        # The clients in this process must reach the server directly, never through a proxy.
        env.setenv("NO_PROXY", "127.0.0.1,localhost")
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=_quiet_env())
        try:
            if not _answers(url, server):
                pytest.skip(f"the Chroma server did not start; see {folder / 'server.log'}")
            yield url
        finally:
            server.terminate()
            server.wait()


def free_port() -> int:
    """A local TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _quiet_env() -> dict[str, str]:
    """The environment with telemetry off and local addresses kept away from any proxy."""
    return {**os.environ, "ANONYMIZED_TELEMETRY": "False", "NO_PROXY": "127.0.0.1,localhost"}


def _answers(url: str, server: subprocess.Popen[bytes]) -> bool:
    """Whether the server's heartbeat answers before it exits or the polls run out."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for _ in range(_HEARTBEAT_POLLS):
        try:
            with direct.open(f"{url}/api/v2/heartbeat", timeout=1):
                return True
        except OSError:
            pass
        try:
            server.wait(timeout=0.25)
            return False
        except subprocess.TimeoutExpired:
            continue
    return False
