"""The prompt texts, shipped inside the wheel as ``vagent/prompts``."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from string import Template


@cache
def load_prompt(name: str) -> Template:
    """The prompt ``name`` (without ``.md``) as a ``string.Template``."""
    packaged = resources.files("vagent").joinpath("prompts", f"{name}.md")
    if packaged.is_file():
        return Template(packaged.read_text(encoding="utf-8"))
    # An editable install runs from the source tree, where prompts/ sits beside src/.
    source = Path(__file__).resolve().parents[2] / "prompts" / f"{name}.md"
    return Template(source.read_text(encoding="utf-8"))
