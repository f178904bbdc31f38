"""Shared fixtures: real databases (tests/_db.py), real WordPress and Isso servers."""

pytest_plugins = [
    "tests._db",
    "tests.isso_fixtures",
    "tests.wordpress_fixtures",
    "tests.discord_server.fixtures",
]
