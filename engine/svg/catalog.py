"""The instruction catalog: categories of vague issues that seed rollout 1.

The packaged catalog lives in engine/data/categories.toml; a user TOML file with the same layout
adds categories or overrides ones with the same id (and may replace the default template).
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


class CatalogError(Exception):
    pass


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    symptom: str
    template: str

    def instruction(self, *, function: str, file: str, language: str = "") -> str:
        name = function.rsplit(".", 1)[-1]
        try:
            return self.template.format(function=function, name=name, file=file, language=language,
                                        symptom=self.symptom)
        except (KeyError, IndexError) as exc:
            raise CatalogError(f"category {self.id!r}: template uses unknown placeholder {exc}") from None


def _parse(data: dict, source: str, default_template: str | None) -> tuple[str | None, dict[str, Category]]:
    template = data.get("template", default_template)
    out: dict[str, Category] = {}
    for i, c in enumerate(data.get("category", [])):
        if not isinstance(c, dict) or not c.get("id") or not c.get("symptom"):
            raise CatalogError(f"{source}: category #{i + 1} needs at least `id` and `symptom`")
        tpl = c.get("template", template)
        if not tpl:
            raise CatalogError(f"{source}: category {c['id']!r} has no template and there is no default")
        out[str(c["id"])] = Category(str(c["id"]), str(c.get("name", c["id"])), str(c["symptom"]), str(tpl))
    return template, out


def _read_toml(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source} is not valid TOML: {exc}") from None


def load_catalog(user_file: str | Path | None = None) -> dict[str, Category]:
    """Built-in categories, extended/overridden by `user_file`, in a stable order."""
    text = resources.files("engine").joinpath("data/categories.toml").read_text()
    template, cats = _parse(_read_toml(text, "categories.toml"), "categories.toml", None)
    if user_file:
        p = Path(user_file).expanduser()
        if not p.is_file():
            raise CatalogError(f"category file {p} does not exist")
        data = _read_toml(p.read_text(), str(p))
        user_template, user = _parse(data, str(p), template)
        if "template" in data:
            # A new default template applies to built-ins that did not set their own.
            cats = {k: Category(c.id, c.name, c.symptom, user_template or c.template) for k, c in cats.items()}
        cats.update(user)
    return cats


def select_categories(catalog: dict[str, Category], include: list[str] | tuple[str, ...] = (),
                      exclude: list[str] | tuple[str, ...] = ()) -> list[Category]:
    """The categories usable in a run; unknown ids are an error (a typo must not silently narrow a run)."""
    unknown = [c for c in [*include, *exclude] if c not in catalog]
    if unknown:
        raise CatalogError(f"unknown categor{'y' if len(unknown) == 1 else 'ies'}: {', '.join(unknown)} "
                           f"(see `sera generate --list-categories`)")
    chosen = [catalog[c] for c in include] if include else list(catalog.values())
    chosen = [c for c in chosen if c.id not in set(exclude)]
    if not chosen:
        raise CatalogError("no category left after include/exclude")
    return chosen


def pick_category(categories: list[Category], rng: random.Random) -> Category:
    return categories[rng.randrange(len(categories))]
