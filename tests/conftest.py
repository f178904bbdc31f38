"""Shared fixtures: real databases (tests/_db.py), real WordPress and Isso servers."""

pytest_plugins = ["tests._db"]
