"""Customer-service timeliness arithmetic and evidence type checks: pure, no database."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from complaints.rules import MessageTiming, ServiceRules, human_response_seconds, in_session, service_figures
from complaints.uploads import EvidenceRefused, check_evidence, check_name, detect_type
from tests.complaints.factories import EXE_BYTES, HTML_BYTES, JPEG_BYTES, PDF_BYTES, PNG_BYTES

SHANGHAI = ZoneInfo("Asia/Shanghai")
RULES = ServiceRules()
NOW = datetime(2026, 3, 10, 23, 30, tzinfo=SHANGHAI)


def at(hour, minute=0, second=0):
    return datetime(2026, 3, 10, hour, minute, second, tzinfo=SHANGHAI)


def answered(sent, seconds, human=True):
    return MessageTiming(sent_at=sent, answered_at=sent + timedelta(seconds=seconds), answered_by_human=human)


def unanswered(sent):
    return MessageTiming(sent_at=sent, answered_at=None, answered_by_human=False)


def figures(*messages, now=NOW):
    return service_figures(messages, zone=SHANGHAI, now=now, rules=RULES)


@pytest.mark.parametrize(
    ("sent", "counted"),
    [
        (at(7, 59, 59), False),
        (at(8, 0, 0), True),
        (at(22, 59, 59), True),
        (at(23, 0, 0), False),
    ],
)
def test_session_runs_from_08_00_to_22_59_in_the_store_zone(sent, counted):
    assert in_session(sent, zone=SHANGHAI, rules=RULES) is counted
    assert figures(answered(sent, 30)).messages == (1 if counted else 0)


def test_the_session_is_read_in_the_store_time_zone_not_utc():
    # 00:30 UTC is 08:30 in Shanghai: in session there, not in UTC.
    sent = datetime(2026, 3, 10, 0, 30, tzinfo=UTC)
    assert in_session(sent, zone=SHANGHAI, rules=RULES) is True
    assert in_session(sent, zone=ZoneInfo("UTC"), rules=RULES) is False


def test_an_answer_at_exactly_three_minutes_is_on_time_and_one_second_more_is_not():
    result = figures(answered(at(9), 180), answered(at(10), 181))
    assert result.messages == 2
    assert result.answered_within_target == 1
    assert result.reply_rate == Decimal("0.5000")
    assert result.average_response_seconds == Decimal("180.5")


def test_an_unanswered_message_counts_as_ten_minutes_and_is_never_on_time():
    result = figures(answered(at(9), 30), unanswered(at(10)))
    assert result.reply_rate == Decimal("0.5000")
    assert result.average_response_seconds == Decimal("315.0")  # (30 + 600) / 2
    assert result.negative_service is True


def test_a_bot_answer_is_not_a_human_answer():
    bot = answered(at(9), 5, human=False)
    assert human_response_seconds(bot, rules=RULES) == Decimal(600)
    result = figures(bot)
    assert (result.answered_within_target, result.average_response_seconds) == (0, Decimal("600.0"))


def test_a_slow_human_answer_counts_its_real_time():
    assert figures(answered(at(9), 1800)).average_response_seconds == Decimal("1800.0")


def test_an_unanswered_message_is_judged_only_once_ten_minutes_have_passed():
    sent = at(22, 0)
    assert figures(unanswered(sent), now=sent + timedelta(minutes=9, seconds=59)).messages == 0
    assert figures(unanswered(sent), now=sent + timedelta(minutes=10)).messages == 1


def test_average_of_exactly_ninety_seconds_is_not_negative_service_but_above_is():
    assert figures(answered(at(9), 90)).negative_service is False
    above = figures(answered(at(9), 90), answered(at(10), 91))
    assert above.average_response_seconds == Decimal("90.5")
    assert above.negative_service is True


def test_rates_round_half_up_to_four_places():
    result = figures(answered(at(9), 10), answered(at(10), 500), answered(at(11), 500))
    assert result.reply_rate == Decimal("0.3333")
    result = figures(answered(at(9), 10), answered(at(10), 10), answered(at(11), 500))
    assert result.reply_rate == Decimal("0.6667")


def test_no_messages_gives_no_figures():
    result = figures()
    assert (result.messages, result.reply_rate, result.average_response_seconds, result.negative_service) == (
        0,
        None,
        None,
        False,
    )


# --- Evidence types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(JPEG_BYTES, "image/jpeg"), (PNG_BYTES, "image/png"), (PDF_BYTES, "application/pdf")],
)
def test_accepted_types_are_found_in_the_bytes(data, content_type):
    assert detect_type(data).content_type == content_type


def test_mp4_and_quicktime_are_told_apart_by_their_brand():
    assert detect_type(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00").content_type == "video/mp4"
    assert detect_type(b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00").content_type == "video/quicktime"


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (HTML_BYTES, "a web page (HTML)"),
        (EXE_BYTES, "a program (executable)"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 50, "a program (executable)"),
        (b"#!/bin/sh\nrm -rf /\n", "a script"),
        (b"PK\x03\x04" + b"\x00" * 50, "an archive (ZIP)"),
    ],
)
def test_other_content_renamed_jpg_is_refused_saying_what_it_is(data, what):
    with pytest.raises(EvidenceRefused) as refused:
        check_evidence(name="photo.jpg", data=data)
    assert refused.value.messages == [
        f"“photo.jpg” is {what}. Upload photos, videos or PDF documents (JPEG, PNG, GIF, WebP, PDF, MP4, MOV)."
    ]


def test_an_image_with_a_script_inside_is_refused():
    with pytest.raises(EvidenceRefused) as refused:
        check_evidence(name="photo.jpg", data=JPEG_BYTES + b"<script>alert(1)</script>")
    assert refused.value.messages == [
        "“photo.jpg” contains web-page code (HTML or script) inside the image; save the photo again."
    ]


def test_a_pdf_named_jpg_is_refused_with_the_name_to_use():
    with pytest.raises(EvidenceRefused) as refused:
        check_evidence(name="invoice.jpg", data=PDF_BYTES)
    assert refused.value.messages == [
        "“invoice.jpg” is a PDF file but its name ends in “.jpg”; rename it to end in “.pdf”."
    ]


def test_a_double_extension_ending_in_exe_is_refused():
    with pytest.raises(EvidenceRefused):
        check_evidence(name="photo.jpg.exe", data=JPEG_BYTES)


def test_oversize_is_refused_with_both_sizes():
    with pytest.raises(EvidenceRefused) as refused:
        check_evidence(name="big.jpg", data=b"", size=11 * 1024 * 1024, max_bytes=10 * 1024 * 1024)
    assert refused.value.messages == ["“big.jpg” is 11.0 MB; the limit is 10 MB per file."]


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.jpg",
        "..\\..\\windows\\win.jpg",
        "/var/www/x.jpg",
        "a/b.jpg",
        ".htaccess.jpg",
        "C:x.jpg",
    ],
)
def test_path_tricks_in_the_name_are_refused(name):
    with pytest.raises(EvidenceRefused) as refused:
        check_name(name)
    assert "may not contain folders" in refused.value.messages[0]


def test_control_characters_in_the_name_are_refused():
    with pytest.raises(EvidenceRefused) as refused:
        check_name("photo\x00.html.jpg")
    assert refused.value.messages == [
        "The file name “photo\\x00.html.jpg” contains control characters; rename the file."
    ]


def test_an_accepted_file_keeps_its_display_name_and_digest():
    checked = check_evidence(name="收据 2026.JPEG", data=JPEG_BYTES)
    assert (checked.name, checked.evidence_type.extension, checked.size) == (
        "收据 2026.JPEG",
        ".jpg",
        len(JPEG_BYTES),
    )
    assert len(checked.sha256) == 64


# --- Appeals (RULES §10): pure arithmetic ---------------------------------------------------------

SHANGHAI_ZONE = ZoneInfo("Asia/Shanghai")


def test_an_appeal_submitted_on_friday_is_decided_by_the_end_of_the_next_friday():
    from complaints.rules import appeal_decide_by

    friday = datetime(2026, 11, 20, 23, 30, tzinfo=SHANGHAI_ZONE)
    assert appeal_decide_by(submitted_at=friday, working_days=5, zone=SHANGHAI_ZONE) == datetime(
        2026, 11, 28, 0, 0, tzinfo=SHANGHAI_ZONE
    )
    # 16:00 UTC on Friday is already Saturday in Shanghai: the count starts from Saturday.
    assert appeal_decide_by(
        submitted_at=datetime(2026, 11, 20, 16, 0, tzinfo=UTC), working_days=5, zone=SHANGHAI_ZONE
    ) == datetime(2026, 11, 28, 0, 0, tzinfo=SHANGHAI_ZONE)
    # A public holiday is not a working day.
    assert appeal_decide_by(
        submitted_at=friday, working_days=5, zone=SHANGHAI_ZONE, holidays=frozenset({date(2026, 11, 23)})
    ) == datetime(2026, 12, 1, 0, 0, tzinfo=SHANGHAI_ZONE)


def test_appeal_chance_follows_the_windows_and_the_cap():
    from complaints.rules import AppealRules, PastAppeal, appeal_chance

    occurred = datetime(2026, 11, 16, 10, 0, tzinfo=SHANGHAI_ZONE)
    rules = AppealRules()

    def chance(*appeals, now, status="active"):
        return appeal_chance(
            violation_status=status,
            recorded_at=occurred,
            appeals=appeals,
            now=now,
            rules=rules,
            zone=SHANGHAI_ZONE,
        )

    first = chance(now=occurred)
    assert (first.number, first.closes_at, first.allowed) == (1, occurred + timedelta(days=7), True)
    assert not chance(now=occurred + timedelta(days=7)).allowed
    rejected = PastAppeal(1, "rejected", occurred + timedelta(days=3))
    second = chance(rejected, now=occurred + timedelta(days=17, hours=23))
    assert (second.number, second.closes_at) == (2, occurred + timedelta(days=18))
    assert not chance(rejected, now=occurred + timedelta(days=18)).allowed
    assert not chance(PastAppeal(1, "under_review", None), now=occurred).allowed
    assert not chance(rejected, PastAppeal(2, "rejected", occurred + timedelta(days=4)), now=occurred).allowed
    assert chance(now=occurred, status="revoked").refusal == (
        "This violation was revoked; there is nothing left to appeal."
    )
