"""Declarative site adapters: a YAML file of CSS selectors says how to read a GIF site.

Adding a site is configuration only: which links on a listing page lead to GIF pages,
which link is the next listing page, and where each field of a GIF page is.
"""
from __future__ import annotations

import datetime as dt
import importlib.resources
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import parsel
import yaml

FIELD_TYPES = ("str", "int", "date", "url")
# Fields every adapter must provide for a GIF page to be usable.
REQUIRED_FIELDS = ("gif_url", "video_url")


class ParseError(ValueError):
    """A page lacks a required field or has one that does not read as its type."""

    kind = "parse_error"


@dataclass(frozen=True)
class FieldRule:
    name: str
    css: str
    type: str = "str"
    many: bool = False
    required: bool = False

    def read(self, selector: parsel.Selector, page_url: str) -> Any:
        values = [v.strip() for v in selector.css(self.css).getall() if v and v.strip()]
        if not values:
            if self.required:
                raise ParseError(f"{page_url}: required field {self.name!r} not found ({self.css})")
            return [] if self.many else None
        converted = [self._convert(v, page_url) for v in values]
        return converted if self.many else converted[0]

    def _convert(self, value: str, page_url: str) -> Any:
        try:
            if self.type == "int":
                return int(re.sub(r"[^\d]", "", value))
            if self.type == "date":
                return dt.date.fromisoformat(value[:10])
            if self.type == "url":
                return urljoin(page_url, value)
            return value
        except ValueError as exc:
            raise ParseError(f"{page_url}: field {self.name!r}={value!r} is not a {self.type}") from exc


@dataclass(frozen=True)
class ListingPage:
    gif_page_urls: list[str]
    next_page_url: str | None


@dataclass(frozen=True)
class SiteAdapter:
    name: str
    gif_links_css: str
    next_page_css: str | None
    fields: tuple[FieldRule, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, config: dict) -> "SiteAdapter":
        try:
            rules = tuple(FieldRule(name=n, **spec) for n, spec in config["gif_page"]["fields"].items())
            adapter = cls(name=config["name"], gif_links_css=config["listing"]["gif_links"],
                          next_page_css=config["listing"].get("next_page"), fields=rules)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"site config is missing or misnames a key: {exc}") from exc
        adapter._check()
        return adapter

    @classmethod
    def load(cls, name_or_path) -> "SiteAdapter":
        """A bundled adapter by name (`demo`), a YAML file by path or URI (gs://...), or its parsed dict."""
        return cls.from_dict(name_or_path if isinstance(name_or_path, dict) else cls.read_config(name_or_path))

    @staticmethod
    def read_config(name_or_path: str) -> dict:
        """The adapter's configuration: the launcher reads it once and ships it in the job, so
        workers never need the launching machine's files."""
        if "://" in name_or_path or os.path.exists(name_or_path):
            from featurizer.dataset.storage import local_copy

            with local_copy(name_or_path) as path, open(path) as f:
                return yaml.safe_load(f)
        bundled = importlib.resources.files("pipelines.scraping.sites") / f"{name_or_path}.yaml"
        if not bundled.is_file():
            raise FileNotFoundError(f"no site config file {name_or_path!r} and no bundled adapter of that name")
        return yaml.safe_load(bundled.read_text())

    def _check(self) -> None:
        names = {r.name for r in self.fields}
        missing = [n for n in REQUIRED_FIELDS if n not in names]
        if missing:
            raise ValueError(f"site {self.name!r}: gif_page.fields lacks {missing}")
        for rule in self.fields:
            if rule.type not in FIELD_TYPES:
                raise ValueError(f"site {self.name!r}: field {rule.name!r} has unknown type {rule.type!r}")
        # Every selector is compiled now: a bad one is this error, not a failure on every page.
        selectors = [("listing.gif_links", self.gif_links_css), ("listing.next_page", self.next_page_css)]
        empty = parsel.Selector(text="<html></html>")
        for where, css in selectors + [(f"gif_page.fields.{r.name}", r.css) for r in self.fields]:
            if css is None:
                continue
            try:
                empty.css(css)
            except Exception as exc:  # cssselect's SelectorError and its kin
                raise ValueError(f"site {self.name!r}: {where} is not a CSS selector: {css!r} ({exc})") from None

    def parse_listing(self, html: str, page_url: str) -> ListingPage:
        selector = parsel.Selector(text=html)
        links = [urljoin(page_url, h.strip()) for h in selector.css(self.gif_links_css).getall() if h.strip()]
        next_href = selector.css(self.next_page_css).get() if self.next_page_css else None
        next_url = urljoin(page_url, next_href.strip()) if next_href and next_href.strip() else None
        return ListingPage(gif_page_urls=list(dict.fromkeys(links)), next_page_url=next_url)

    def parse_gif_page(self, html: str, page_url: str) -> dict[str, Any]:
        selector = parsel.Selector(text=html)
        return {rule.name: rule.read(selector, page_url) for rule in self.fields}
