"""``vagent eval``: run eval suites, print a summary, write reports, compare with a baseline.

Exit status: 0 when every case is as expected and nothing regressed, 1 when a case fails,
errors, or regresses against the baseline, 2 when the suites or options are unusable.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vagent.errors import VagentError
from vagent.evals.compare import compare_reports, load_report
from vagent.evals.harness import EngineOptions
from vagent.evals.report_junit import render_junit
from vagent.evals.report_text import render_text
from vagent.evals.reports import write_reports
from vagent.evals.results import EvalReport
from vagent.evals.runner import RunOptions, evaluate
from vagent.evals.schema import suite_json_schema

USAGE_EXAMPLE = "vagent eval evals/ --trials 3 --report eval-report --junit junit.xml"


def add_eval_command(commands: Any) -> None:
    """Add the ``eval`` sub-command to the ``vagent`` parser's sub-commands."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "eval",
        help="run eval suites against the agent and report",
        description=__doc__,
        epilog=f"example: {USAGE_EXAMPLE}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="suite files, transcripts, or folders of eval_*.yaml files",
    )
    _add_run_options(parser)
    _add_report_options(parser)
    parser.set_defaults(handler=run_eval_command)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """How the cases run: deployment, models, trials, concurrency."""
    parser.add_argument("--config", type=Path, help="agent.toml for suites that name none")
    parser.add_argument(
        "--model",
        default="offline",
        help="offline (default), deployment (the config's endpoint), or a model "
        "name served by --base-url",
    )
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint for --model")
    parser.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        help="environment variable holding the endpoint's key",
    )
    parser.add_argument("--caller-model", help="model name that plays simulated callers")
    parser.add_argument("--trials", type=int, default=1, help="trials per case (pass^1..K)")
    parser.add_argument("--concurrency", type=int, default=8, help="conversations at once")


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    """What the command writes and shows."""
    parser.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write report.json, report.md, report.html and junit.xml here",
    )
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="REPORT",
        help="an earlier report.json: name regressions against it",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--verbose", action="store_true", help="show the agent's log warnings")
    parser.add_argument(
        "--schema", action="store_true", help="print the suite format as JSON schema and exit"
    )


def run_eval_command(args: argparse.Namespace) -> int:
    """Run the suites the arguments name; returns the exit status."""
    if args.schema:
        print(json.dumps(suite_json_schema(), indent=2))
        return 0
    if not args.paths:
        raise VagentError(
            "vagent eval needs a PATH: a suite file, or a folder of eval_*.yaml files "
            f"(for example: {USAGE_EXAMPLE})"
        )
    with _agent_logs(shown=args.verbose):
        report = evaluate(args.paths, _options(args))
    if args.baseline is not None:
        report.comparison = compare_reports(
            report, load_report(args.baseline), source=str(args.baseline)
        )
    print(render_text(report), end="")
    _write(report, args)
    return 0 if report.passed else 1


@contextmanager
def _agent_logs(*, shown: bool) -> Iterator[None]:
    """Hide the agent's warnings during the run unless asked: the report says the same, once."""
    agent_logger = logging.getLogger("vagent")
    level = agent_logger.level
    if not shown:
        agent_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        agent_logger.setLevel(level)


def _options(args: argparse.Namespace) -> RunOptions:
    engine = EngineOptions(model=args.model, base_url=args.base_url, api_key_env=args.api_key_env)
    return RunOptions(
        engine=engine,
        caller_model=args.caller_model,
        trials=args.trials,
        concurrency=args.concurrency,
        progress=not args.no_progress and sys.stderr.isatty(),
        default_config=args.config,
    )


def _write(report: EvalReport, args: argparse.Namespace) -> None:
    if args.report is not None:
        written = write_reports(report, args.report)
        print("reports: " + ", ".join(str(p) for p in written.values()))
    if args.junit is not None:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_text(render_junit(report), encoding="utf-8")
        print(f"junit: {args.junit}")
