"""What every `redress` command starts from: the settings, the database, the runtime."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def settings():
    """The deployment's settings, read from the environment once per command."""
    from processes.config import Settings

    return Settings.from_environ()


def models_dir() -> Path:
    return settings().models_dir or ROOT


def database():
    from processes.engine.database import Database

    return Database(settings().database_url)


def command_runtime():
    """The runtime from the composition root, customer mail included (e.g. the survey after a timer)."""
    from processes.app import build_runtime

    return build_runtime(settings())
