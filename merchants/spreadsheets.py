"""Reading uploaded CSV/XLSX tables into rows with their file line numbers.

Shared by every bulk upload (listings here; orders and shipments build on it). Refuses, with a message a
person can act on, anything that is not a table: wrong type, undecodable text, an empty file, a missing column.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
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


# --- Streaming: files too large to hold in memory (a million order lines) --------------------------------

OLE2_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls format
_SAMPLE_BYTES = 1 << 20
_DELIMITERS = (",", "\t", ";")


class EncodingChanged(SpreadsheetError):
    """Raised once by `TableFile.rows()` when a file that looked like ASCII UTF-8 turns out to be GB18030
    further down: the reader now uses GB18030, and the caller reads again from the start."""


class _CountingReader(io.RawIOBase):
    """A binary stream that counts the bytes read through it (progress of a streamed CSV)."""

    def __init__(self, stream):
        self.stream = stream
        self.count = 0
        self.nul_seen = False  # a NUL byte: binary data, which no text export has (UTF-16 aside)

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.stream.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.count += size
        if not self.nul_seen and b"\x00" in data:
            self.nul_seen = True
        return size


def xlsx_cell_text(value) -> str:
    """As `cell_text`, except that a number of 15 digits or more is shown the way Excel shows it (6.91E+18):
    a float holds 15 significant digits, so such a cell has already lost the end of an ID."""
    if isinstance(value, float) and abs(value) >= 1e15:
        return f"{value:.2E}".replace("E+0", "E+")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        return f"{value:.2E}".replace("E+0", "E+")
    return cell_text(value)


class TableFile:
    """A CSV or XLSX file read row by row, as many times as needed, never loaded whole.

    `source` is a path, bytes or a seekable binary file. CSV encodings: UTF-8 (with or without a BOM),
    UTF-16 with a BOM (Excel's "Unicode text"), GB18030 (GBK and GB2312 are subsets); the delimiter is a
    comma, a tab or a semicolon, whichever the header line has most of. Opening checks the size limit and
    the type; `rows()` yields `(line, cells)` with the file's line (CSV) or row (XLSX) number, stripped
    cells, blank rows left out.
    """

    def __init__(self, source, *, max_bytes: int | None):
        self._source = source
        self.size = self._size()
        if max_bytes is not None and self.size > max_bytes:
            raise SpreadsheetError(
                _("The file is %(size)s MB; the limit is %(limit)s MB. Split it into smaller files.")
                % {"size": f"{self.size / 1048576:.1f}", "limit": f"{max_bytes / 1048576:.0f}"}
            )
        with self._open() as stream:
            sample = stream.read(_SAMPLE_BYTES)
        if not sample.strip():
            raise SpreadsheetError(_("The file is empty."))
        self.done = 0  # progress: bytes (CSV) or rows (XLSX) read by the current pass
        self.total = self.size
        self.encoding_certain = True
        if sample.startswith(XLSX_MAGIC):
            self.kind = "xlsx"
            self._check_xlsx()
            return
        self.kind = "csv"
        if sample.startswith(OLE2_MAGIC):
            raise SpreadsheetError(
                _("This is an old Excel .xls file: save it as .xlsx or as CSV (UTF-8) and upload that.")
            )
        self.encoding = self._detect_encoding(sample)
        text = sample.decode(self.encoding, errors="ignore")
        first_line = text.lstrip("\ufeff\r\n").split("\n", 1)[0]
        self.delimiter = max(_DELIMITERS, key=first_line.count)

    # --- opening ---------------------------------------------------------------------------------------

    def _size(self) -> int:
        source = self._source
        if isinstance(source, bytes | bytearray | memoryview):
            return len(source)
        if isinstance(source, str | os.PathLike):
            try:
                return os.stat(source).st_size
            except OSError as exc:
                raise SpreadsheetError(
                    _("The file cannot be read (%(error)s).") % {"error": exc.strerror}
                ) from exc
        size = getattr(source, "size", None)
        if isinstance(size, int):
            return size
        position = source.seek(0, io.SEEK_END)
        source.seek(0)
        return position

    def _open(self):
        source = self._source
        if isinstance(source, bytes | bytearray | memoryview):
            return io.BytesIO(source)
        if isinstance(source, str | os.PathLike):
            return open(source, "rb")  # noqa: SIM115 - returned to the caller's `with`
        source.seek(0)
        return _Unclosed(source)

    def _detect_encoding(self, sample: bytes) -> str:
        if sample.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if b"\x00" in sample[:4096]:
            raise SpreadsheetError(
                _("This is not a spreadsheet: upload a CSV (UTF-8 or GB18030) or an XLSX file.")
            )
        final = len(sample) == self.size
        try:
            codecs.getincrementaldecoder("utf-8")().decode(sample, final=final)
        except UnicodeDecodeError:
            pass
        else:
            # Plain ASCII so far: a GB18030 file may still show its Chinese further down.
            self.encoding_certain = not sample.isascii() or final
            return "utf-8"
        try:
            codecs.getincrementaldecoder("gb18030")().decode(sample, final=final)
        except UnicodeDecodeError:
            raise SpreadsheetError(
                _("The file is neither UTF-8 nor GB18030 text; save it as UTF-8 CSV or as XLSX.")
            ) from None
        return "gb18030"

    def _check_xlsx(self) -> None:
        unreadable = _("The XLSX file could not be opened (%(error)s); save it again from Excel or as CSV.")
        try:
            with self._open() as stream, zipfile.ZipFile(stream) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise SpreadsheetError(unreadable % {"error": exc.__class__.__name__}) from exc
        if unpacked > XLSX_MAX_UNPACKED_BYTES:
            raise SpreadsheetError(
                _(
                    "The XLSX file unpacks to %(size)d MB; the limit is %(limit)d MB. Split it or save it as CSV."
                )
                % {"size": unpacked // 1048576, "limit": XLSX_MAX_UNPACKED_BYTES // 1048576}
            )

    # --- reading ---------------------------------------------------------------------------------------

    def rows(self):
        self.done = 0
        if self.kind == "xlsx":
            yield from self._xlsx_rows()
        else:
            yield from self._csv_rows()

    def _csv_rows(self):
        with self._open() as stream:
            counter = _CountingReader(stream)
            text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 16), encoding=self.encoding, newline="")
            reader = csv.reader(text, delimiter=self.delimiter)
            line = 1
            binary = _(
                "The file has binary data (a NUL character) in line %(line)d: it is not a text export. Save it "
                "again as UTF-8 CSV or as XLSX."
            )
            try:
                strip = str.strip
                for cells in reader:
                    if counter.nul_seen and any("\x00" in cell for cell in cells):
                        raise SpreadsheetError(binary % {"line": line})
                    if any(cells):
                        if cells[0][:1] == "\ufeff":
                            cells[0] = cells[0][1:]
                        yield line, list(map(strip, cells))
                    line = reader.line_num + 1
                    self.done = counter.count
            except UnicodeDecodeError as exc:
                if not self.encoding_certain and self.encoding == "utf-8":
                    self.encoding, self.encoding_certain = "gb18030", True
                    raise EncodingChanged(_("The file is GB18030 text.")) from exc
                raise SpreadsheetError(
                    _(
                        "The file is not valid %(encoding)s text near line %(line)d; save it again as UTF-8 "
                        "CSV or as XLSX."
                    )
                    % {"encoding": self.encoding.upper().replace("-SIG", ""), "line": line}
                ) from exc
            except csv.Error as exc:
                raise SpreadsheetError(
                    _("The CSV cannot be read near line %(line)d (%(error)s); check the quotes in that line.")
                    % {"line": line, "error": exc}
                ) from exc

    def _xlsx_rows(self):
        from openpyxl import load_workbook

        unreadable = _("The XLSX file could not be opened (%(error)s); save it again from Excel or as CSV.")
        with self._open() as stream:
            try:
                workbook = load_workbook(stream, read_only=True, data_only=True)
            except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
                raise SpreadsheetError(unreadable % {"error": exc.__class__.__name__}) from exc
            try:
                if not workbook.worksheets:
                    raise SpreadsheetError(_("The XLSX file has no sheet."))
                sheet = workbook.worksheets[0]
                self.total = max(sheet.max_row or 1, 1)
                rows = sheet.iter_rows()
                while True:
                    try:
                        row = next(rows)
                    except StopIteration:
                        break
                    except SpreadsheetError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - damaged sheet XML, bad cell values
                        raise SpreadsheetError(unreadable % {"error": exc.__class__.__name__}) from exc
                    cells = [xlsx_cell_text(getattr(cell, "value", None)) for cell in row]
                    line = next((cell.row for cell in row if getattr(cell, "row", None)), None)
                    if line is None:
                        continue
                    self.done = line
                    if any(cells):
                        yield line, cells
            finally:
                workbook.close()


class _Unclosed:
    """A caller's file used in a `with` without being closed (the caller owns it)."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc):
        return False

    def __getattr__(self, name):
        return getattr(self.stream, name)
