"""Tests for PII detection: each kind, the context rules, overlaps, configuration, no network."""

from __future__ import annotations

import itertools
import socket

import pytest
import tldextract

from vagent.errors import ConfigError
from vagent.guardrails import pii
from vagent.guardrails.pii import PiiDetector, PiiSpan


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    """A detector with a five-digit case number, as the FHA example declares."""
    return PiiDetector(identifiers={"CASE_ID": r"\d{5}"})


def found(detector: PiiDetector, text: str) -> list[tuple[str, str]]:
    """The (kind, text) of every span found."""
    return [(span.kind, span.text) for span in detector.find(text)]


# ---------------------------------------------------------------------------------------- SSN


@pytest.mark.parametrize("ssn", ["212-55-1234", "219 09 9999", "401.22.8765"])
def test_an_ssn_is_found_in_any_usual_format(detector: PiiDetector, ssn: str) -> None:
    assert found(detector, f"It's {ssn}.") == [("SSN", ssn)]


def test_nine_bare_digits_are_an_ssn_only_after_ssn_words(detector: PiiDetector) -> None:
    with_words = found(detector, "my social security number is 212551234")
    without = found(detector, "the reference is 212551234")

    assert with_words == [("SSN", "212551234")]
    assert without == []


@pytest.mark.parametrize(
    "number", ["078-05-1120", "123-45-6789", "000-12-3456", "666-12-3456", "212-00-1234"]
)
def test_ssns_never_issued_or_published_as_samples_are_not_reported(
    detector: PiiDetector, number: str
) -> None:
    assert found(detector, f"My SSN is {number}") == []


def test_a_number_in_the_900s_is_an_itin_not_an_ssn(detector: PiiDetector) -> None:
    assert found(detector, "My SSN is 912-78-1234") == [("ITIN", "912-78-1234")]


def test_an_itin_is_found(detector: PiiDetector) -> None:
    assert found(detector, "ITIN 951-70-2345 on my return") == [("ITIN", "951-70-2345")]


# -------------------------------------------------------------------------------------- phone


@pytest.mark.parametrize(
    "phone", ["(202) 555-0143", "202-555-0143", "202.555.0143", "+1 202 555 0143", "2025550143"]
)
def test_a_us_phone_number_is_found_in_any_usual_format(detector: PiiDetector, phone: str) -> None:
    assert found(detector, f"You can use {phone} for me.") == [("PHONE", phone)]


def test_a_foreign_number_counts_as_a_phone_only_after_a_phone_word(
    detector: PiiDetector,
) -> None:
    with_word = found(detector, "my mobile is 0490 75 40 81")
    without = found(detector, "the order was 0490 75 40 81")

    assert with_word == [("PHONE", "0490 75 40 81")]
    assert without == []


@pytest.mark.parametrize(
    "sentence",
    [
        "They're not answering at 079 2718 1155",
        "no message reached my registered 0961-7596216 yet",
        "my landline is 024 971 50 30",
        "please dial 374 780 163",
    ],
)
def test_a_foreign_number_after_a_calling_word_is_a_phone(
    detector: PiiDetector, sentence: str
) -> None:
    assert [kind for kind, _ in found(detector, sentence)] == ["PHONE"]


def test_an_ip_address_is_not_a_phone_number(detector: PiiDetector) -> None:
    assert found(detector, "the site says 36.160.14.148 is blocked") == []


# -------------------------------------------------------------------------------------- email


def test_an_email_address_is_found(detector: PiiDetector) -> None:
    assert found(detector, "write to jane.doe@example.gov please") == [
        ("EMAIL", "jane.doe@example.gov")
    ]


def test_an_address_with_an_unknown_top_level_domain_is_not_an_email(
    detector: PiiDetector,
) -> None:
    assert found(detector, "the file is report@final.notatld") == []


# --------------------------------------------------------------------------------------- card


def test_a_card_number_with_a_valid_luhn_checksum_is_found(detector: PiiDetector) -> None:
    assert found(detector, "card 4111 1111 1111 1111") == [("CARD", "4111 1111 1111 1111")]


