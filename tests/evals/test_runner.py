"""The eval runner on the offline engine: statuses, explanations, trials, KPIs and pass^k."""

from __future__ import annotations

from tests.evals.conftest import case_of

from vagent.evals import CaseResult, EvalReport
from vagent.evals.metrics import pass_hat
from vagent.evals.results import TrialResult


def test_a_passing_case_passes_every_trial(mixed_report: EvalReport) -> None:
    case = case_of(mixed_report, "mortgage-insurance-is-answered")

    assert case.status == "passed"
    assert [t.status for t in case.trials] == ["passed", "passed"]
    assert case.trials[0].turns[0].citations == ["fha-mip"]


def test_each_trial_starts_from_its_own_fresh_backend(mixed_report: EvalReport) -> None:
    case = case_of(mixed_report, "michelle-cancels-on-a-fresh-backend")

    assert [t.status for t in case.trials] == ["passed", "passed"]
    assert all("executed" in t.turns[1].actions[0] for t in case.trials)


def test_a_failing_case_explains_every_expectation_that_did_not_hold(
    mixed_report: EvalReport,
) -> None:
    case = case_of(mixed_report, "a-request-alone-is-expected-to-cancel")
    explained = {(m.check, m.turn): str(m) for m in case.trials[0].mismatches}

    assert case.status == "failed"
    assert set(explained) == {("must_mention", 1), ("tool_calls", 1), ("backend", None)}
    assert "expected the reply to mention 'approved'" in explained["must_mention", 1]
    assert "To confirm: do you want me to cancel case 12345?" in explained["must_mention", 1]
    assert "missing: [cancel_case(case_id='12345') executed]" in explained["tool_calls", 1]
    assert "awaiting_confirmation" in explained["tool_calls", 1]
    assert explained["backend", None] == (
        "conversation backend: expected case 12345 cancelled; actual: case 12345 is 'open'"
    )


def test_a_known_failure_is_xfailed_and_does_not_fail_the_run(mixed_report: EvalReport) -> None:
    case = case_of(mixed_report, "the-weather-is-known-to-be-answered")

    assert case.status == "xfailed"
    assert case not in mixed_report.failing


def test_an_xfail_case_that_passes_fails_the_run(mixed_report: EvalReport) -> None:
    case = case_of(mixed_report, "a-fixed-gap-is-still-marked-xfail")

    assert case.status == "xpassed"
    assert case in mixed_report.failing


def test_a_simulated_caller_hanging_up_before_confirming_is_flagged_not_failed(
    mixed_report: EvalReport,
) -> None:
    case = case_of(mixed_report, "a-caller-who-hangs-up-at-the-confirmation")
    trial = case.trials[0]

    assert case.status == "caller_broke"
    assert case not in mixed_report.failing
    assert "hung up while the agent waited for its yes" in trial.note
    assert "cancel case 12345" in trial.note
    assert [m.check for m in trial.mismatches] == ["backend"]


def test_a_simulated_caller_without_a_model_is_skipped_with_the_reason(
    mixed_report: EvalReport,
) -> None:
    case = case_of(mixed_report, "a-simulated-caller-without-a-model")

    assert case.status == "skipped"
    assert "--caller-model" in case.trials[0].note


def test_a_short_model_script_is_an_error_of_the_case_not_of_the_agent(
    mixed_report: EvalReport,
) -> None:
    case = case_of(mixed_report, "a-script-one-step-short")

    assert case.status == "error"
    assert case.trials[0].note.startswith("the case is wrong: turn 1 called the scripted model 2")


def test_a_replayed_transcript_reports_where_the_agent_diverged(mixed_report: EvalReport) -> None:
    case = case_of(mixed_report, "replay-recorded-1")
    trial = case.trials[0]

    assert case.status == "failed"
    assert trial.first_divergence == 2
    assert [(m.check, m.turn) for m in trial.mismatches] == [("similar_to", 2)]
    assert "Your case 12345 has been cancelled." in str(trial.mismatches[0])


def test_kpis_count_played_conversations_and_say_when_tokens_are_not_reported(
    mixed_report: EvalReport,
) -> None:
    kpis = mixed_report.suites[0].kpis

    # Errored, skipped and caller-broken trials are not conversations of the agent's own.
    assert kpis.conversations == 12
    # Two trials: the replay's two tool checks held each time, the failing case's one did not.
    assert kpis.tool_call_accuracy == round(4 / 6, 4)
    assert kpis.grounding_rate == 0.5
    assert kpis.containment is not None
    assert 0.0 < kpis.containment < 1.0
    assert kpis.avg_model_calls is not None
    assert kpis.avg_model_calls > 0
    assert kpis.avg_input_tokens is None


def _case(passes: int, trials: int) -> CaseResult:
    results = [
        TrialResult(trial=n, status="passed" if n <= passes else "failed")
        for n in range(1, trials + 1)
    ]
    return CaseResult(suite="s", id=f"c{passes}", file="f", status="failed", trials=results)


def test_pass_hat_k_is_the_chance_that_k_trials_of_a_case_all_pass() -> None:
    cases = [_case(4, 4), _case(2, 4), _case(0, 4)]

    estimates = pass_hat(cases, 4)

    assert estimates == [round((1 + 0.5 + 0) / 3, 4), round((1 + 1 / 6) / 3, 4), 0.3333, 0.3333]
