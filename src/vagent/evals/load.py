"""Finding and reading eval suites: YAML suite files, hostile-format files and transcripts.

A folder is searched for files named like ``eval_*.yaml``; a file named on the command line is
read whatever its name. Every problem is an :class:`EvalSuiteError` naming the file and the
field, with the case id when there is one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from pydantic import ValidationError

from vagent.evals.hostile import hostile_cases
from vagent.evals.problems import EvalSuiteError, validation_problem
from vagent.evals.schema import EvalCase, SuiteFile
from vagent.evals.transcripts import replay_cases

SUITE_PATTERN = "eval_*.yaml"
"""Files a folder search picks up."""
TRANSCRIPT_SUFFIXES = (".json", ".csv")


@dataclass(frozen=True)
class LoadedCase:
    """An eval case with where it came from and the deployment it runs against."""

    suite: str
    """The suite's name."""
    file: Path
    """The file the case was read from."""
    config: Path
    """The deployment's agent.toml."""
    case: EvalCase
    """The case itself."""

    @property
    def key(self) -> str:
        """``suite/case-id``: unique in a run."""
        return f"{self.suite}/{self.case.id}"


@dataclass(frozen=True)
class Suite:
    """The cases of one suite, in file order."""

    name: str
    cases: list[LoadedCase]


def discover(paths: Iterable[Path], pattern: str = SUITE_PATTERN) -> list[Path]:
    """The suite files under ``paths``: folders are searched, files are taken as given.

    Raises:
        EvalSuiteError: a path does not exist, or a folder holds no suite file.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            files = sorted(path.rglob(pattern))
            if not files:
                raise EvalSuiteError(
                    f"no eval suite files matching {pattern!r} under {str(path)!r}; "
                    "name suite files eval_<something>.yaml"
                )
            found.extend(files)
        elif path.is_file():
            found.append(path)
        else:
            raise EvalSuiteError(f"eval path {str(path)!r} does not exist")
    return list(dict.fromkeys(p.resolve() for p in found))


def load_suites(paths: Sequence[Path], *, default_config: Path | None = None) -> list[Suite]:
    """Read every suite under ``paths``, grouped by suite name.

    Args:
        paths: suite files, transcript files or folders holding ``eval_*.yaml`` files.
        default_config: the agent.toml for files that name none.

    Raises:
        EvalSuiteError: a file cannot be read or is invalid, or a case id repeats in a suite.
    """
    by_suite: dict[str, list[LoadedCase]] = {}
    for file in discover(paths):
        for loaded in load_file(file, default_config=default_config):
            by_suite.setdefault(loaded.suite, []).append(loaded)
    for name, cases in by_suite.items():
        _check_unique(name, cases)
    return [Suite(name, cases) for name, cases in by_suite.items()]


def load_file(path: Path, *, default_config: Path | None = None) -> list[LoadedCase]:
    """The cases of one file: a suite file, a hostile-format file or a transcript file.

    Raises:
        EvalSuiteError: the file cannot be read or does not match its format.
    """
    if path.suffix.lower() in TRANSCRIPT_SUFFIXES:
        config = _need_config(path, default_config)
        return [LoadedCase(path.parent.name, path, config, c) for c in replay_cases([path])]
    data = read_yaml(path)
    if isinstance(data, list):
        config = _need_config(path, default_config)
        return [LoadedCase(path.parent.name, path, config, c) for c in hostile_cases(path, data)]
    return _suite_cases(path, data, default_config)


def read_yaml(path: Path) -> Any:
    """The parsed YAML of ``path``.

    Raises:
        EvalSuiteError: the file is missing or is not YAML.
    """
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalSuiteError(f"eval suite {str(path)!r} cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        raise EvalSuiteError(f"eval suite {str(path)!r} is not valid YAML: {exc}") from None


def _suite_cases(path: Path, data: Any, default_config: Path | None) -> list[LoadedCase]:
    """The cases of a suite file, with its hostile imports and replayed transcripts."""
    try:
        suite = SuiteFile.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise validation_problem(path, exc, data) from None
    name = suite.suite or path.parent.name
    config = path.parent / suite.config if suite.config else _need_config(path, default_config)
    if not config.is_file():
        raise EvalSuiteError(
            f"eval suite {str(path)!r}: config {suite.config!r} is not a file "
            f"(resolved to {str(config)!r}); give the agent.toml path relative to the suite file"
        )
    cases = list(suite.cases)
    for hostile in suite.hostile:
        other = path.parent / hostile
        cases.extend(hostile_cases(other, read_yaml(other)))
    if suite.replay is not None:
        files = _globbed(path.parent, suite.replay.files, path)
        replay = suite.replay
        cases += replay_cases(files, replay.min_similarity, compare_tools=replay.compare_tools)
    return [LoadedCase(name, path, config.resolve(), c) for c in cases]


def _globbed(base: Path, patterns: list[str], origin: Path) -> list[Path]:
    """The files the replay patterns name, in order."""
    files: list[Path] = []
    for pattern in patterns:
        matched = sorted(base.glob(pattern))
        if not matched:
            raise EvalSuiteError(
                f"eval suite {str(origin)!r}: replay file {pattern!r} matches nothing under "
                f"{str(base)!r}"
            )
        files.extend(matched)
    return files


def _need_config(path: Path, default_config: Path | None) -> Path:
    """The default config, or an error saying how to name one."""
    if default_config is None:
        raise EvalSuiteError(
            f"eval suite {str(path)!r} names no deployment; add `config: path/to/agent.toml` "
            "to a suite file, or pass --config"
        )
    return default_config.resolve()


def _check_unique(suite: str, cases: list[LoadedCase]) -> None:
    """Case ids are unique within a suite."""
    repeated = [i for i, n in Counter(c.case.id for c in cases).items() if n > 1]
    if repeated:
        files = sorted({str(c.file) for c in cases if c.case.id in repeated})
        raise EvalSuiteError(
            f"eval suite {suite!r} has case ids {repeated!r} more than once (in {files!r}); "
            "give each case its own id"
        )