def test_a_card_number_with_a_bad_luhn_checksum_is_not_found(detector: PiiDetector) -> None:
    assert found(detector, "card 4111 1111 1111 1112") == []


def test_a_nineteen_digit_card_number_needs_a_card_word(detector: PiiDetector) -> None:
    with_word = found(detector, "my card is 4111111111111111110")
    without = found(detector, "reference 4111111111111111110")

    assert with_word == [("CARD", "4111111111111111110")]
    assert without == []


# -------------------------------------------------------------------------------------- banks


def test_a_routing_number_with_a_valid_checksum_is_found_after_routing_words(
    detector: PiiDetector,
) -> None:
    assert found(detector, "routing number 021000021") == [("ROUTING", "021000021")]


def test_a_routing_number_with_a_bad_checksum_is_not_found(detector: PiiDetector) -> None:
    assert found(detector, "routing number 021000022") == []


def test_a_valid_routing_number_without_routing_words_is_not_found(
    detector: PiiDetector,
) -> None:
    assert found(detector, "the code was 021000021") == []


def test_a_bank_account_number_is_found_only_after_account_words(detector: PiiDetector) -> None:
    with_words = found(detector, "deposit it to checking account 004512349876")
    without = found(detector, "the tracking code is 004512349876")

    assert with_words == [("BANK_ACCOUNT", "004512349876")]
    assert without == []


# -------------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("I was born on 03/15/1985.", "03/15/1985"),
        ("DOB: 7/4/1976", "7/4/1976"),
        ("date of birth March 3rd, 1985", "March 3rd, 1985"),
        ("my birthday is 3 March 1985", "3 March 1985"),
    ],
)
def test_a_date_after_birth_words_is_a_date_of_birth(
    detector: PiiDetector, text: str, date: str
) -> None:
    assert found(detector, text) == [("DATE_OF_BIRTH", date)]


def test_a_date_without_birth_words_is_not_personal(detector: PiiDetector) -> None:
    assert found(detector, "my appointment is on 04/01/2025") == []


def test_birth_words_speak_only_for_the_next_date(detector: PiiDetector) -> None:
    spans = found(detector, "I was born 03/15/1985, and my hearing is 04/01/2025")

    assert spans == [("DATE_OF_BIRTH", "03/15/1985")]


# ------------------------------------------------------------------------------------ address


@pytest.mark.parametrize(
    "address",
    ["1234 N Main Street Apt 5B", "1600 Pennsylvania Avenue NW", "77 5th Ave", "9 Oak Ct, Unit 3"],
)
def test_a_street_address_is_found(detector: PiiDetector, address: str) -> None:
    assert found(detector, f"I live at {address}, Springfield.") == [("ADDRESS", address)]


@pytest.mark.parametrize(
    "text", ["I have 2 kids who drive", "I paid 200 dollars on the way", "call 3 times a day"]
)
def test_ordinary_sentences_with_numbers_are_not_addresses(
    detector: PiiDetector, text: str
) -> None:
    assert found(detector, text) == []


# -------------------------------------------------------------------------------- identifiers


def test_a_deployment_identifier_is_found(detector: PiiDetector) -> None:
    assert found(detector, "What is the status of case 48213?") == [("CASE_ID", "48213")]


@pytest.mark.parametrize("text", ["ZIP 20410-1234", "code 482130", "file A48213"])
def test_a_deployment_identifier_matches_only_whole_tokens(
    detector: PiiDetector, text: str
) -> None:
    assert found(detector, text) == []


def test_a_deployment_identifier_is_case_sensitive() -> None:
    detector = PiiDetector(identifiers={"TICKET": r"TK-\d{4}"})

    assert found(detector, "tickets TK-1234 and tk-1234") == [("TICKET", "TK-1234")]


