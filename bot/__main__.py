"""The ``gatejumper`` command line: check a config, run the bridge, preview a feed.

Exit codes: 0 success, 1 unexpected error, 2 bad usage or configuration,
130 interrupted. Bad input never prints a traceback; ``-v`` shows one for
unexpected errors.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot import __version__
from bot.config import (
    ConfigError,
    Problem,
    Settings,
    load_settings,
    missing_secrets,
    redact_database_url,
)

log = logging.getLogger("gatejumper")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit code instead of exiting, for tests."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    _setup_logging(verbose=args.verbose)
    command: Callable[[argparse.Namespace], int] = args.handler
    try:
        return command(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"gatejumper: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR


# Commands --------------------------------------------------------------------


def check_config(args: argparse.Namespace) -> int:
    """Validate the config (and its secrets unless --dry-run); print one summary line."""
    path = Path(args.path)
    settings = _load(path, need_discord=not args.dry_run)
    if settings is None:
        return EXIT_USAGE
    print(summary(path, settings))
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Load the config, fail fast on missing secrets, then hand over to the app."""
    path = Path(args.config)
    settings = _load(path, need_discord=not args.dry_run)
    if settings is None:
        return EXIT_USAGE
    from bot import app  # lazy: the app pulls in discord.py, SQLAlchemy, ...

    exit_code: int = asyncio.run(
        app.run(settings, dry_run=args.dry_run, once=args.once, config_path=path)
    )
    return exit_code


def preview(args: argparse.Namespace) -> int:
    """Show what Gatejumper would announce for one feed URL, without Discord or a database."""
    from bot import app  # lazy, as in run()

    result: Any = app.preview(args.url, limit=args.limit)
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return result if isinstance(result, int) else EXIT_OK


def summary(path: Path, settings: Settings) -> str:
    """The one line check-config prints for a good config (no secrets, masked database)."""
    count = len(settings.blogs)
    blogs = f"{count} blog{'' if count == 1 else 's'}"
    if settings.blogs:
        blogs += " (" + ", ".join(f"{b.name}: {b.platform}" for b in settings.blogs) + ")"
    return f"{path}: OK — {blogs}, database {redact_database_url(settings.database)}"


def _load(path: Path, *, need_discord: bool) -> Settings | None:
    """Settings, or None after printing every problem (config and secrets) to stderr."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        _report(exc.problems)
        return None
    problems = missing_secrets(settings, os.environ, need_discord=need_discord)
    if not problems:
        return settings
    _report(problems)
    if need_discord and any(p.key == "discord.token_env" for p in problems):
        name = settings.discord.token_env
        print(
            f"gatejumper: the Discord bot token is missing: run `export {name}=...`, "
            f"or put the line {name}=... in {path.parent / '.env'} (keep that file out of git), "
            "or use --dry-run to work without Discord",
            file=sys.stderr,
        )
    return None


def _report(problems: Sequence[Problem]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)


# Plumbing ----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging; tracebacks on errors"
    )
    parser = argparse.ArgumentParser(
        prog="gatejumper",
        description="Bridge a blog's comment section and a Discord server, both ways.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(command=None, verbose=False)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    check = commands.add_parser(
        "check-config", parents=[common], help="validate a config file and its secrets"
    )
    check.add_argument("path", nargs="?", default="config.yaml", help="default: config.yaml")
    check.add_argument("--dry-run", action="store_true", help="do not require the Discord token")
    check.set_defaults(command="check-config", handler=check_config)

    start = commands.add_parser("run", parents=[common], help="run the bridge")
    start.add_argument(
        "--config", default="config.yaml", metavar="PATH", help="default: config.yaml"
    )
    start.add_argument(
        "--dry-run", action="store_true", help="poll and print events instead of posting to Discord"
    )
    start.add_argument("--once", action="store_true", help="poll every blog once, then exit")
    start.set_defaults(command="run", handler=run)

    show = commands.add_parser("preview", parents=[common], help="show what a feed would announce")
    show.add_argument("url", type=_http_url, help="an http(s) feed or blog URL")
    show.add_argument("--limit", type=_positive_int, default=3, metavar="N", help="default: 3")
    show.set_defaults(command="preview", handler=preview)
    return parser


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise argparse.ArgumentTypeError(f"expected an http:// or https:// URL, got {text!r}")
    return text


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _setup_logging(*, verbose: bool) -> None:
    """Concise logs to stderr; leaves handlers alone if the host (e.g. pytest) installed some."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
            )
        )
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # Libraries that narrate routine work at INFO (migrations, HTTP, the gateway) speak up
    # only when something is wrong, unless -v asks for everything.
    for noisy in ("alembic", "aiosqlite", "apscheduler", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


if __name__ == "__main__":
    raise SystemExit(main())
