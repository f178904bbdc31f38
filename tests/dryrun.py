"""Run ``gatejumper run --dry-run --once`` as a user would, and read what it printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_HEADER = re.compile(r"^── (?P<target>.*?)(?P<tags>(?: · [^·]+?)*) ──$")
_AUTHOR = re.compile(r"^author: (?P<name>.*?)(?:   \(reply to (?P<parent>[^)]+)\))?$")
_PART = re.compile(r"part (\d+)/(\d+)")
_COMMENT_LINK = re.compile(r"#(?:comment|isso)-(\d+)>?\)?\s*$", re.M)


@dataclass
class Block:
    """One printed message."""

    header: str
    tags: list[str]
    author: str | None = None
    reply_to: str | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def part(self) -> tuple[int, int]:
        for tag in self.tags:
            if match := _PART.fullmatch(tag):
                return int(match.group(1)), int(match.group(2))
        return 1, 1

    @property
    def is_post(self) -> bool:
        return "› new thread" in self.header

    @property
    def comment_id(self) -> str | None:
        match = _COMMENT_LINK.search(self.text)
        return match.group(1) if match else None


def parse_output(stdout: str) -> list[Block]:
    blocks: list[Block] = []
    for line in stdout.splitlines():
        header = _HEADER.match(line)
        if header:
            tags = [t.strip() for t in header.group("tags").split(" · ") if t.strip()]
            blocks.append(Block(header.group("target"), tags))
            continue
        if not blocks:
            continue
        author = _AUTHOR.match(line)
        if author and blocks[-1].author is None and not blocks[-1].lines:
            blocks[-1].author = author.group("name")
            blocks[-1].reply_to = author.group("parent")
        else:
            blocks[-1].lines.append(line)
    return blocks


def messages(blocks: list[Block]) -> list[list[Block]]:
    """Blocks grouped into whole messages (the parts of a split comment together)."""
    grouped: list[list[Block]] = []
    for block in blocks:
        part, _ = block.part
        if part > 1 and grouped:
            grouped[-1].append(block)
        else:
            grouped.append([block])
    return grouped


def run_once(
    config: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess; fails the test with its output on a bad exit."""
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(config), "--dry-run", "--once"],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result
