"""Imports every handler module so its handlers register."""

from handlers import complaint, demo  # noqa: F401
