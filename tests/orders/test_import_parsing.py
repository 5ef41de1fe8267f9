"""The order import's cell cleaning and file reading on their own, and arbitrary input: whatever bytes or
CSV text come in, the import answers with OrderImportError or row errors, never a traceback."""

import csv
import hashlib
import hmac
import io
import itertools
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orders.crypto import FieldCipher, _hmac_sha256, decrypt, digest, encrypt
from orders.imports import (
    CellProblem,
    OrderImportError,
    clean_cell,
    detect_layout,
    orders_import,
    parse_money,
    parse_order_no,
    parse_phone,
    parse_time,
)
from orders.models import Order
from tests.merchants.factories import ListingFactory
from tests.orders.test_import_orders import NOW, TIKTOK_HEADER, tiktok_csv, tiktok_row

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("", ""), ("abc", "abc"), ("\tabc", "abc"), ('="0012"', "0012"), ('\t="0012"', "0012"), ("'=1+1", "=1+1"),
     ("'abc", "'abc"), ("  x ", "x"), ('=""', "")],
)  # fmt: skip
def test_clean_cell(raw, clean):
    assert clean_cell(raw) == clean


def test_parse_money_keeps_decimals_exact():
    assert parse_money("0.10") + parse_money("0.20") == Decimal("0.30")
    assert parse_money("¥12,345,678.99") == Decimal("12345678.99")


@pytest.mark.parametrize("text", ["", "1e3", "NaN", "Infinity", "1,23", "12345678901.00", "¥-1"])
def test_parse_money_refuses(text):
    with pytest.raises(CellProblem):
        parse_money(text)


def test_parse_time_formats_agree():
    expected = datetime(2025, 12, 31, 23, 5, tzinfo=SHANGHAI)
    for text in ("2025-12-31 23:05:00", "2025/12/31 23:05", "12/31/2025 11:05:00 PM", "12/31/2025 11:05 pm"):
        assert parse_time(text, SHANGHAI) == expected
    assert parse_time("12/31/2025 12:00:00 AM", SHANGHAI) == datetime(2025, 12, 31, 0, 0, tzinfo=SHANGHAI)
    assert parse_time("2025-12-31T15:05:00+00:00", SHANGHAI) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2025-02-29 10:00:00",
        "2025-13-01 10:00:00",
        "2025-01-01 10:60:00",
        "2025-01-01 1:00:00 ",
        "2025-01-01_10:00:00",
    ],
)
def test_parse_time_refuses_near_misses_of_the_common_format(text):
    with pytest.raises(CellProblem, match="is not a time"):
        parse_time(text, SHANGHAI)


def test_parse_time_reads_the_common_format_in_the_given_zone():
    los_angeles = ZoneInfo("America/Los_Angeles")
    assert parse_time("2024-02-29 23:59:59", SHANGHAI) == datetime(2024, 2, 29, 23, 59, 59, tzinfo=SHANGHAI)
    assert parse_time("2025-03-09 10:00:00", los_angeles).utcoffset().total_seconds() == -7 * 3600  # DST
    assert parse_time("2025-03-08 10:00:00", los_angeles).utcoffset().total_seconds() == -8 * 3600


def test_phones_as_mainland_mobiles_are_kept_as_written():
    assert parse_phone("13812345678", country="China") == "13812345678"
    assert parse_phone("13812345678", country="") == "13812345678"
    assert parse_phone("13812345678", country="United States") == "13812345678"


@pytest.mark.parametrize("key", [b"", b"k", b"k" * 16, b"k" * 64, b"k" * 65, bytes(range(200))])
def test_the_keyed_hash_is_rfc_2104_hmac_sha256(key):
    for message in (b"", b"a", "浙江省 杭州市 文三路 123 号".encode() * 9):
        assert _hmac_sha256(key)(message) == hmac.digest(key, message, "sha256")


def test_the_address_digest_is_unchanged(settings):
    normalised = "浙江省杭州市文三路123号".encode()
    expected = hmac.new(settings.FIELD_ENCRYPTION_KEY.encode(), normalised, hashlib.sha256).hexdigest()
    assert digest("浙江省 杭州市 文三路 123 号") == expected


def test_the_field_cipher_writes_what_orders_crypto_and_fernet_read(settings):
    texts = [
        "",
        "a",
        "x" * 15,
        "y" * 16,
        "z" * 17,
        "张三",
        "浙江省 杭州市 西湖区 文三路 123 号 4 幢 501 室" * 3,
    ]
    cipher = FieldCipher(settings.FIELD_ENCRYPTION_KEY)

    tokens = cipher.encrypt(texts) + cipher.encrypt(texts)  # the second batch goes on from the first

    assert [decrypt(token) for token in tokens] == texts * 2
    fernet = Fernet(settings.FIELD_ENCRYPTION_KEY.encode())
    assert [fernet.decrypt(token.encode()).decode() for token in tokens] == texts * 2
    assert len(set(tokens)) == len(tokens)  # a random IV per token: equal texts, different tokens
    assert [len(token) for token in tokens[:7]] == [len(encrypt(text)) for text in texts]


