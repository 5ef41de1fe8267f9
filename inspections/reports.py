"""Lab report files: checked by their content before anything is stored, and served as downloads only.

The uploader's file name is never used for storage (a fresh name with the extension of the type found in the
content), so path tricks (`../../x.pdf`, `C:\\x.pdf`, names with NULs) cannot place a file anywhere; the name is
kept only for display, reduced to a safe base name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PureWindowsPath

from django.conf import settings
from django.http import FileResponse
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from inspections.rules import REPORT_TYPES, pdf_active_content, sniff_report_type
from merchants.errors import DomainError

# Lab reports with photos run to a few megabytes; more than this is refused with a message.
REPORT_MAX_BYTES = getattr(settings, "INSPECTION_REPORT_MAX_BYTES", 10 * 1024 * 1024)


class ReportRefused(DomainError):
    """A report file refused: not a PDF or image by its content, too big, or carrying active content."""


@dataclass(frozen=True)
class CheckedReport:
    data: bytes
    content_type: str
    extension: str
    sha256: str
    original_name: str

    @property
    def size(self) -> int:
        return len(self.data)


def safe_display_name(name: str) -> str:
    """The last path component of whatever the browser sent, reduced to safe characters (for display)."""
    base = PureWindowsPath((name or "").replace("\x00", "")).name  # handles both / and \\
    return get_valid_filename(base)[:200] if base.strip(". ") else ""


def report_check(upload) -> CheckedReport:
    """Read and check an uploaded report; raise ReportRefused with a message the inspector can act on."""
    if upload is None:
        raise ReportRefused(_("Attach the lab's report (PDF, PNG or JPEG)."))
    size = getattr(upload, "size", None)
    if size is not None and size > REPORT_MAX_BYTES:
        raise ReportRefused(
            _("The report is larger than the limit of %(limit)s.")
            % {"limit": filesizeformat(REPORT_MAX_BYTES)}
        )
    upload.seek(0)
    data = upload.read(REPORT_MAX_BYTES + 1)
    if len(data) > REPORT_MAX_BYTES:
        raise ReportRefused(
            _("The report is larger than the limit of %(limit)s.")
            % {"limit": filesizeformat(REPORT_MAX_BYTES)}
        )
    if not data:
        raise ReportRefused(_("The report file is empty."))
    content_type = sniff_report_type(data[:32])
    if content_type is None:
        raise ReportRefused(
            _("The report is not a PDF, PNG or JPEG file by its content, whatever its name says.")
        )
    raw_name = getattr(upload, "name", "") or ""
    if any(char in raw_name for char in ("/", "\\", "\x00")) or ".." in raw_name or raw_name.startswith("."):
        raise ReportRefused(
            _("The report's file name must be a plain name like report.pdf, not a path: %(name)s")
            % {"name": safe_display_name(raw_name) or "?"}
        )
    name = safe_display_name(raw_name)
    accepted, extension = REPORT_TYPES[content_type]
    given_extension = ("." + name.rsplit(".", 1)[1].lower()) if "." in name else ""
    if given_extension and given_extension not in accepted:
        raise ReportRefused(
            _("The file is named %(name)s but its content is %(type)s; upload it with the right name.")
            % {"name": name, "type": content_type}
        )
    if content_type == "application/pdf":
        active = pdf_active_content(data)
        if active:
            raise ReportRefused(
                _("The PDF carries active content (%(markers)s); ask the lab for a plain PDF.")
                % {"markers": ", ".join(active)}
            )
    return CheckedReport(
        data=data,
        content_type=content_type,
        extension=extension,
        sha256=hashlib.sha256(data).hexdigest(),
        original_name=name,
    )


def report_response(report) -> FileResponse:
    """The file as a download with its checked type; never rendered by the browser as a page."""
    response = FileResponse(
        report.file.open("rb"),
        as_attachment=True,
        filename=report.download_name,
        content_type=report.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
