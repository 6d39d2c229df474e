"""The Alembic migrations build exactly the schema that `store.tables` describes."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, create_engine, inspect

import store.sandbox_tables  # noqa: F401  (its tables join Base.metadata)
from store.db import Store, sync_url
from store.migrate import upgrade
from store.tables import Base


def schema_diff(url: str, metadata: MetaData = Base.metadata) -> list:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


@pytest.fixture
def fresh_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'fresh' / 'oms.db'}"
    upgrade(url)
    return url


def test_upgrade_on_a_fresh_sqlite_file_creates_every_table(fresh_sqlite: str) -> None:
    engine = create_engine(fresh_sqlite)
    try:
        inspector = inspect(engine)
        tables = set(inspector.get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert tables - set(Base.metadata.tables) == {"alembic_version"}
        for name, table in Base.metadata.tables.items():
            columns = {column["name"] for column in inspector.get_columns(name)}
            assert columns == set(table.columns.keys()), name
    finally:
        engine.dispose()


def test_upgrade_is_repeatable(fresh_sqlite: str) -> None:
    upgrade(fresh_sqlite)
    assert schema_diff(fresh_sqlite) == []


def test_migrations_match_the_models_on_fresh_sqlite(fresh_sqlite: str) -> None:
    assert schema_diff(fresh_sqlite) == []


def test_migrations_match_the_models_on_each_backend(any_store: Store) -> None:
    # `any_store` was built by the same migrations; PostgreSQL reflects types more exactly.
    assert schema_diff(any_store.url) == []


def test_the_comparison_sees_a_model_the_migrations_lack(fresh_sqlite: str) -> None:
    # Guards the checks above against passing vacuously.
    changed = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["orders"].append_column(Column("note", String(20), nullable=True))
    diff = schema_diff(fresh_sqlite, changed)
    assert [(op[0], op[2], op[3].name) for op in diff] == [("add_column", "orders", "note")]
