"""Reading uploaded CSV/XLSX tables into rows with their file line numbers.

Shared by every bulk upload (listings here; orders and shipments build on it). Refuses, with a message a
person can act on, anything that is not a table: wrong type, undecodable text, an empty file, a missing column.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.utils.translation import gettext as _

from merchants.errors import DomainError

XLSX_MAGIC = b"PK\x03\x04"


class SpreadsheetError(DomainError):
    pass


@dataclass(frozen=True)
class SheetRow:
    line: int  # the line (CSV) or row (XLSX) number in the file, header = 1
    values: dict[str, str]


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.line}: {self.column}: {self.message}"


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SpreadsheetError(_("The file is neither UTF-8 nor GB18030 text; save it as UTF-8 CSV or as XLSX."))


def _looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:4096]


def _rows_from_csv(data: bytes) -> list[list[str]]:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [[cell.strip() for cell in row] for row in reader]
    except csv.Error as exc:
        raise SpreadsheetError(
            _("The CSV cannot be read near line %(line)d (%(error)s); check the quotes in that line.")
            % {"line": reader.line_num, "error": exc}
        ) from exc


# An XLSX is a zip: refuse one that would unpack to far more than any real sheet (a "zip bomb").
XLSX_MAX_UNPACKED_BYTES = 400 * 1024 * 1024


def _rows_from_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    unreadable = _("The XLSX file could not be opened (%(error)s); save it again from Excel or as CSV.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SpreadsheetError(unreadable % {"error": exc.__class__.__name__}) from exc
    if unpacked > XLSX_MAX_UNPACKED_BYTES:
        raise SpreadsheetError(
            _("The XLSX file unpacks to %(size)d MB; the limit is %(limit)d MB. Split it or save it as CSV.")
            % {"size": unpacked // 1048576, "limit": XLSX_MAX_UNPACKED_BYTES // 1048576}
        )
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            if not workbook.worksheets:
                raise SpreadsheetError(_("The XLSX file has no sheet."))
            sheet = workbook.worksheets[0]
            return [[cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
    except SpreadsheetError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds (XML, zip, key, value) for a damaged file
        raise SpreadsheetError(unreadable % {"error": exc.__class__.__name__}) from exc


def read_table(
    data: bytes, *, required: list[str], optional: list[str] = (), max_bytes: int
) -> list[SheetRow]:
    """The data rows of a CSV/XLSX upload, keyed by lower-cased header, with their line numbers."""
    if len(data) > max_bytes:
        raise SpreadsheetError(
            _("The file is %(size)s MB; the limit is %(limit)s MB. Split it into smaller files.")
            % {"size": f"{len(data) / 1048576:.1f}", "limit": f"{max_bytes / 1048576:.0f}"}
        )
    if not data.strip():
        raise SpreadsheetError(_("The file is empty."))
    if data.startswith(XLSX_MAGIC):
        table = _rows_from_xlsx(data)
    elif _looks_binary(data):
        raise SpreadsheetError(
            _("This is not a spreadsheet: upload a CSV (UTF-8 or GB18030) or an XLSX file.")
        )
    else:
        table = _rows_from_csv(data)
    table = [row for row in table]  # keep line numbers: blank rows are skipped below, not removed
    if not table or not any(cell for cell in table[0]):
        raise SpreadsheetError(_("The file has no header row."))
    header = [cell.strip().lstrip("\ufeff").lower() for cell in table[0]]
    missing = [name for name in required if name not in header]
    if missing:
        raise SpreadsheetError(
            _("Missing required column(s): %(missing)s. The header row must name: %(expected)s.")
            % {"missing": ", ".join(missing), "expected": ", ".join([*required, *optional])}
        )
    duplicated = sorted({name for name in header if name and header.count(name) > 1})
    if duplicated:
        raise SpreadsheetError(_("Column(s) named twice: %(names)s.") % {"names": ", ".join(duplicated)})
    rows: list[SheetRow] = []
    for index, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        values = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header) if name}
        rows.append(SheetRow(line=index, values=values))
    if not rows:
        raise SpreadsheetError(_("The file has a header row but no data rows."))
    return rows


def formula_safe(value) -> str:
    """A cell value that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    if text and text[0] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text
