"""A real Isso comment server for tests: start it, drive it, stop it.

Isso runs as a subprocess (``isso -c isso.cfg run``) on a loopback port with
its own SQLite file, so tests exercise the same HTTP API a blog's readers use.
Observed in Isso 0.14 (and relied on by the tests):

* a reply to a reply is stored with ``parent`` = the top-level comment
  (``Comments.add`` walks up to the root), so Isso keeps one nesting level;
* deleting a comment that has replies keeps a placeholder with ``mode`` 4,
  empty text and no author; deleting a leaf removes it (and any placeholder
  left without replies);
* ``GET /?uri=`` of a thread without comments answers 200 with no replies;
* the Atom feed's ETag names the newest top-level comment only, so new
  replies and edits are answered 304 to a conditional GET.

Run ``python -m tests.isso capture`` to regenerate ``tests/data/isso``.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SEED_THREAD = REPO_ROOT.parent / "shared" / "seed" / "thread.json"
DATA_DIR = REPO_ROOT / "tests" / "data" / "isso"
SEED_URI = "/2009/03/social-media-is-difficult-like-intimacy/"
CAPTURE_BLOG_URL = "http://blog.example/"


class IssoError(RuntimeError):
    """Isso could not be started or answered a request with an error."""


def free_port() -> int:
    """An ephemeral loopback port that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def isso_command() -> list[str]:
    """The ``isso`` console script next to this interpreter, else its entry point.

    (Isso 0.14 has no ``__main__``, so ``python -m isso`` does not work.)
    """
    script = Path(sys.executable).with_name("isso")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from isso import main; sys.exit(main())"]


def _config_text(
    dbpath: Path,
    port: int,
    blog_url: str,
    moderation: bool,
    admin_password: str,
    *,
    max_age: str = "1h",
    guard: bool = False,
) -> str:
    return f"""\
[general]
dbpath = {dbpath}
host = {blog_url}
latest-enabled = true
notify = stdout
max-age = {max_age}

[admin]
enabled = {"true" if moderation else "false"}
password = {admin_password}

[moderation]
enabled = {"true" if moderation else "false"}

[guard]
enabled = {"true" if guard else "false"}
ratelimit = 2
direct-reply = 3
reply-to-self = false

[rss]
base = {blog_url}
limit = 100

[server]
listen = http://127.0.0.1:{port}/
"""


