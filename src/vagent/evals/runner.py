"""The eval runner: every case, K trials each, concurrently, into one :class:`EvalReport`.

Each trial gets its own state folder, so cases never share a backend, an audit log or a
conversation. A trial that cannot be played (a bad case, an agent that raises) is an error,
not a pass; an expectation that does not hold is a failure with its explanation.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from tqdm import tqdm  # type: ignore[import-untyped]

from vagent.errors import VagentError
from vagent.evals.conversation_checks import check_case
from vagent.evals.harness import Bench, EngineOptions, RunCache, open_bench
from vagent.evals.load import LoadedCase, Suite, load_suites
from vagent.evals.matching import describe_action
from vagent.evals.metrics import pass_hat, suite_kpis, trial_metrics
from vagent.evals.play import CaseProblem, Conversation, play_turns
from vagent.evals.results import (
    CaseResult,
    CaseStatus,
    EvalReport,
    SuiteResult,
    TrialResult,
    TrialStatus,
    TurnLog,
)
from vagent.evals.simulate import CallerSpec, caller_model, play_simulated

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """How to run eval suites."""

    engine: EngineOptions = field(default_factory=EngineOptions)
    """The agent's model for cases on the default engine."""
    caller_model: CallerSpec | None = None
    """The model that plays simulated callers without a script; None skips those cases."""
    trials: int = 1
    """Trials per case (pass^k is reported for k = 1..trials)."""
    concurrency: int = 8
    """Trials running at once."""
    progress: bool = False
    """Show a progress bar on stderr."""
    default_config: Path | None = None
    """The agent.toml for suite files that name none."""


async def run_paths(paths: Sequence[Path | str], options: RunOptions | None = None) -> EvalReport:
    """Load the suites under ``paths`` and run them.

    Raises:
        EvalSuiteError: a suite file is missing or invalid.
    """
    options = options or RunOptions()
    suites = load_suites([Path(p) for p in paths], default_config=options.default_config)
    return await run_suites(suites, options)


def evaluate(paths: Sequence[Path | str], options: RunOptions | None = None) -> EvalReport:
    """:func:`run_paths` for scripts (in a notebook, ``await run_paths(...)`` instead)."""
    return asyncio.run(run_paths(paths, options))


async def run_suites(suites: Sequence[Suite], options: RunOptions) -> EvalReport:
    """Run every case of ``suites`` ``options.trials`` times and report."""
    if options.trials < 1 or options.concurrency < 1:
        raise VagentError(
            f"trials ({options.trials!r}) and concurrency ({options.concurrency!r}) must be "
            "at least 1"
        )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vagent-eval-") as root:
        runner = CaseRunner(options, Path(root))
        results = await runner.run_all([c for s in suites for c in s.cases])
    by_key = {c.key: c for c in results}
    suite_results = [_suite_result(s, by_key, options.trials) for s in suites]
    from vagent import __version__

    return EvalReport(
        vagent_version=__version__,
        model=options.engine.label,
        trials=options.trials,
        seconds=round(time.perf_counter() - started, 2),
        suites=suite_results,
    )


def _suite_result(suite: Suite, by_key: dict[str, CaseResult], trials: int) -> SuiteResult:
    cases = [by_key[c.key] for c in suite.cases]
    return SuiteResult(
        name=suite.name, cases=cases, kpis=suite_kpis(cases), pass_hat=pass_hat(cases, trials)
    )


