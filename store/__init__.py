"""Persistence: SQLAlchemy 2 tables, Alembic migrations and the queries on them."""
