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
from urllib.parse import urldefrag, urljoin

import parsel
import yaml

from featurizer.dataset.value_bounds import shown

FIELD_TYPES = ("str", "int", "date", "url")
# Fields every adapter must provide for a GIF page to be usable.
REQUIRED_FIELDS = ("gif_url", "video_url")


class ParseError(ValueError):
    """A page lacks a required field or has one that does not read as its type; subclasses and
    callers may name another `kind`."""

    kind = "parse_error"

    def __init__(self, message: str, kind: str | None = None):
        super().__init__(message)
        if kind:
            self.kind = kind

    def __reduce__(self):
        return (type(self), (str(self), self.kind))


@dataclass(frozen=True)
class FieldRule:
    name: str
    css: str
    type: str = "str"
    many: bool = False
    required: bool = False

    def read(self, selector: parsel.Selector, page_url: str) -> tuple[Any, bool]:
        """(the field's value, whether it read as its type). A required field that is missing or
        does not read is a ParseError; an optional one that does not read is None (or its bad
        values left out), so one odd field never costs the GIF."""
        values = [v.strip() for v in selector.css(self.css).getall() if v and v.strip()]
        if not values:
            if self.required:
                raise ParseError(f"{page_url}: required field {self.name!r} not found ({self.css})")
            return ([] if self.many else None), True
        converted = []
        for value in values:
            try:
                converted.append(self._convert(value, page_url))
            except ParseError:
                if self.required:
                    raise
        readable = len(converted) == len(values)
        if self.many:
            return converted, readable
        return (converted[0] if readable else None), readable

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
            raise ParseError(f"{page_url}: field {self.name!r}={shown(value)!r} is not a {self.type}") from exc


@dataclass(frozen=True)
class ListingPage:
    gif_page_urls: list[str]  # absolute, without fragments (which never reach a server), each once
    next_page_url: str | None
    bad_links: tuple[str, ...] = ()  # hrefs that are no URL (urljoin refuses them)


@dataclass(frozen=True)
class SiteAdapter:
    name: str
    gif_links_css: str
    next_page_css: str | None
    fields: tuple[FieldRule, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, config: dict) -> SiteAdapter:
        try:
            rules = tuple(FieldRule(name=n, **spec) for n, spec in config["gif_page"]["fields"].items())
            adapter = cls(name=config["name"], gif_links_css=config["listing"]["gif_links"],
                          next_page_css=config["listing"].get("next_page"), fields=rules)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"site config is missing or misnames a key: {exc}") from exc
        adapter._check()
        return adapter

    @classmethod
    def load(cls, name_or_path) -> SiteAdapter:
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
        links, bad = [], []
        for href in selector.css(self.gif_links_css).getall():
            if href.strip():
                try:
                    links.append(urldefrag(urljoin(page_url, href.strip())).url)
                except ValueError:  # e.g. an unclosed IPv6 literal
                    bad.append(href.strip())
        next_href = selector.css(self.next_page_css).get() if self.next_page_css else None
        next_url = None
        if next_href and next_href.strip():
            try:
                next_url = urljoin(page_url, next_href.strip())
            except ValueError as exc:
                raise ParseError(f"{page_url}: the next page's link {shown(next_href)!r} is not a URL") from exc
        return ListingPage(gif_page_urls=list(dict.fromkeys(links)), next_page_url=next_url, bad_links=tuple(bad))

    def parse_gif_page(self, html: str, page_url: str) -> dict[str, Any]:
        return self.read_gif_page(html, page_url)[0]

    def read_gif_page(self, html: str, page_url: str) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The page's fields, and the names of the optional fields that did not read as their type
        (None in the fields: counted by the scrape as nulled_<field>)."""
        selector = parsel.Selector(text=html)
        fields, unreadable = {}, []
        for rule in self.fields:
            fields[rule.name], readable = rule.read(selector, page_url)
            if not readable:
                unreadable.append(rule.name)
        return fields, tuple(unreadable)
