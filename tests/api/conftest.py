"""Fixtures of the API tests, beyond the stack and client every test module gets."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.db import create_pool
from api.jobs import create_job_app
from api.settings import Settings
from tests.api.races import Pool
from tests.conftest import Stack


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[Pool, Any]]:
    """A pool and a deferring Procrastinate app on the module's database, as the API has."""
    pool = create_pool(Settings(database_url=stack.database_url, db_pool_max_size=4))
    await pool.open()
    job_app = create_job_app()
    await job_app.open_async(pool)
    try:
        yield pool, job_app
    finally:
        await job_app.close_async()
        await pool.close()
