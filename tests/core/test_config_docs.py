"""The README's config reference names every setting of each section and no setting that does not exist,
so a new option cannot ship undocumented and a renamed one cannot linger in the docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from proxy.config import Config, SiteSettings

ROOT = Path(__file__).resolve().parents[2]
_FIRST_CELL = re.compile(r"^\| ([^|]+) \|", re.MULTILINE)
_NAME = re.compile(r"`([a-z_][a-z0-9_]*)[^`]*`")  # `key`, `key.sub`, `users.<login>.app_password`


def _sections() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    reference = readme.split("## Config reference", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"^### ", reference, flags=re.MULTILINE)[1:]
    return {part.splitlines()[0].strip(): part for part in parts}


def _documented_keys(section: str) -> set[str]:
    """Top-level keys of a section's table: `a`, `a.b` and `a` / `b` rows all name their first part."""
    return {name for cell in _FIRST_CELL.findall(section) for name in _NAME.findall(cell)}


def _model(annotation: object) -> type[BaseModel]:
    assert isinstance(annotation, type)
    assert issubclass(annotation, BaseModel)
    return annotation


SECTIONS: dict[str, type[BaseModel]] = {
    "`store`": _model(Config.model_fields["store"].annotation),
    "`identity`": _model(Config.model_fields["identity"].annotation),
    "`capabilities`": _model(Config.model_fields["capabilities"].annotation),
    "`rate_limits` (top level, or per site)": _model(Config.model_fields["rate_limits"].annotation),
    "`discovery`": _model(Config.model_fields["discovery"].annotation),
    "`sites.<name>`": SiteSettings,
}


@pytest.mark.parametrize("title", sorted(SECTIONS))
def test_a_section_documents_exactly_its_settings(title: str) -> None:
    assert _documented_keys(_sections()[title]) == set(SECTIONS[title].model_fields)


def test_the_top_level_table_and_sections_cover_every_top_level_key() -> None:
    sections = _sections()
    covered = _documented_keys(sections["Top level"]) | {
        name for title in sections for name in _NAME.findall(title)[:1]
    }
    assert set(Config.model_fields) <= covered