def test_a_deployment_identifier_without_digits_is_found() -> None:
    detector = PiiDetector(identifiers={"CLAIM": r"[A-Z]{3}-[A-Z]{4}"})

    assert found(detector, "my claim is QRX-PLMB, thanks") == [("CLAIM", "QRX-PLMB")]


def test_text_without_digits_or_at_signs_holds_no_built_in_kind(detector: PiiDetector) -> None:
    text = "I live on Main Street, you can mail me, my social security number is private"

    assert found(detector, text) == []


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("SSN 212-55-1234", "SSN"),
        ("card 4111-1111-1111-1111", "CARD"),
        ("call 202-555-0143", "PHONE"),
    ],
)
def test_a_broad_deployment_identifier_does_not_steal_a_built_in_kind(text: str, kind: str) -> None:
    detector = PiiDetector(identifiers={"CASE_ID": r"[A-Z0-9-]{4,20}", "PIN": r"\d{4}"})

    assert [span.kind for span in detector.find(text)] == [kind]


# ----------------------------------------------------------------------------------- overlaps


def span(kind: str, start: int, end: int, score: float) -> PiiSpan:
    """A span over placeholder text."""
    return PiiSpan(kind, start, end, "x" * (end - start), score)


def test_a_span_inside_a_longer_one_is_dropped_even_with_a_higher_score() -> None:
    spans = [span("CARD", 0, 19, 0.6), span("PHONE", 5, 17, 0.75)]

    assert pii._resolve(spans) == [spans[0]]


def test_of_partly_overlapping_spans_the_higher_score_wins() -> None:
    spans = [span("PHONE", 0, 12, 0.4), span("BANK_ACCOUNT", 6, 20, 0.6)]

    assert pii._resolve(spans) == [spans[1]]


def test_of_partly_overlapping_spans_with_equal_scores_the_longer_wins() -> None:
    spans = [span("PHONE", 0, 12, 0.6), span("BANK_ACCOUNT", 6, 22, 0.6)]

    assert pii._resolve(spans) == [spans[1]]


def test_spans_come_in_text_order_and_never_overlap(detector: PiiDetector) -> None:
    text = (
        "I'm Ana, SSN 212-55-1234, born 03/15/1985, at 12 Elm Street; call 202-555-0143 or "
        "ana@example.org about case 48213 and card 4111 1111 1111 1111."
    )

    spans = detector.find(text)

    assert [s.kind for s in spans] == [
        "SSN", "DATE_OF_BIRTH", "ADDRESS", "PHONE", "EMAIL", "CASE_ID", "CARD",
    ]  # fmt: skip
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_empty_text_has_no_spans(detector: PiiDetector) -> None:
    assert detector.find("   ") == []


# ------------------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    "identifiers",
    [{"case_id": r"\d{5}"}, {"SSN": r"\d{9}"}, {"CASE_ID": r"(\d{5}"}, {"CASE_ID": r"\d*"}],
)
def test_an_unusable_identifier_is_a_config_error(identifiers: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        PiiDetector(identifiers=identifiers)


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_a_threshold_out_of_range_is_a_config_error(threshold: float) -> None:
    with pytest.raises(ConfigError):
        PiiDetector(threshold=threshold)


def test_a_higher_threshold_drops_weaker_spans() -> None:
    text = "You can use 202-555-0143 for me."

    assert found(PiiDetector(threshold=0.5), text) == []
    assert found(PiiDetector(threshold=0.4), text) == [("PHONE", "202-555-0143")]


# ------------------------------------------------------------------------------------ offline


def test_building_and_detecting_opens_no_network_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("PII detection tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    # A fresh engine and suffix list, so nothing loaded earlier in the session hides a fetch.
    monkeypatch.setattr(
        pii._OfflineEmailRecognizer,
        "_extractor",
        tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True),
    )
    pii._engine.cache_clear()

    spans = found(PiiDetector(), "write to jane.doe@example.gov or call 202-555-0143")

    pii._engine.cache_clear()
    assert spans == [("EMAIL", "jane.doe@example.gov"), ("PHONE", "202-555-0143")]
