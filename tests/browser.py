"""Open a page as a reader would: Debian's chromium, headless, with no network and a fresh profile;
and read back what the reports promise to be traceable (each figure's link to its rows)."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")


def available() -> bool:
    return Path(CHROMIUM).exists()


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


class Figures(HTMLParser):
    """The figures of a report page (links `a.n` with their count), its annex (entry id → row refs),
    and every external reference a page must not have."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, int, str]] = []  # href, data-n, text shown
        self.annex: dict[str, list[str]] = {}
        self.annex_n: dict[str, int] = {}
        self.external: list[str] = []
        self.svg_hrefs: list[str] = []
        self._link: tuple[str, int] | None = None
        self._text: list[str] = []
        self._entry: str | None = None
        self._ref = False
        self._svg = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag in ("script", "link", "img", "iframe", "object", "embed") or (tag == "image"):
            self.external.append(f"<{tag}>")
        if "src" in a:
            self.external.append(a["src"])
        if tag == "svg":
            self._svg += 1
        if tag == "a" and self._svg and a.get("href", "").startswith("#"):
            self.svg_hrefs.append(a["href"])
        if tag == "a" and "n" in (a.get("class") or "").split():
            self._link, self._text = (a["href"], int(a["data-n"])), []
        if tag == "li" and a.get("id", "").startswith("t") and "data-n" in a:
            self._entry = a["id"]
            self.annex[self._entry] = []
            self.annex_n[self._entry] = int(a["data-n"])
        if tag == "span" and a.get("class") == "ref":
            self._ref = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            self.links.append((*self._link, "".join(self._text).strip()))
            self._link = None
        if tag == "li":
            self._entry = None
        if tag == "span":
            self._ref = False
        if tag == "svg":
            self._svg -= 1

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._text.append(data)
        if self._ref and self._entry is not None:
            self.annex[self._entry].append(data)


def figures(html: str) -> Figures:
    parser = Figures()
    parser.feed(html)
    return parser
