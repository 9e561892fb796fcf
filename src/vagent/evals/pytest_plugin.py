"""A pytest plugin that runs eval cases as test items, one item per case.

It is installed with vagent and does nothing until enabled, so it never changes what a test
suite collects: pass ``--vagent-evals`` (or set ``vagent_evals = true`` in the pytest ini) and
name the folders, as in ``pytest --vagent-evals evals/``. Files matching ``eval_*.yaml`` (the
``vagent_evals_files`` ini option) are collected; a failing item prints every mismatch. A case
marked ``xfail`` is a strict xfail.
"""

from __future__ import annotations

import asyncio
import fnmatch
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vagent.evals.format import trial_lines
from vagent.evals.harness import EngineOptions, RunCache
from vagent.evals.load import LoadedCase, load_file
from vagent.evals.results import CaseResult
from vagent.evals.runner import CaseRunner, RunOptions

_ROOT = pytest.StashKey[Path]()
_CACHE = pytest.StashKey[RunCache]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's options; all off by default."""
    group = parser.getgroup("vagent-evals", "vagent eval suites")
    group.addoption(
        "--vagent-evals",
        action="store_true",
        default=False,
        help="collect eval suite files (eval_*.yaml) as test items",
    )
    group.addoption(
        "--vagent-evals-model",
        default="offline",
        help="the agent's model for eval cases: offline (default) or deployment",
    )
    group.addoption(
        "--vagent-evals-config", default=None, help="agent.toml for suites that name none"
    )
    parser.addini("vagent_evals", "collect eval suites without --vagent-evals", type="bool")
    parser.addini("vagent_evals_files", "file pattern of eval suites", default="eval_*.yaml")


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("--vagent-evals") or config.getini("vagent_evals"))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """An eval suite file, when the plugin is enabled."""
    config = parent.config
    if not _enabled(config):
        return None
    if not fnmatch.fnmatch(file_path.name, str(config.getini("vagent_evals_files"))):
        return None
    return EvalFile.from_parent(parent, path=file_path)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the trials' state folder."""
    root = config.stash.get(_ROOT, None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


class EvalFile(pytest.File):
    """A suite file: one item per eval case."""

    def collect(self) -> Iterator[pytest.Item]:
        """The file's cases as items."""
        option = self.config.getoption("--vagent-evals-config")
        default = Path(option) if option else None
        for loaded in load_file(self.path, default_config=default):
            yield EvalItem.from_parent(self, name=loaded.case.id, loaded=loaded)


class EvalFailed(AssertionError):
    """An eval case did not meet its expectations."""

    def __init__(self, result: CaseResult) -> None:
        """Keep the result so the report can explain it."""
        super().__init__(f"eval case {result.key} {result.status}")
        self.result = result


class EvalItem(pytest.Item):
    """One eval case, run once on a fresh agent."""

    def __init__(self, *, loaded: LoadedCase, **kwargs: Any) -> None:
        """Wrap ``loaded``; a case marked xfail becomes a strict xfail."""
        super().__init__(**kwargs)
        self.loaded = loaded
        if loaded.case.xfail:
            mark = pytest.mark.xfail(strict=True, raises=EvalFailed, reason=loaded.case.xfail)
            self.add_marker(mark)

    def runtest(self) -> None:
        """Run the case; fail with its mismatches; skip it if it cannot run here or the
        simulated caller, not the agent, broke it."""
        result = asyncio.run(self._run())
        if result.status == "skipped":
            pytest.skip(result.trials[0].note)
        if result.status == "caller_broke":
            pytest.skip(f"the simulated caller broke the conversation: {result.trials[0].note}")
        if result.status not in ("passed", "xpassed"):
            raise EvalFailed(result)

    async def _run(self) -> CaseResult:
        options = RunOptions(
            engine=EngineOptions(model=self.config.getoption("--vagent-evals-model"))
        )
        root = _state_root(self.config)
        runner = CaseRunner(options, root, cache=self.config.stash[_CACHE])
        return await runner.run_case(self.loaded)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """Every mismatch of every failing trial."""
        if not isinstance(excinfo.value, EvalFailed):
            return str(super().repr_failure(excinfo, style=style))
        result = excinfo.value.result
        lines = [f"eval case {result.key} ({result.file}): {result.status}"]
        for trial in result.trials:
            lines += [f"  {line}" for line in trial_lines(trial)]
        return "\n".join(lines)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the case is, for pytest's report."""
        return self.path, None, f"eval case {self.loaded.key}"


def _state_root(config: pytest.Config) -> Path:
    """The session's folder for trial state and knowledge stores."""
    if _ROOT not in config.stash:
        root = Path(tempfile.mkdtemp(prefix="vagent-pytest-evals-"))
        config.stash[_ROOT] = root
        config.stash[_CACHE] = RunCache(root / "cache")
    return config.stash[_ROOT]
