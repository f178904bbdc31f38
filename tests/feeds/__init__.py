"""Tests of the feed core: fetch, parse, sources, decide."""
