"""Databases of their own on a PostgreSQL server, made empty for a test or a benchmark run and
dropped after it. The connection that makes or drops one is made to the database `server_url` names
(any database on that server will do); the role needs CREATEDB."""

from __future__ import annotations

import uuid

__all__ = ["create_database", "drop_database"]


async def create_database(server_url: str, *, prefix: str) -> str:
    """A new empty database named `prefix` and a random suffix; its `postgresql+asyncpg` URL."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    await _run(server_url, f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(server_url: str, database_url: str) -> None:
    """Drop the database of `database_url`, made by `create_database`, even with sessions still open."""
    name = database_url.rsplit("/", 1)[1]
    await _run(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _run(server_url: str, statement: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(server_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await admin.execute(statement)
    finally:
        await admin.close()
