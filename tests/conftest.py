"""Shared fixtures: storages and samplers every contract suite runs against.

Later backends and samplers join the contract suites by adding a factory here.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

import hyperdial
from hyperdial.storages import InMemoryStorage, JournalFileStorage, SQLiteStorage, Storage


def _memory(tmp_path) -> Storage:
    return InMemoryStorage()


def _sqlite(tmp_path) -> Storage:
    return SQLiteStorage(f"sqlite:///{tmp_path / 'study.db'}")


def _journal(tmp_path) -> Storage:
    return JournalFileStorage(f"journal:///{tmp_path / 'study.log'}")


def _fresh_sql(url: str) -> Storage:
    """A SQLStorage on an emptied hyperdial schema (the test database is the tests' own)."""
    import sqlalchemy as sa

    from hyperdial.storages.sql import SQLStorage, _normalise_url

    engine = sa.create_engine(_normalise_url(url)[0])
    with engine.begin() as conn:
        for table in ("events", "trials", "claims", "blobs", "studies", "meta"):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS hyperdial_{table}"))
    engine.dispose()
    return SQLStorage(url)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_database(url: str | None, kind: str) -> str | None:
    """A database of this test run's own on the server of ``url`` (created once per run).

    Two test runs on one machine (a developer's and CI's, say) would otherwise empty each
    other's tables. The name carries the creating process's id; databases left by runs whose
    process is gone are dropped. Where the user may not create databases, ``url`` is used as is.
    The choice goes into the environment, so worker processes and a second import of this
    module (as ``tests.conftest``) reuse it.
    """
    if not url:
        return url
    env = f"_HYPERDIAL_RUN_DB_{kind.upper()}"
    if os.environ.get(env):
        return os.environ[env].split(" ", 1)[1]
    try:
        import sqlalchemy as sa

        from hyperdial.storages.sql import _normalise_url

        engine = sa.create_engine(_normalise_url(url)[0], isolation_level="AUTOCOMMIT")
        name = f"hyperdial_run_{os.getpid()}"
        with engine.connect() as conn:
            if kind == "postgres":
                rows = conn.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'hyperdial_run_%'"))
            else:
                rows = conn.execute(sa.text("SHOW DATABASES LIKE 'hyperdial_run_%'"))
            for (old,) in rows.fetchall():
                pid = old.rsplit("_", 1)[1]
                if old == name or (pid.isdigit() and not _pid_alive(int(pid))):
                    force = " WITH (FORCE)" if kind == "postgres" else ""
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS {old}{force}"))
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        engine.dispose()
    except Exception:  # no driver, no server, no privilege: the given database, shared
        return url
    own = url.rsplit("/", 1)[0] + "/" + name
    os.environ[env] = f"{os.getpid()} {own}"
    return own


def _drop_run_database(kind: str) -> None:
    entry = os.environ.get(f"_HYPERDIAL_RUN_DB_{kind.upper()}")
    if not entry or entry.split(" ", 1)[0] != str(os.getpid()):
        return
    base = os.environ[f"HYPERDIAL_TEST_{kind.upper()}_URL"]
    name = entry.rsplit("/", 1)[1]
    try:
        import sqlalchemy as sa

        from hyperdial.storages.sql import _normalise_url

        engine = sa.create_engine(_normalise_url(base)[0], isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}{' WITH (FORCE)' if kind == 'postgres' else ''}"))
        engine.dispose()
    except Exception:  # left for the next run to drop
        pass


POSTGRES_URL = _run_database(os.environ.get("HYPERDIAL_TEST_POSTGRES_URL"), "postgres")
MYSQL_URL = _run_database(os.environ.get("HYPERDIAL_TEST_MYSQL_URL"), "mysql")


def _postgres(tmp_path) -> Storage:
    if not POSTGRES_URL:
        pytest.skip("no PostgreSQL: set HYPERDIAL_TEST_POSTGRES_URL (.ci/run sets it) to run this test")
    pytest.importorskip("psycopg", reason="the postgres extra is not installed: pip install -e '.[postgres]'")
    return _fresh_sql(POSTGRES_URL)


def _mysql(tmp_path) -> Storage:
    if not MYSQL_URL:
        pytest.skip("no MySQL / MariaDB: set HYPERDIAL_TEST_MYSQL_URL (.ci/run sets it) to run this test")
    pytest.importorskip("pymysql", reason="the mysql extra is not installed: pip install -e '.[mysql]'")
    return _fresh_sql(MYSQL_URL)


STORAGE_FACTORIES: dict[str, Callable] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "journal": _journal,
    "postgres": _postgres,
    "mysql": _mysql,
}


@pytest.fixture(params=sorted(STORAGE_FACTORIES))
def storage(request, tmp_path) -> Storage:
    s = STORAGE_FACTORIES[request.param](tmp_path)
    yield s
    s.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


SAMPLER_FACTORIES: dict[str, Callable[[], hyperdial.Sampler]] = {
    "random": hyperdial.RandomSampler,
    "sobol": lambda: hyperdial.QMCSampler("sobol"),
    "halton": lambda: hyperdial.QMCSampler("halton"),
    "lhs": lambda: hyperdial.QMCSampler("lhs", batch=16),
    "auto": hyperdial.AutoSampler,
    "cmaes": lambda: hyperdial.CmaEsSampler(popsize=6),
    "coarse_to_fine": lambda: hyperdial.CoarseToFineSampler(round_size=6),
    "gp": lambda: hyperdial.GPSampler(n_startup_trials=5, n_candidates=128),
    "tpe": lambda: hyperdial.TPESampler(n_startup_trials=5),
    "tpe-univariate": lambda: hyperdial.TPESampler(n_startup_trials=5, multivariate=False),
    "ga": lambda: hyperdial.GeneticSampler(population_size=6),
    "de": lambda: hyperdial.DifferentialEvolutionSampler(population_size=6, variant="rand1bin"),
    "jde": lambda: hyperdial.DifferentialEvolutionSampler(population_size=6),
    "nsga2": lambda: hyperdial.NSGAIISampler(population_size=6),
}


@pytest.fixture(params=sorted(SAMPLER_FACTORIES))
def sampler_factory(request) -> Callable[[], hyperdial.Sampler]:
    return SAMPLER_FACTORIES[request.param]


def pytest_configure(config) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_unconfigure(config) -> None:
    _drop_run_database("postgres")
    _drop_run_database("mysql")


@pytest.fixture(params=["sqlite", "journal", "postgres"])
def storage_url_for_processes(request, tmp_path) -> str:
    """A storage URL that separate processes can open."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    if request.param == "journal":
        return f"journal:///{tmp_path / 'shared.log'}"
    _postgres(tmp_path).close()
    return POSTGRES_URL
