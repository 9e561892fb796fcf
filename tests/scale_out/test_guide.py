"""The scale-out guide's configuration is one vagent accepts."""

from __future__ import annotations

import re
from pathlib import Path

from vagent import load_config

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "scale_out.md"


def test_the_configuration_in_the_scale_out_guide_loads(tmp_path: Path) -> None:
    toml = re.search(r"```toml\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)
    assert toml is not None
    (tmp_path / "agent.toml").write_text(toml.group(1), encoding="utf-8")

    config = load_config(tmp_path / "agent.toml")

    assert config.database_url is not None
    assert config.database_url.endswith("options=-csearch_path%3Dfha_prod")
    assert config.knowledge.chroma_url == "http://chroma.internal:8000"
