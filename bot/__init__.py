"""Gatejumper: bridge a blog's comment section and a Discord server, both ways."""

__version__ = "0.1.0"
