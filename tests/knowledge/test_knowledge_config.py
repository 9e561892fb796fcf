"""Tests for the knowledge section of the agent configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vagent.config import KnowledgeConfig


def test_knowledge_config_rejects_an_unknown_filter_field() -> None:
    with pytest.raises(ValidationError, match=r"cannot filter on \['state'\]"):
        KnowledgeConfig(articles=Path("a"), filters={"state": ["ohio"]})


def test_knowledge_config_rejects_an_unknown_record_field() -> None:
    with pytest.raises(ValidationError, match=r"unknown record fields \['body'\]"):
        KnowledgeConfig(articles=Path("a"), fields={"body": "text"})


def test_knowledge_config_rejects_a_language_weight_above_one() -> None:
    with pytest.raises(ValidationError, match=r"between 0 and 1, got \{'es': 2\.0\}"):
        KnowledgeConfig(articles=Path("a"), language_weights={"es": 2.0})
