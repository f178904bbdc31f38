"""A real WordPress for tests: provision, start, drive and stop one instance.

Each instance is the Debian ``wordpress`` package served by ``php -S`` with its own
database, config and wp-content (see ``scripts/wordpress/``). Things the REST API
cannot do (installing, pingbacks, backdated comments, application passwords) go
through ``scripts/wordpress/helper.php``, which runs WordPress's own functions.

    python -m tests.wp serve [--port 8080] [--plain]   # a WordPress with the seed, until ^C

A test may take the blog down and bring it back: ``wordpress.stop()`` ends ``php -S``
(connections are refused at once, the database stays), ``wordpress.start()`` serves
the same database on the same port again, so clients built before keep working.
Tests that change discussion settings use ``set_moderation``, ``close_comments``,
``trash_post``, and check what the blog holds with ``comment`` and ``comments_of``,
which read the database through helper.php, not the REST client under test.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts" / "wordpress"
SETUP_SCRIPT = REPO / "scripts" / "wordpress.sh"
SEED_THREAD = REPO.parent / "shared" / "seed" / "thread.json"
WP_ROOT = Path(os.environ.get("GATEJUMPER_WP_ROOT", "/usr/share/wordpress"))
FEATURED_IMAGE = SCRIPTS / "gatejumper-featured.png"
PRETTY_PERMALINKS = "/%year%/%monthnum%/%postname%/"
DATABASE_PREFIX = "gjwp_"
RUN_DIR = Path(tempfile.gettempdir()) / "gatejumper-wordpress"  # who runs which server


class WordPressError(RuntimeError):
    """Provisioning or driving the test WordPress failed; the message says how."""


@dataclass(frozen=True, slots=True)
class DatabaseLogin:
    """The MariaDB account test databases are created with (see scripts/wordpress.sh)."""

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "gatejumper"
    password: str = "gatejumper"

    @classmethod
    def from_env(cls) -> DatabaseLogin:
        env = os.environ
        return cls(
            host=env.get("GATEJUMPER_WP_DB_HOST", "127.0.0.1"),
            port=int(env.get("GATEJUMPER_WP_DB_PORT", "3306")),
            user=env.get("GATEJUMPER_WP_DB_USER", "gatejumper"),
            password=env.get("GATEJUMPER_WP_DB_PASSWORD", "gatejumper"),
        )


@dataclass(frozen=True, slots=True)
class WpUser:
    """A WordPress user and the application password the tests log in with."""

    login: str
    user_id: int
    role: str
    display_name: str
    email: str
    app_password: str

    def basic_auth(self) -> tuple[str, str]:
        """For REST calls as this user (``Fetcher.get(..., auth=...)``)."""
        return (self.login, self.app_password)


@dataclass(frozen=True, slots=True)
class Seed:
    """Ids of the seed thread once it is loaded into a WordPress."""

    post_id: int
    post_url: str
    comment_ids: Mapping[int, int]  # seed index -> WordPress comment id
    thread: Mapping[str, Any] = field(repr=False)

    def comment_key(self, index: int) -> str:
        return f"comment-{self.comment_ids[index]}"

    @property
    def post_key(self) -> str:
        return f"post-{self.post_id}"


USERS: tuple[tuple[str, str, str], ...] = (
    # login, role, display name
    ("admin", "administrator", "Site Admin"),
    ("rebecca", "author", "Rebecca Healy"),
    ("gatejumper", "editor", "Gatejumper Bot"),
)


_ready = False


def ensure_installed() -> None:
    """Make sure packages, MariaDB and the Debian host config are there; install if not.

    Once per process; also cleans up after test sessions that were killed.
    """
    global _ready
    if _ready:
        return
    if _setup("check").returncode != 0:
        result = _setup("install")
        if result.returncode != 0:
            raise WordPressError(
                "cannot provide the test WordPress: `scripts/wordpress.sh install` failed:\n"
                + result.stderr.strip()
            )
    reap_leftovers(DatabaseLogin.from_env())
    _ready = True


def reap_leftovers(db: DatabaseLogin) -> None:
    """Stop servers and drop databases of test processes that died without cleaning up."""
    for record in RUN_DIR.glob("*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            info = json.loads(record.read_text(encoding="utf-8"))
            if not _alive(int(info["owner"])):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(info["pgid"]), signal.SIGKILL)
                record.unlink()
    if db.host not in ("127.0.0.1", "localhost", "::1"):
        return  # another machine's sessions may use that server: their pids mean nothing here
    for name in mysql(db, f"SHOW DATABASES LIKE '{DATABASE_PREFIX}%'").split():
        match = re.fullmatch(rf"{DATABASE_PREFIX}(\d+)_[0-9a-f]+", name)
        if match and not _alive(int(match.group(1))):
            mysql(db, f"DROP DATABASE IF EXISTS `{name}`")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mysql(db: DatabaseLogin, sql: str) -> str:
    """Run one SQL statement through PHP's mysqli; return the first column, one row per line."""
    code = (
        "mysqli_report(MYSQLI_REPORT_OFF);"
        "$db = @mysqli_connect(getenv('GJ_HOST'), getenv('GJ_USER'), getenv('GJ_PASSWORD'),"
        " '', (int) getenv('GJ_PORT'));"
        "if (!$db) { fwrite(STDERR, mysqli_connect_error()); exit(1); }"
        "$result = $db->query(getenv('GJ_SQL'));"
        "if (!$result) { fwrite(STDERR, $db->error); exit(1); }"
        "if ($result instanceof mysqli_result) {"
        ' foreach ($result->fetch_all() as $row) { echo $row[0], "\\n"; } }'
    )
    env = {
        **os.environ,
        "GJ_HOST": db.host,
        "GJ_PORT": str(db.port),
        "GJ_USER": db.user,
        "GJ_PASSWORD": db.password,
        "GJ_SQL": sql,
    }
    result = subprocess.run(
        ["php", "-r", code], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise WordPressError(
            f"MariaDB at {db.host}:{db.port} as {db.user}: {sql}: {result.stderr.strip()}"
        )
    return result.stdout


def _setup(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SETUP_SCRIPT), command],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unique_database_name() -> str:
    return f"{DATABASE_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"


