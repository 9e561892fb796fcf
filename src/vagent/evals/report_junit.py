"""The eval report as JUnit XML, for CI systems: one testcase per eval case.

Failed cases and cases marked xfail that passed are failures, errored cases errors; skipped
cases, known failures (xfail) and cases the simulated caller broke are skipped, with the why.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from vagent.evals.format import problem_trials, trial_lines
from vagent.evals.results import CaseResult, EvalReport, SuiteResult


def render_junit(report: EvalReport) -> str:
    """The report as a JUnit XML document."""
    root = ET.Element("testsuites", name="vagent eval", time=f"{report.seconds:.3f}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in report.suites:
        element = _suite(suite)
        root.append(element)
        for key in totals:
            totals[key] += int(element.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(suite: SuiteResult) -> ET.Element:
    seconds = sum(t.seconds for c in suite.cases for t in c.trials)
    element = ET.Element("testsuite", name=suite.name, time=f"{seconds:.3f}")
    counts = {"tests": len(suite.cases), "failures": 0, "errors": 0, "skipped": 0}
    for case in suite.cases:
        testcase, kind = _testcase(case)
        element.append(testcase)
        if kind is not None:
            counts[kind] += 1
    for key, value in counts.items():
        element.set(key, str(value))
    return element


def _testcase(case: CaseResult) -> tuple[ET.Element, str | None]:
    """The testcase element, and which count it adds to (failures, errors, skipped)."""
    seconds = sum(t.seconds for t in case.trials)
    element = ET.Element(
        "testcase",
        classname=f"{case.suite}.{Path(case.file).stem}",
        name=case.id,
        time=f"{seconds:.3f}",
    )
    text = "\n".join(line for t in problem_trials(case) for line in trial_lines(t))
    if case.status in ("failed", "xpassed"):
        message = _first_line(case, text)
        ET.SubElement(element, "failure", message=message, type="eval").text = text
        return element, "failures"
    if case.status == "error":
        ET.SubElement(element, "error", message=_first_line(case, text), type="eval").text = text
        return element, "errors"
    if case.status in ("skipped", "xfailed", "caller_broke"):
        reason = f"xfail: {case.xfail}" if case.status == "xfailed" else _first_line(case, text)
        ET.SubElement(element, "skipped", message=reason)
        return element, "skipped"
    return element, None


def _first_line(case: CaseResult, text: str) -> str:
    if case.status == "xpassed":
        return f"marked xfail ({case.xfail}) but passed"
    lines = text.splitlines()
    return lines[1] if len(lines) > 1 else (lines[0] if lines else case.status)
