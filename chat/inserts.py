"""New rows of several tables, written together: one statement on PostgreSQL.

A turn's start stores up to three new rows before its first token: the
conversation (a new one), the ``running`` ``Turn`` and the user's message.
Through the ORM that is five round trips (BEGIN, three INSERTs, COMMIT), each
built by the query compiler; on PostgreSQL one statement with data-modifying
``WITH`` clauses writes them all, atomically, in one round trip. It pays on
the production shape (docs/performance.md, "The turn-start statement"); on
SQLite, which answers in process, the ORM does it.

For plain new rows only: as ``save()`` would, each field's ``pre_save``
(``auto_now``) and database preparation apply; no model signals are sent
(nothing in this project listens for these models').
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Model


def _insert(obj: Model, connection: Any) -> tuple[str, list[Any]]:
    meta = obj._meta
    fields = [
        field
        for field in meta.concrete_fields
        # An unset auto-increment key is the database's to choose.
        if not (field.primary_key and getattr(obj, field.attname) is None)
    ]
    values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    # Identifiers from the models, quoted by the backend; every value is a parameter.
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})", values  # noqa: S608


def insert_new(*objs: Model) -> None:
    """Insert the new, unsaved ``objs`` (parents before children) all or none.

    Inside an open transaction they join it; outside, the one statement (or the
    ORM's transaction) commits them."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        with transaction.atomic(savepoint=False):
            for obj in objs:
                obj.save(force_insert=True)
        return
    statements = [_insert(obj, connection) for obj in objs]
    *first, (last_sql, last_params) = statements
    clauses = ", ".join(f"row{index} AS ({sql})" for index, (sql, _) in enumerate(first))
    sql = f"WITH {clauses} {last_sql}" if clauses else last_sql
    params = [value for _, values in first for value in values] + last_params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = DEFAULT_DB_ALIAS