def _php_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class WordPress:
    """One running test WordPress at ``http://127.0.0.1:<port>``."""

    def __init__(self, workdir: Path, port: int, db_name: str, db: DatabaseLogin) -> None:
        self.workdir = workdir
        self.port = port
        self.db_name = db_name
        self.db = db
        self.users: dict[str, WpUser] = {}
        self.pretty_permalinks = True
        self.seed: Seed | None = None  # the last seed loaded into this instance
        self._server: subprocess.Popen[bytes] | None = None

    # -- provisioning -------------------------------------------------------------

    @classmethod
    def provision(
        cls,
        workdir: Path,
        port: int | None = None,
        db_name: str | None = None,
        *,
        pretty_permalinks: bool = True,
        db: DatabaseLogin | None = None,
        start: bool = True,
    ) -> WordPress:
        """Create a database and config, install WordPress and its users, start the server."""
        ensure_installed()
        wordpress = cls(
            workdir,
            port or free_port(),
            db_name or unique_database_name(),
            db or DatabaseLogin.from_env(),
        )
        wordpress._write_instance()
        wordpress._create_database()
        try:
            wordpress._install(pretty_permalinks)
            if start:
                wordpress.start()
        except BaseException:
            wordpress.close()
            raise
        return wordpress

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def api_root(self) -> str:
        """The REST root as WordPress itself advertises it."""
        return (
            f"{self.url}/wp-json/"
            if self.pretty_permalinks
            else f"{self.url}/index.php?rest_route=/"
        )

    @property
    def admin(self) -> WpUser:
        return self.users["admin"]

    @property
    def author(self) -> WpUser:
        return self.users["rebecca"]

    @property
    def bot(self) -> WpUser:
        return self.users["gatejumper"]

    @property
    def config_path(self) -> Path:
        return self.workdir / "wp-config.php"

    @property
    def content_dir(self) -> Path:
        return self.workdir / "wp-content"

    def _write_instance(self) -> None:
        themes = self.content_dir / "themes"
        for folder in (themes, self.content_dir / "plugins", self.content_dir / "uploads"):
            folder.mkdir(parents=True, exist_ok=True)
        theme = themes / "gatejumper"
        if not theme.exists():
            theme.symlink_to(SCRIPTS / "theme", target_is_directory=True)
        self.config_path.write_text(self._config_php(), encoding="utf-8")

    def _config_php(self) -> str:
        constants = {
            "DB_NAME": self.db_name,
            "DB_USER": self.db.user,
            "DB_PASSWORD": self.db.password,
            "DB_HOST": f"{self.db.host}:{self.db.port}",
            "DB_CHARSET": "utf8mb4",
            "DB_COLLATE": "",
            "WP_HOME": self.url,
            "WP_SITEURL": self.url,
            "WP_CONTENT_DIR": str(self.content_dir),
            "WP_CONTENT_URL": f"{self.url}/wp-content",
            "WP_ENVIRONMENT_TYPE": "local",
            "WP_DEFAULT_THEME": "gatejumper",
        }
        for name in ("AUTH", "SECURE_AUTH", "LOGGED_IN", "NONCE"):
            constants[f"{name}_KEY"] = secrets.token_hex(32)
            constants[f"{name}_SALT"] = secrets.token_hex(32)
        lines = ["<?php", "/* One Gatejumper test WordPress; written by tests/wp.py. */"]
        lines += [f"define('{name}', {_php_string(value)});" for name, value in constants.items()]
        lines += [
            "define('DISABLE_WP_CRON', true);",
            "define('AUTOMATIC_UPDATER_DISABLED', true);",
            "define('WP_HTTP_BLOCK_EXTERNAL', true);",
            "define('WP_ALLOW_MULTISITE', false);",
            "define('WP_DEBUG', false);",
            "$table_prefix = 'wp_';",
            "",
        ]
        return "\n".join(lines)

    def _create_database(self) -> None:
        self._database_sql(f"CREATE DATABASE IF NOT EXISTS `{self.db_name}` CHARACTER SET utf8mb4")

    def drop_database(self) -> None:
        self._database_sql(f"DROP DATABASE IF EXISTS `{self.db_name}`")

    def _database_sql(self, sql: str) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_]+", self.db_name):
            raise WordPressError(f"unsafe database name: {self.db_name!r}")
        mysql(self.db, sql)

    def _install(self, pretty_permalinks: bool) -> None:
        commands: list[dict[str, Any]] = [
            {
                "op": "install",
                "title": "Modite",
                "description": "Meaningful work, and enjoying the heck out of it",
                "admin_login": "admin",
                "admin_email": "admin@modite.example",
                "admin_password": secrets.token_urlsafe(16),
            },
            {
                "op": "set_option",
                "name": "permalink_structure",
                "value": PRETTY_PERMALINKS if pretty_permalinks else "",
            },
        ]
        for login, role, display_name in USERS:
            email = f"{login}@modite.example"
            commands.append(
                {
                    "op": "create_user",
                    "login": login,
                    "role": role,
                    "display_name": display_name,
                    "email": email,
                }
            )
        results = self.run(commands)
        self.pretty_permalinks = pretty_permalinks
        for (login, role, display_name), created in zip(USERS, results[2:], strict=True):
            self.users[login] = WpUser(
                login,
                created["user_id"],
                role,
                display_name,
                f"{login}@modite.example",
                created["app_password"],
            )

    # -- the server -----------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "GATEJUMPER_WP_CONFIG": str(self.config_path),
            "GATEJUMPER_WP_CONTENT": str(self.content_dir),
            "GATEJUMPER_WP_HOST": self.host,
            "GATEJUMPER_WP_ROOT": str(WP_ROOT),
        }

    def start(self, timeout: float = 15.0) -> None:
        """Start ``php -S`` (several workers, so concurrent requests work) and wait for it.

        Always on ``self.port``, so after :meth:`stop` the blog comes back where its
        clients expect it; a port still busy (another process took it meanwhile) is
        retried until ``timeout``, then a WordPressError. Does nothing if running.
        """
        if self._server is not None:
            return
        deadline = time.monotonic() + timeout
        while not _port_is_free(self.port):
            if time.monotonic() > deadline:
                raise WordPressError(f"port {self.port} stays busy: cannot start {self.url}")
            time.sleep(0.1)
        log = (self.workdir / "server.log").open("ab")
        env = {**self._env(), "PHP_CLI_SERVER_WORKERS": "4"}
        command = ["php", "-S", self.host, "-t", str(WP_ROOT), str(SCRIPTS / "router.php")]
        self._server = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # the workers share its process group: stop() ends them all
        )
        log.close()
        self._register(self._server.pid)
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                self.stop()
                raise WordPressError(f"php -S stopped at once; see {self.workdir / 'server.log'}")
            if self._answers():
                return
            time.sleep(0.05)
        self.stop()
        raise WordPressError(f"WordPress at {self.url} did not answer within {timeout:.0f} s")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/", timeout=2) as response:
                response.read()
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    def _register(self, pgid: int) -> None:
        """Note who owns the server, so reap_leftovers() can end it if we are killed."""
        RUN_DIR.mkdir(exist_ok=True)
        record = {"owner": os.getpid(), "pgid": pgid, "database": self.db_name}
        (RUN_DIR / f"{self.db_name}.json").write_text(json.dumps(record), encoding="utf-8")

    @property
    def running(self) -> bool:
        """Whether ``php -S`` is serving (False between :meth:`stop` and :meth:`start`)."""
        return self._server is not None

    def stop(self) -> None:
        """End ``php -S`` and its workers (the database stays): the blog is down.

        Returns once the port refuses connections; :meth:`start` brings it back.
        """
        server, self._server = self._server, None
        if server is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, sig)
            try:
                server.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # a worker that outlived its parent
        deadline = time.monotonic() + 5
        while not _port_is_free(self.port) and time.monotonic() < deadline:
            time.sleep(0.02)
        (RUN_DIR / f"{self.db_name}.json").unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the server and drop the database (the workdir is the caller's)."""
        self.stop()
        self.drop_database()

    def __enter__(self) -> WordPress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- driving it -----------------------------------------------------------------

    def run(self, commands: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Run a batch of helper.php commands in one PHP process; return their results."""
        result = subprocess.run(
            ["php", str(SCRIPTS / "helper.php")],
            input=json.dumps({"commands": list(commands)}),
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        try:
            answer = json.loads(result.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            raise WordPressError(
                f"helper.php gave no answer (exit {result.returncode}): "
                + result.stdout[-2000:]
                + result.stderr[-2000:]
            ) from None
        if "error" in answer:
            raise WordPressError(f"helper.php: {answer['error']}\n{result.stderr[-2000:]}")
        results: list[Any] = answer["results"]
        return results

    def php(self, code: str) -> Any:
        """Evaluate PHP inside WordPress (``return`` a JSON-able value)."""
        return self.run([{"op": "eval", "code": code}])[0]

    def create_post(
        self,
        title: str,
        html: str,
        author: str = "rebecca",
        categories: Sequence[str] = (),
        date: datetime | None = None,
        *,
        excerpt: str = "",
        image: Path | None = None,
        status: str = "publish",
    ) -> int:
        command = {
            "op": "create_post",
            "title": title,
            "content": html,
            "author": author,
            "categories": list(categories),
            "date_gmt": _mysql_gmt(date or datetime.now(UTC)),
            "excerpt": excerpt,
            "status": status,
            "image": str(image) if image else None,
        }
        post_id: int = self.run([command])[0]["post_id"]
        return post_id

    def create_comment(
        self,
        post_id: int,
        author_name: str,
        email: str,
        html: str,
        parent: int = 0,
        date: datetime | None = None,
        type: str = "comment",
        status: str = "approved",
        *,
        author_url: str = "",
        user: str | None = None,
    ) -> int:
        comment = {
            "post_id": post_id,
            "author": author_name,
            "email": email,
            "url": author_url,
            "content": html,
            "parent": parent,
            "date_gmt": _mysql_gmt(date or datetime.now(UTC)),
            "type": type,
            "status": status,
            "user": user,
        }
        return self.create_comments([comment])[0]

    def create_comments(self, comments: Sequence[Mapping[str, Any]]) -> list[int]:
        """Insert comments in one PHP run; ``parent_ref`` names an earlier one by position."""
        ids: list[int] = self.run([{"op": "create_comments", "comments": list(comments)}])[0]["ids"]
        return ids

    def set_comment_status(self, comment_id: int, status: str) -> str:
        """``hold``, ``spam``, ``trash`` or ``approve``; returns WordPress's new status."""
        new_status: str = self.run(
            [{"op": "set_comment_status", "id": comment_id, "status": status}]
        )[0]["status"]
        return new_status

    def edit_comment(self, comment_id: int, html: str) -> None:
        self.run([{"op": "edit_comment", "id": comment_id, "content": html}])

    def delete_comment(self, comment_id: int) -> None:
        self.run([{"op": "delete_comment", "id": comment_id}])

    def set_option(self, name: str, value: Any) -> Any:
        result = self.run([{"op": "set_option", "name": name, "value": value}])[0]["value"]
        if name == "permalink_structure":
            self.pretty_permalinks = bool(value)
        return result

    def close_comments(self, post_id: int) -> None:
        """Close comments on one post (its "Allow comments" box unticked)."""
        self.php(f"return wp_update_post(['ID' => {int(post_id)}, 'comment_status' => 'closed']);")

    def trash_post(self, post_id: int) -> None:
        """Move a post to the trash, the way "Move to Trash" does."""
        self.php(f"return (bool) wp_trash_post({int(post_id)});")

    def set_moderation(self, on: bool, *, previously_approved: bool | None = None) -> None:
        """Hold comments for a moderator ("Comment must be manually approved") or not.

        ``previously_approved`` ("Comment author must have a previously approved
        comment") follows ``on`` unless given. Comments by a moderator, or by the
        post's author on their post, are approved whatever these say.
        """
        also = on if previously_approved is None else previously_approved
        self.run(
            [
                {"op": "set_option", "name": "comment_moderation", "value": int(on)},
                {"op": "set_option", "name": "comment_previously_approved", "value": int(also)},
            ]
        )

    def comment(self, comment_id: int) -> dict[str, Any]:
        """One comment as the database holds it (see :meth:`comments_of`); any status.

        Raises WordPressError when there is no such comment (deleted for good).
        """
        found = self.run([{"op": "comments", "ids": [int(comment_id)]}])[0]
        if not found:
            raise WordPressError(f"no comment {comment_id} in {self.db_name}")
        comment: dict[str, Any] = found[0]
        return comment

    def comments_of(self, post_id: int) -> list[dict[str, Any]]:
        """All comments of a post, in id order, whatever their status (spam, trash too).

        Each is ``{"id", "post_id", "parent", "user_id", "author", "author_email",
        "content", "status", "date_gmt"}``, ids as ints, ``status`` one of
        ``approved``, ``hold``, ``spam``, ``trash`` (the names BlogComment uses),
        read with SQL, not through the REST API a test is checking.
        """
        comments: list[dict[str, Any]] = self.run([{"op": "comments", "post_id": int(post_id)}])[0]
        return comments

    def add_mu_plugin(self, name: str, php: str) -> Path:
        """Install a must-use plugin (PHP code without ``<?php``), e.g. to disable the REST API."""
        if not re.fullmatch(r"[a-z0-9-]+", name):
            raise WordPressError(f"unsafe plugin name: {name!r}")
        folder = self.content_dir / "mu-plugins"
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.php"
        path.write_text(f"<?php\n{php}\n", encoding="utf-8")
        return path

    def load_seed(self, thread_path: Path = SEED_THREAD, *, start: datetime | None = None) -> Seed:
        """Create the seed post and its 36 comments (page order, increasing dates, real parents)."""
        thread = json.loads(thread_path.read_text(encoding="utf-8"))
        start = (start or datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
        post = thread["post"]
        created = self.run([_seed_post_command(post, start)])[0]
        comments = [_seed_comment(created["post_id"], c, start) for c in thread["comments"]]
        ids = self.create_comments(comments)
        self.seed = Seed(created["post_id"], created["link"], dict(enumerate(ids)), thread)
        return self.seed

    def get(self, path: str, *, auth: WpUser | None = None) -> tuple[int, dict[str, str], bytes]:
        """A plain blocking GET against the instance (for setup checks, not the code under test)."""
        request = urllib.request.Request(self.url + path)
        if auth is not None:
            token = base64.b64encode(f"{auth.login}:{auth.app_password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers.items()), error.read()


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as php -S binds
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _mysql_gmt(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("dates given to the test WordPress must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "someone"


def _seed_post_command(post: Mapping[str, Any], start: datetime) -> dict[str, Any]:
    return {
        "op": "create_post",
        "title": post["title"],
        "content": "\n\n".join(post["paragraphs"]),
        "author": "rebecca",
        "categories": post["categories"],
        "date_gmt": _mysql_gmt(start),
        "image": str(FEATURED_IMAGE),
    }


def _seed_comment(post_id: int, comment: Mapping[str, Any], start: datetime) -> dict[str, Any]:
    """A seed comment as a helper.php comment; pingbacks come from the linking blog."""
    index = comment["index"]
    slug = _slug(comment["author"])
    is_ping = comment["type"] != "comment"
    by_post_author = comment["author"] == "Rebecca (Modite)"
    return {
        "post_id": post_id,
        "author": comment["author"],
        "email": ""
        if is_ping
        else ("rebecca@modite.example" if by_post_author else f"{slug}@example.com"),
        "url": f"https://{slug}.example/2009/10/post-{index}/" if is_ping else "",
        "content": "\n\n".join(comment["paragraphs"]),
        "parent_ref": comment["parent_index"],
        "date_gmt": _mysql_gmt(start + timedelta(minutes=7 * (index + 1))),
        "type": comment["type"],
        "status": "approved",
        "user": "rebecca" if by_post_author else None,
    }


@contextlib.contextmanager
def running_wordpress(
    workdir: Path, *, pretty_permalinks: bool = True, port: int | None = None
) -> Iterator[WordPress]:
    """Provision a WordPress for the duration of a ``with`` block."""
    wordpress = WordPress.provision(workdir, port, pretty_permalinks=pretty_permalinks)
    try:
        yield wordpress
    finally:
        wordpress.close()


def _serve(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir or (REPO / ".work" / "wordpress"))
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    with running_wordpress(workdir, pretty_permalinks=not args.plain, port=args.port) as wordpress:
        seed = wordpress.load_seed()
        print(
            f"WordPress at {wordpress.url} (REST root {wordpress.api_root}), "
            f"seed post {seed.post_url}"
        )
        for user in wordpress.users.values():
            print(f"  {user.login:<11} {user.role:<13} application password: {user.app_password}")
        print("Ctrl-C stops it and drops its database.")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.wp", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="run a WordPress with the seed thread until interrupted"
    )
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--plain", action="store_true", help="plain permalinks (?rest_route=)")
    serve.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            _serve(args)
    except WordPressError as error:
        parser.exit(1, f"error: {error}\n")


if __name__ == "__main__":
    main()
