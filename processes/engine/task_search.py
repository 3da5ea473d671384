"""Word search over the open tasks' references and summaries, answered from an index.

SQLite: ``human_tasks_fts``, an FTS5 table with the trigram tokenizer (so Chinese substrings and
parts of references match), holding the open tasks only, keyed by the task row's rowid and kept in
step by triggers in the same transaction as every write to human_tasks (migration 0023).
PostgreSQL: ILIKE, answered by the pg_trgm GIN indexes on summary and business_key (migration 0007).
"""

from __future__ import annotations

from sqlalchemy import String, bindparam, literal_column, select, table, text
from sqlalchemy.orm import Session

SEARCH_TABLE = "human_tasks_fts"
MIN_CHARS = 3  # a trigram is three characters: shorter words ("漏电") are matched with LIKE
# Up to this many matches, the page reads the matching rows by rowid and sorts them; with more,
# walking the scope's index in order meets a match often enough that LIKE on it is quicker.
SET_CAP = 2_000

_fts = table(SEARCH_TABLE, literal_column("rowid"))


def is_search_table(name: str) -> bool:
    """The FTS table and its shadow tables: SQLite's, not the models' (autogenerate skips them)."""
    return name == SEARCH_TABLE or name.startswith(SEARCH_TABLE + "_")


def _phrase(words: str) -> str:
    """One FTS5 phrase: with the trigram tokenizer, "contains this substring" (case-insensitive)."""
    return '"' + words.replace('"', '""') + '"'


def _matches(words: str):
    return text(f"{SEARCH_TABLE} MATCH :words").bindparams(bindparam("words", _phrase(words), type_=String))


def matching_rowids(session: Session | None, words: str) -> list[int] | None:
    """The rowids of the open tasks whose reference or summary contains ``words``, when an FTS
    index can answer and at most SET_CAP tasks match; else None (use LIKE). Read once per unit of
    work: the page and its count ask the same."""
    if session is None or len(words) < MIN_CHARS or session.get_bind().dialect.name != "sqlite":
        return None
    key = ("task_search", words)
    if key not in session.info:
        found = select(literal_column("rowid")).select_from(_fts).where(_matches(words)).limit(SET_CAP + 1)
        rowids = list(session.scalars(found))
        session.info[key] = rowids if len(rowids) <= SET_CAP else None
    return session.info[key]
