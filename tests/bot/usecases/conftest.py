"""The use-case fixtures (a migrated SQLite database, a fake chat, a fixed clock)."""

from tests.bot.usecases.test_approvals import env, make_env

__all__ = ["env", "make_env"]