class CaseRunner:
    """Runs eval cases: their trials, at most ``concurrency`` at once, on fresh benches."""

    def __init__(self, options: RunOptions, root: Path, *, cache: RunCache | None = None) -> None:
        """Keep trial state under ``root``; share ``cache`` between runners if given."""
        self.options = options
        self.root = root
        self.cache = cache or RunCache(root / "cache")
        self.slots = asyncio.Semaphore(options.concurrency)
        self.bar: tqdm[None] | None = None

    async def run_all(self, cases: list[LoadedCase]) -> list[CaseResult]:
        """Every case, with a progress bar if the options ask for one."""
        total = len(cases) * self.options.trials
        with tqdm(
            total=total,
            desc="vagent eval",
            unit="conversation",
            file=sys.stderr,
            disable=not self.options.progress,
        ) as self.bar:
            return list(await asyncio.gather(*(self.run_case(c) for c in cases)))

    async def run_case(self, loaded: LoadedCase) -> CaseResult:
        """Every trial of one case."""
        trials = await asyncio.gather(
            *(self._trial(loaded, n) for n in range(1, self.options.trials + 1))
        )
        case = loaded.case
        return CaseResult(
            suite=loaded.suite,
            id=case.id,
            file=str(loaded.file),
            description=case.description,
            tags=list(case.tags),
            xfail=case.xfail,
            status=case_status(list(trials), xfail=case.xfail is not None),
            trials=list(trials),
        )

    async def _trial(self, loaded: LoadedCase, trial: int) -> TrialResult:
        async with self.slots:
            started = time.perf_counter()
            result = await self._play(loaded, trial)
            result.seconds = round(time.perf_counter() - started, 3)
        if self.bar is not None:
            self.bar.update(1)
        return result

    async def _play(self, loaded: LoadedCase, trial: int) -> TrialResult:
        case = loaded.case
        caller = None
        if case.simulated_caller is not None:
            engine = self.options.engine
            caller = caller_model(
                case.simulated_caller,
                self.options.caller_model,
                base_url=engine.base_url,
                api_key_env=engine.api_key_env,
            )
            if caller is None:
                note = "needs a caller model: give the case a script or pass --caller-model"
                return TrialResult(trial=trial, status="skipped", note=note)
        workdir = self.root / "trials" / f"{loaded.suite}-{case.id}-{trial}"
        try:
            bench = await open_bench(case, loaded.config, workdir, self.options.engine, self.cache)
        except Exception as exc:
            logger.warning("eval case %s: the agent could not be built", loaded.key, exc_info=True)
            note = f"could not build the agent: {type(exc).__name__}: {exc}"
            return TrialResult(trial=trial, status="error", note=note)
        try:
            return await _played(loaded, trial, bench, caller)
        finally:
            await bench.close()
            await asyncio.to_thread(shutil.rmtree, workdir, True)


async def _played(
    loaded: LoadedCase, trial: int, bench: Bench, caller: BaseChatModel | None
) -> TrialResult:
    """Play the case on the bench and check it."""
    case = loaded.case
    conversation_id = f"eval-{case.id}-{trial}"[:128]
    try:
        if caller is not None:
            played = await play_simulated(case, bench, conversation_id, caller)
        else:
            played = await play_turns(case, bench, conversation_id)
    except CaseProblem as exc:
        return TrialResult(trial=trial, status="error", note=f"the case is wrong: {exc}")
    except Exception as exc:
        logger.warning("eval case %s raised", loaded.key, exc_info=True)
        note = f"the agent raised {type(exc).__name__}: {exc}"
        return TrialResult(trial=trial, status="error", note=note)
    mismatches = check_case(case, played, bench.config, bench.seed)
    return TrialResult(
        trial=trial,
        status=_trial_status(played, bool(mismatches)),
        mismatches=mismatches,
        note=played.caller_problem or "",
        turns=turn_logs(played),
        metrics=trial_metrics(case, played, mismatches, bench.meter),
    )


def _trial_status(played: Conversation, failed: bool) -> TrialStatus:
    if failed and played.caller_problem:
        return "caller_broke"
    return "failed" if failed else "passed"


def turn_logs(played: Conversation) -> list[TurnLog]:
    """The conversation, turn by turn, for the reports."""
    return [
        TurnLog(
            turn=n,
            caller=said,
            reply=reply.text,
            citations=[c.article_id for c in reply.citations],
            actions=[describe_action(a) for a in reply.actions],
            handoff=reply.handoff.reason if reply.handoff else None,
            pending=reply.pending.tool if reply.pending else None,
        )
        for n, (said, reply) in enumerate(zip(played.said, played.replies, strict=True), start=1)
    ]


def case_status(trials: list[TrialResult], *, xfail: bool) -> CaseStatus:
    """A case's status over its trials."""
    statuses = {t.status for t in trials}
    if "error" in statuses:
        return "error"
    if statuses == {"skipped"}:
        return "skipped"
    if xfail:
        return "xpassed" if statuses == {"passed"} else "xfailed"
    if "failed" in statuses:
        return "failed"
    if "caller_broke" in statuses:
        return "caller_broke"
    return "passed"
