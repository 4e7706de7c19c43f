"""The API's pool hands out live connections: one the server has cut is replaced, not used."""

import asyncio
from typing import Any

import psycopg
from litestar.testing import AsyncTestClient
from psycopg.conninfo import make_conninfo

from api.app import create_app
from api.settings import Settings as ApiSettings
from tests.conftest import Stack

APPLICATION_NAME = "api-pool-under-test"


async def test_a_connection_the_server_terminated_is_replaced_before_a_request_uses_it(
    stack: Stack,
) -> None:
    settings = ApiSettings(
        database_url=make_conninfo(stack.database_url, application_name=APPLICATION_NAME),
        s3_endpoint_url=stack.s3.endpoint_url,
        aws_access_key_id=stack.s3.access_key,
        aws_secret_access_key=stack.s3.secret_key,
        db_pool_max_size=1,
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        for route in ("/images", "/imports"):  # a read in autocommit, a read in a transaction
            assert (await client.get(route)).status_code == 200
            await terminate_backends(stack.database_url)

            response = await client.get(route)

            assert response.status_code == 200, response.text


async def terminate_backends(database_url: str) -> None:
    """As a restart of PostgreSQL or an administrator would: the pool's idle connection goes."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        cursor = await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (APPLICATION_NAME,),
        )
        assert await cursor.fetchall() == [(True,)]
        for _ in range(100):
            cursor = await admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (APPLICATION_NAME,),
            )
            row: Any = await cursor.fetchone()
            if row[0] == 0:
                return
            await asyncio.sleep(0.05)
    raise AssertionError("the backend did not go")
