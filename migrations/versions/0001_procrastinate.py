"""Procrastinate's job tables, functions and triggers, from the installed procrastinate package.

Upgrading procrastinate later means adding a step that applies its own migration files
(procrastinate.schema.SchemaManager.get_migrations_path()) for the versions crossed.
"""

from procrastinate.schema import SchemaManager
from yoyo import step

__depends__: set[str] = set()

steps = [step(SchemaManager.get_schema())]