@dataclass
class IssoResponse:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class IssoServer:
    """A running Isso and the edit cookies of the comments this object created."""

    workdir: Path
    port: int
    blog_url: str
    moderation: bool
    process: subprocess.Popen[bytes]
    admin_password: str
    cookies: dict[int, str] = field(default_factory=dict)

    # --- lifecycle -------------------------------------------------------

    @classmethod
    def start(
        cls,
        workdir: Path,
        port: int | None = None,
        blog_base_url: str = CAPTURE_BLOG_URL,
        *,
        moderation: bool = False,
        max_age: str = "1h",
        guard: bool = False,
        timeout: float = 20.0,
    ) -> IssoServer:
        """Write ``isso.cfg`` in ``workdir``, run Isso and wait until it answers.

        ``max_age`` is how long edit cookies live (Isso's edit window, e.g. ``"2s"``);
        ``guard`` turns on Isso's spam guard with its default limits (2 comments a
        minute per address, 3 top-level comments per thread, no reply to one's own
        comment while it is editable).
        """
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        if not port_is_free(port):
            raise IssoError(f"cannot start Isso: port {port} on 127.0.0.1 is already in use")
        blog_url = blog_base_url if blog_base_url.endswith("/") else blog_base_url + "/"
        password = secrets.token_hex(8)
        config = workdir / "isso.cfg"
        config.write_text(
            _config_text(
                workdir / "comments.db",
                port,
                blog_url,
                moderation,
                password,
                max_age=max_age,
                guard=guard,
            )
        )
        log = (workdir / "isso.log").open("wb")
        env = {**os.environ, "TZ": "UTC", "PYTHONUNBUFFERED": "1"}
        env.pop("ISSO_SETTINGS", None)
        try:
            process = subprocess.Popen(
                [*isso_command(), "-c", str(config), "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise IssoError(
                f"cannot run Isso ({' '.join(isso_command())}): {exc}; run scripts/isso.sh"
            ) from exc
        finally:
            log.close()
        server = cls(workdir, port, blog_url, moderation, process, password)
        server._wait_ready(timeout)
        return server

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise IssoError(f"Isso exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "info", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        self.stop()
        raise IssoError(
            f"Isso did not answer on {self.url} within {timeout:g}s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Terminate Isso (its own process group) and wait for it."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def __enter__(self) -> IssoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        path = self.workdir / "isso.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    # --- addresses -------------------------------------------------------

    @property
    def url(self) -> str:
        """Isso's base URL, with a trailing slash."""
        return f"http://127.0.0.1:{self.port}/"

    def post_url(self, uri: str) -> str:
        """The blog page of thread ``uri`` (what Isso links comments to)."""
        return self.blog_url.rstrip("/") + uri

    # --- HTTP ------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        payload: Any = None,
        form: dict[str, str] | None = None,
        cookies: dict[str, str] | None = None,
    ) -> IssoResponse:
        """One request to Isso; never raises on an HTTP status."""
        url = self.url + path.lstrip("/")
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers: dict[str, str] = {}
        data: bytes | None = None
        if payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=10) as resp:
                return IssoResponse(resp.status, _headers(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return IssoResponse(err.code, _headers(err.headers), err.read())

    def _checked(self, resp: IssoResponse, what: str, *ok: int) -> IssoResponse:
        if resp.status not in ok:
            raise IssoError(f"{what}: HTTP {resp.status}: {resp.body[:300]!r}")
        return resp

    def _keep_cookie(self, comment_id: int, resp: IssoResponse) -> None:
        for header in resp.headers.get("set-cookie", []):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            if str(comment_id) in jar:
                self.cookies[comment_id] = jar[str(comment_id)].value

    # --- comments --------------------------------------------------------

    def new_comment(
        self,
        uri: str,
        text: str,
        author: str | None,
        email: str | None = None,
        website: str | None = None,
        parent: int | None = None,
        *,
        title: str | None = None,
    ) -> dict[str, Any]:
        """POST /new; returns Isso's JSON for the comment and keeps its edit cookie."""
        payload = {
            "text": text,
            "author": author,
            "email": email,
            "website": website,
            "parent": parent,
            "title": title or f"Thread {uri}",
        }
        resp = self.request("POST", "new", params={"uri": uri}, payload=payload)
        comment: dict[str, Any] = self._checked(resp, f"new comment on {uri}", 201, 202).json()
        self._keep_cookie(int(comment["id"]), resp)
        return comment

    def _cookie_for(self, comment_id: int) -> dict[str, str]:
        try:
            return {str(comment_id): self.cookies[comment_id]}
        except KeyError:
            raise IssoError(
                f"no edit cookie for comment {comment_id}: it was not created here"
            ) from None

    def edit_comment(self, comment_id: int, text: str, author: str | None = None) -> dict[str, Any]:
        """PUT /id/N with the edit cookie from /new (Isso re-issues it)."""
        payload: dict[str, Any] = {"text": text}
        if author is not None:
            payload["author"] = author
        resp = self.request(
            "PUT", f"id/{comment_id}", payload=payload, cookies=self._cookie_for(comment_id)
        )
        comment: dict[str, Any] = self._checked(resp, f"edit comment {comment_id}", 200).json()
        self._keep_cookie(comment_id, resp)
        return comment

    def delete_comment(self, comment_id: int) -> dict[str, Any] | None:
        """DELETE /id/N; returns the mode-4 placeholder when replies keep it alive, else None."""
        resp = self.request(
            "DELETE", f"id/{comment_id}", payload={}, cookies=self._cookie_for(comment_id)
        )
        result: dict[str, Any] | None = self._checked(
            resp, f"delete comment {comment_id}", 200
        ).json()
        self.cookies.pop(comment_id, None)
        return result

    def activate(self, comment_id: int) -> None:
        """Publish a comment waiting in moderation (mode 2), the way the admin page does."""
        if not self.moderation:
            raise IssoError("activate needs a server started with moderation=True")
        key = self._moderation_key(comment_id)
        resp = self.request("POST", f"id/{comment_id}/activate/{key}")
        self._checked(resp, f"activate comment {comment_id}", 200)

    def _moderation_key(self, comment_id: int) -> str:
        login = self.request("POST", "login/", form={"password": self.admin_password})
        session = _cookie_value(login, "admin-session")
        if session is None:
            raise IssoError(f"admin login failed: HTTP {login.status}")
        page = self.request("GET", "admin/", params={"mode": 2}, cookies={"admin-session": session})
        keys = _AdminKeys.read(self._checked(page, "admin page", 200).body.decode())
        try:
            return keys[comment_id]
        except KeyError:
            raise IssoError(f"comment {comment_id} is not waiting in moderation") from None

    # --- listings --------------------------------------------------------

    def thread(self, uri: str, **params: str | int) -> dict[str, Any]:
        resp = self.request("GET", "", params={"uri": uri, **params})
        result: dict[str, Any] = self._checked(resp, f"thread {uri}", 200).json()
        return result

    def latest(self, limit: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._checked(
            self.request("GET", "latest", params={"limit": limit}), "latest", 200
        ).json()
        return result

    def feed(self, uri: str) -> bytes:
        return self._checked(
            self.request("GET", "feed", params={"uri": uri}), f"feed {uri}", 200
        ).body

    # --- the seed --------------------------------------------------------

    def load_seed(self, thread_json_path: Path | str, uri: str) -> SeededThread:
        """Post the seed's comments (pingbacks left out) in page order, parents mapped."""
        seed = load_seed_file(thread_json_path)
        ids: dict[int, int] = {}
        stored: dict[int, dict[str, Any]] = {}
        for comment in seed["comments"]:
            if comment["type"] != "comment":
                continue
            parent_index = comment["parent_index"]
            created = self.new_comment(
                uri,
                "\n\n".join(comment["paragraphs"]),
                comment["author"],
                email=seed_email(comment["author"]),
                parent=ids[parent_index] if parent_index is not None else None,
                title=seed["post"]["title"],
            )
            ids[comment["index"]] = int(created["id"])
            stored[comment["index"]] = created
        return SeededThread(self, uri, self.post_url(uri), seed, ids, stored)


@dataclass
class SeededThread:
    """The seed thread as loaded into one Isso: seed index ↔ Isso id."""

    server: IssoServer
    uri: str
    post_url: str
    seed: dict[str, Any]
    ids: dict[int, int]
    created: dict[int, dict[str, Any]]

    def true_parent(self, index: int) -> int | None:
        """The Isso id of the comment this seed comment really answers."""
        parent = self.seed["comments"][index]["parent_index"]
        return None if parent is None else self.ids[parent]

    def isso_parent(self, index: int) -> int | None:
        """The parent Isso stores: the top-level ancestor (one nesting level only)."""
        parent = self.seed["comments"][index]["parent_index"]
        while parent is not None and self.seed["comments"][parent]["parent_index"] is not None:
            parent = self.seed["comments"][parent]["parent_index"]
        return None if parent is None else self.ids[parent]

    def index_of(self, comment_id: int) -> int:
        return next(index for index, value in self.ids.items() if value == comment_id)


def load_seed_file(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise IssoError(f"seed thread not found at {path} (CI expects ../shared/seed/thread.json)")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def seed_email(author: str) -> str:
    """A stable fake address per seed author, so Isso's author hashes differ."""
    slug = re.sub(r"[^a-z0-9]+", ".", author.lower()).strip(".") or "anonymous"
    return f"{slug}@seed.invalid"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _headers(message: Any) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in message.items():
        result.setdefault(name.lower(), []).append(value)
    return result


def _cookie_value(resp: IssoResponse, name: str) -> str | None:
    for header in resp.headers.get("set-cookie", []):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if name in jar:
            return jar[name].value
    return None


class _AdminKeys(html.parser.HTMLParser):
    """Moderation keys from the admin page's ``validate_com(id, 'key', ...)`` links."""

    _CALL = re.compile(r"validate_com\((\d+),\s*'([^']+)'")

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[int, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "onclick" and value and (match := self._CALL.search(value)):
                self.keys[int(match.group(1))] = match.group(2)

    @classmethod
    def read(cls, page: str) -> dict[int, str]:
        parser = cls()
        parser.feed(page)
        return parser.keys


# --- capture -------------------------------------------------------------

CHANGED_URI = "/2009/03/social-media-is-difficult-like-intimacy-changed/"


def capture(out_dir: Path = DATA_DIR, seed_path: Path = SEED_THREAD) -> None:
    """Seed a fresh Isso and save its real answers as test data (see README there)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="isso-capture-") as tmp,
        IssoServer.start(Path(tmp)) as server,
    ):
        seeded = server.load_seed(seed_path, SEED_URI)
        _write_json(out_dir / "thread.json", server.thread(SEED_URI))
        _write_json(out_dir / "thread_nested_limit_1.json", server.thread(SEED_URI, nested_limit=1))
        _write_json(out_dir / "latest.json", server.latest(5))
        (out_dir / "feed.atom").write_bytes(server.feed(SEED_URI))
        _write_json(out_dir / "empty_thread.json", server.thread("/no-comments-here/"))
        changed = server.load_seed(seed_path, CHANGED_URI)
        changes = _apply_changes(server, changed)
        _write_json(out_dir / "thread_changed.json", server.thread(CHANGED_URI))
        (out_dir / "feed_changed.atom").write_bytes(server.feed(CHANGED_URI))
        version = server.request("GET", "info").json()["version"]
        _write_json(
            out_dir / "manifest.json",
            {
                "isso_version": version,
                "blog_url": server.blog_url,
                "uri": SEED_URI,
                "post_url": seeded.post_url,
                "ids": {str(k): v for k, v in seeded.ids.items()},
                "true_parent": {str(k): seeded.true_parent(k) for k in seeded.ids},
                "isso_parent": {str(k): seeded.isso_parent(k) for k in seeded.ids},
                "changed": {"uri": CHANGED_URI, "post_url": changed.post_url, **changes},
            },
        )


def _apply_changes(server: IssoServer, thread: SeededThread) -> dict[str, Any]:
    """Edit one comment, delete a leaf and a comment with replies, add one."""
    edited = thread.ids[10]
    server.edit_comment(edited, "Edited: thank you for this post.")
    leaf = thread.ids[12]
    server.delete_comment(leaf)
    with_replies = thread.ids[13]
    server.delete_comment(with_replies)
    added = server.new_comment(
        thread.uri, "A late reply & <b>markup</b>.", "Late & Co", parent=thread.ids[0]
    )
    return {
        "edited": edited,
        "deleted_leaf": leaf,
        "deleted_with_replies": with_replies,
        "added": int(added["id"]),
    }


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv[:1] == ["capture"]:
        out = Path(argv[1]) if len(argv) > 1 else DATA_DIR
        capture(out)
        print(f"captured Isso data into {out}")
        return 0
    if argv[:1] == ["check"]:
        with tempfile.TemporaryDirectory() as tmp, IssoServer.start(Path(tmp)) as server:
            print(f"Isso {server.request('GET', 'info').json()['version']} answers on {server.url}")
        return 0
    print("usage: python -m tests.isso capture [DIR] | check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except IssoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