@pytest.mark.parametrize("text", ["6.91E+18", "6.91e18", "5.76461E+17"])
def test_scientific_order_ids_are_refused(text):
    with pytest.raises(CellProblem, match="a spreadsheet turned into a number"):
        parse_order_no(text)


def test_phones_outside_china_are_kept_as_written():
    assert parse_phone("2025550123", country="United States") == "2025550123"
    assert parse_phone("+1 (202) 555-0123", country="United States") == "+12025550123"


def test_douyin_and_template_headers_are_recognised():
    douyin = detect_layout(["主订单编号", "商家编码", "商品数量", "商品单价", "订单应付金额", "收件人", "收件人手机号",
                            "省", "市", "详细地址", "支付完成时间", "订单状态"])  # fmt: skip
    assert (douyin.format.code, douyin.column("sku")) == ("douyin", "商家编码")
    tiktok = detect_layout(["\ufeff Order ID ", *TIKTOK_HEADER[1:]])
    assert (tiktok.format.code, tiktok.column("order_no")) == ("tiktok", "Order ID")


# --- Arbitrary input ---------------------------------------------------------------------------------------


@pytest.fixture
def import_store(funded_store):
    ListingFactory(store=funded_store, sku="TOWEL-1")
    return funded_store


def _import(store, data, *, dry_run=True):
    try:
        result = orders_import(store=store, source=data, dry_run=dry_run, now=NOW)
    except OrderImportError as error:
        assert error.messages and all(isinstance(m, str) and m for m in error.messages)
        return None
    for error in result.errors:
        assert str(error).startswith(f"row {error.line}: ")
    return result


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_give_an_import_error_never_a_traceback(import_store, data):
    _import(import_store, data)


@pytest.mark.django_db
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from([b"", b"PK\x03\x04", b"\xef\xbb\xbf", b"\xff\xfe", b"Order ID,Seller SKU\n"]),
       data=st.binary(max_size=500))  # fmt: skip
def test_arbitrary_bytes_behind_a_known_start(import_store, prefix, data):
    _import(import_store, prefix + data)


_cell_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"])
    | st.sampled_from('\t\r\n",=¥$E+-./: 0123456789'),
    max_size=30,
)


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.dictionaries(st.sampled_from(TIKTOK_HEADER), _cell_text, max_size=8), min_size=1, max_size=5
    ),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
    delimiter=st.sampled_from([",", "\t", ";"]),
)
def test_arbitrary_csv_text_gives_row_errors_never_a_traceback(import_store, rows, encoding, delimiter):
    try:
        data = tiktok_csv(*[tiktok_row(**row) for row in rows], encoding=encoding, delimiter=delimiter)
    except UnicodeEncodeError:
        return  # a character the encoding cannot write: nothing to import
    _import(import_store, data)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.lists(_cell_text, max_size=30), max_size=6))
def test_arbitrary_csv_under_a_tiktok_header(import_store, lines):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TIKTOK_HEADER)
    writer.writerows(lines)
    _import(import_store, out.getvalue().encode("utf-8"))


_order_numbers = itertools.count(1)
_free_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.fixed_dictionaries(
        {
            column: _free_text
            for column in (
                "Product Name",
                "Variation",
                "Buyer Message",
                "Recipient",
                "City",
                "Detail Address",
            )
        }
    )
)
def test_arbitrary_text_is_written_as_it_was_read_or_refused_by_row(import_store, texts):
    """Not a dry run: free text in the columns stored as text goes through the real write path (COPY on
    PostgreSQL, with its escapes, and the recipient's encryption) and reads back as the import read it."""
    order_no = f"HYP{next(_order_numbers)}"  # each example its own order: the test's data stays between them
    data = tiktok_csv(tiktok_row(**{"Order ID": order_no, **texts}))

    result = _import(import_store, data, dry_run=False)

    if result is None or result.error_count:
        assert not Order.objects.filter(store=import_store, order_no=order_no).exists()
        event("refused")
        return
    event("written")
    order = Order.objects.get(store=import_store, order_no=order_no)
    read = [clean_cell(texts[column].strip()) for column in ("Buyer Message", "Recipient", "Detail Address")]
    assert (order.buyer_message, order.recipient_name, order.recipient_address) == (
        read[0][:500],
        read[1],
        read[2],
    )
    assert order.lines.get().sku == "TOWEL-1"
