"""Polling benchmark: N WordPress-shaped feeds served by another process, polled for real.

    .venv/bin/python bench/bench_poll.py --feeds 1000
    .venv/bin/python bench/bench_poll.py --feeds 10000
    .venv/bin/python bench/bench_poll.py --quick
    .venv/bin/python bench/bench_poll.py --feeds 1000 --database postgresql

Prints a table of figures next to their targets, each measured against a baseline taken in
the same run, and writes them to ``bench/results/<name>.json``. Nothing here asserts
timings. What is measured, and the choices made, are in bench/README.md.

This file is the command only: parser workers import the main module (as they import
``bot.__main__`` under the ``gatejumper`` command), so it imports what that module does and
leaves the benchmark itself (``poll_run``) to ``main``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import bot.__main__  # noqa: E402, F401  (what a parser worker of `gatejumper run` imports)

MODES = ("inline", "thread", "process")
LARGE = 5000  # from this many feeds on, fewer repeats and comparisons by default
PROFILED = ("first_sync", "unchanged_304", "changed_10pct", "unchanged_same_body")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Gatejumper polling benchmark")
    parser.add_argument("--feeds", type=int, default=1000, help="number of feeds (default 1000)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (200 feeds)")
    parser.add_argument("--hosts", type=int, default=16, help="loopback hosts (default 16)")
    parser.add_argument(
        "--repeat", type=int, help="runs of each unchanged cycle (default 3; 2 from 5000 feeds)"
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--modes",
        help="parser modes compared with the process pool, comma-separated ('' for none; "
        "default inline,thread, and inline alone from 5000 feeds to keep the run short)",
    )
    parser.add_argument("--name", help="results file name (default poll-<feeds>[-postgresql])")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="leave the garbage collector as CPython sets it (the bot's own start-up settings, "
        "bot.app.settle_collector, otherwise)",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILED,
        help="write a cProfile of that cycle to ./<name>-<cycle>.prof (it slows the cycle)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.feeds = 200
    if args.feeds < 10:
        parser.error("--feeds must be at least 10")
    if not 1 <= args.hosts <= 250:
        parser.error("--hosts must be between 1 and 250")
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    large = args.feeds >= LARGE
    args.repeat = args.repeat or (1 if args.quick else 2 if large else 3)
    if args.modes is None:
        args.modes = "inline" if large else "inline,thread"
    args.modes = tuple(mode for mode in args.modes.split(",") if mode)
    for mode in args.modes:
        if mode not in MODES:
            parser.error(f"unknown parser mode {mode!r} (inline, thread or process)")
    if args.name is None:
        args.name = "poll-quick" if args.quick else f"poll-{args.feeds}"
        if args.database != "sqlite":
            args.name += f"-{args.database}"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import poll_run

    options = poll_run.Options(
        feeds=args.feeds,
        hosts=args.hosts,
        repeat=args.repeat,
        database=args.database,
        keep=args.keep,
        modes=args.modes,
        name=args.name,
        profile=args.profile,
        default_gc=args.default_gc,
    )
    return poll_run.main(options)


if __name__ == "__main__":
    sys.exit(main())
