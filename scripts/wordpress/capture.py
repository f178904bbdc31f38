"""Capture what a real WordPress serves for the seed thread into tests/data/wordpress/.

    .venv/bin/python scripts/wordpress/capture.py [--out tests/data/wordpress]

Provisions a throwaway WordPress (tests/wp.py), loads the seed with fixed dates,
fetches its feeds and REST listings the way Gatejumper asks for them, rewrites
``http://127.0.0.1:<port>`` to ``https://modite.example`` and writes the files plus
``captured.json`` (what was requested, status, type and the headers that matter).
Running it again gives the same bytes, so a diff shows what a WordPress change did.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot.feeds.sources.wordpress import (  # noqa: E402
    WordPressCommentsSource,
    WordPressPostsSource,
    route_url,
)
from tests.wp import WordPress, WordPressError, WpUser  # noqa: E402

SEED_START = datetime(2009, 9, 21, 13, 5, tzinfo=UTC)
LISTING_AFTER = datetime(2009, 9, 1, tzinfo=UTC)
PUBLIC_URL = "https://modite.example"
HEADERS_KEPT = ("Content-Type", "Link", "X-WP-Total", "X-WP-TotalPages", "Last-Modified", "ETag")
INDEX_FIELDS = "name,description,url,home,gmt_offset,timezone_string,namespaces,authentication"


def requests(wordpress: WordPress) -> dict[str, tuple[str, WpUser | None]]:
    """File name → (URL, user to authenticate as)."""
    assert wordpress.seed is not None
    root = wordpress.api_root
    comments = WordPressCommentsSource(root)
    return {
        "home.html": (wordpress.url + "/", None),
        "posts-rss.xml": (wordpress.url + "/feed/", None),
        "posts-atom.xml": (wordpress.url + "/feed/atom/", None),
        "comments-rss.xml": (wordpress.url + "/comments/feed/", None),
        "post-comments-rss.xml": (wordpress.seed.post_url + "feed/", None),
        "rest-index.json": (route_url(root, "", {"_fields": INDEX_FIELDS}), None),
        "rest-posts.json": (WordPressPostsSource(root).url, None),
        "rest-comments.json": (comments.listing_url("comment", LISTING_AFTER), None),
        "rest-pingbacks.json": (comments.listing_url("pingback", LISTING_AFTER), wordpress.bot),
        "rest-trackbacks.json": (comments.listing_url("trackback", LISTING_AFTER), wordpress.bot),
    }


def public(data: bytes, wordpress: WordPress) -> bytes:
    """Replace the test server's address by a stable public-looking one."""
    for local, shown in (
        (wordpress.url, PUBLIC_URL),
        (wordpress.url.replace("/", "\\/"), PUBLIC_URL.replace("/", "\\/")),
        (wordpress.host, PUBLIC_URL.split("//", 1)[1]),
        ("http://127.0.0.1/", PUBLIC_URL + "/"),  # WordPress's self_link() drops the port
    ):
        data = data.replace(local.encode(), shown.encode())
    return data


def capture(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="gatejumper-capture-") as workdir:
        with WordPress.provision(Path(workdir)) as wordpress:
            wordpress.set_option("posts_per_rss", 50)  # every seed comment in the comment feeds
            seed = wordpress.load_seed(start=SEED_START)
            out.mkdir(parents=True, exist_ok=True)
            manifest: dict[str, object] = {
                name: save(wordpress, url, user, out / name)
                for name, (url, user) in requests(wordpress).items()
            }
            manifest["seed"] = {
                "start": SEED_START.isoformat(),
                "post_id": seed.post_id,
                "comment_ids": {str(k): v for k, v in seed.comment_ids.items()},
            }
    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    (out / "captured.json").write_text(text, encoding="utf-8")
    print(f"captured {len(manifest) - 1} files into {out}")


def save(wordpress: WordPress, url: str, user: WpUser | None, target: Path) -> dict[str, object]:
    """Fetch one URL, write its body (JSON indented, for readable diffs), describe it."""
    status, headers, body = wordpress.get(url.removeprefix(wordpress.url), auth=user)
    if status != 200:
        raise WordPressError(f"{url} answered {status}: {body[:300]!r}")
    if target.suffix == ".json":
        body = json.dumps(json.loads(body), ensure_ascii=False, indent=1).encode() + b"\n"
    target.write_bytes(public(body, wordpress))
    kept = {k: v for k, v in headers.items() if k in HEADERS_KEPT}
    return {
        "url": public(url.encode(), wordpress).decode(),
        "as_user": user.login if user else None,
        "status": status,
        "headers": json.loads(public(json.dumps(kept).encode(), wordpress)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "wordpress")
    args = parser.parse_args()
    try:
        capture(args.out)
    except WordPressError as error:
        parser.exit(1, f"error: {error}\n")


if __name__ == "__main__":
    main()
