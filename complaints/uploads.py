"""Evidence files: what is accepted, decided from the bytes (never from the name or the browser's claim).

Accepted: JPEG, PNG, GIF and WebP images, PDF, MP4/MOV video, up to EVIDENCE_MAX_BYTES each. The name a
person gave the file is checked (no folders, no control characters, an extension that fits the content) and
kept only for display; the stored name is ours.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from merchants.errors import DomainError

EVIDENCE_MAX_BYTES = getattr(settings, "EVIDENCE_MAX_BYTES", 10 * 1024 * 1024)
EVIDENCE_MAX_FILES = 5
NAME_MAX_LENGTH = 120


class EvidenceRefused(DomainError):
    pass


@dataclass(frozen=True)
class EvidenceType:
    content_type: str
    extension: str  # what the stored file is named with
    accepted_extensions: frozenset[str]
    label: str


JPEG = EvidenceType("image/jpeg", ".jpg", frozenset({".jpg", ".jpeg"}), "JPEG")
PNG = EvidenceType("image/png", ".png", frozenset({".png"}), "PNG")
GIF = EvidenceType("image/gif", ".gif", frozenset({".gif"}), "GIF")
WEBP = EvidenceType("image/webp", ".webp", frozenset({".webp"}), "WebP")
PDF = EvidenceType("application/pdf", ".pdf", frozenset({".pdf"}), "PDF")
MP4 = EvidenceType("video/mp4", ".mp4", frozenset({".mp4", ".m4v"}), "MP4")
MOV = EvidenceType("video/quicktime", ".mov", frozenset({".mov"}), "QuickTime")

ACCEPTED_LABEL = "JPEG, PNG, GIF, WebP, PDF, MP4, MOV"


def detect_type(head: bytes) -> EvidenceType | None:
    """The accepted type the first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    if head[4:8] == b"ftyp":
        return MOV if head[8:10] == b"qt" else MP4
    return None


_MARKUP = re.compile(rb"<\s*(?:!doctype\s+html|html|script|svg|iframe|body|head|meta)\b", re.IGNORECASE)


def describe_refused_content(head: bytes) -> str:
    """Words for what an unaccepted file seems to be, for the refusal message."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if (
        head.startswith(b"MZ")
        or head.startswith(b"\x7fELF")
        or head[:4]
        in (
            b"\xcf\xfa\xed\xfe",
            b"\xce\xfa\xed\xfe",
            b"\xca\xfe\xba\xbe",
        )
    ):
        return _("a program (executable)")
    if stripped.startswith(b"#!"):
        return _("a script")
    if _MARKUP.search(head[:4096]):
        return _("a web page (HTML)")
    if head.startswith(b"PK\x03\x04"):
        return _("an archive (ZIP)")
    return _("not a file type we accept")


_FORBIDDEN_NAME = re.compile(r"[/\\:*?\"<>|]")


def check_name(name: str) -> str:
    """The display name, or EvidenceRefused when it carries folders, control characters or other tricks."""
    if not name or not name.strip():
        raise EvidenceRefused(_("The file has no name."))
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise EvidenceRefused(
            _("The file name “%(name)s” contains control characters; rename the file.")
            % {"name": name.encode("unicode_escape").decode("ascii")[:60]}
        )
    if _FORBIDDEN_NAME.search(name) or ".." in name or name.startswith("."):
        raise EvidenceRefused(
            _(
                'The file name “%(name)s” may not contain folders or the characters / \\ : * ? " < > | ..; rename the file.'
            )
            % {"name": name[:60]}
        )
    if len(name) > NAME_MAX_LENGTH:
        raise EvidenceRefused(
            _("The file name is longer than %(max)d characters; shorten it.") % {"max": NAME_MAX_LENGTH}
        )
    return name.strip()


@dataclass(frozen=True)
class CheckedEvidence:
    name: str
    data: bytes
    evidence_type: EvidenceType
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


def _extension(name: str) -> str:
    return ("." + name.rsplit(".", 1)[1].lower()) if "." in name else ""


def check_evidence(
    *, name: str, data: bytes, size: int | None = None, max_bytes: int = EVIDENCE_MAX_BYTES
) -> CheckedEvidence:
    """Accept the file or refuse it with a message that names the file and says what to do. `size` is the
    upload's size when `data` was not read because it is over the limit."""
    display = check_name(name)
    size = len(data) if size is None else size
    if size > max_bytes:
        raise EvidenceRefused(
            _("“%(name)s” is %(size)s MB; the limit is %(limit)s MB per file.")
            % {
                "name": display,
                "size": f"{size / 1048576:.1f}",
                "limit": f"{max_bytes / 1048576:.0f}",
            }
        )
    if not data:
        raise EvidenceRefused(_("“%(name)s” is empty.") % {"name": display})
    head = data[:4096]
    evidence_type = detect_type(head)
    if evidence_type is None:
        raise EvidenceRefused(
            _("“%(name)s” is %(what)s. Upload photos, videos or PDF documents (%(accepted)s).")
            % {"name": display, "what": describe_refused_content(head), "accepted": ACCEPTED_LABEL}
        )
    extension = _extension(display)
    if extension not in evidence_type.accepted_extensions:
        raise EvidenceRefused(
            _(
                "“%(name)s” is a %(type)s file but its name ends in “%(extension)s”; rename it to end in “%(expected)s”."
            )
            % {
                "name": display,
                "type": evidence_type.label,
                "extension": extension or _("(no extension)"),
                "expected": evidence_type.extension,
            }
        )
    if evidence_type in (JPEG, PNG, GIF, WEBP) and _MARKUP.search(data[:65536]):
        # An image with a web page inside (a polyglot) is refused: browsers that sniff would run it.
        raise EvidenceRefused(
            _("“%(name)s” contains web-page code (HTML or script) inside the image; save the photo again.")
            % {"name": display}
        )
    return CheckedEvidence(
        name=display, data=data, evidence_type=evidence_type, sha256=hashlib.sha256(data).hexdigest()
    )


def read_upload(upload, *, max_bytes: int = EVIDENCE_MAX_BYTES) -> tuple[str, bytes, int]:
    """(name, bytes, size) of an uploaded file; an upload over the limit is not read at all."""
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        return upload.name, b"", size
    upload.seek(0)
    data = upload.read(max_bytes + 1)
    return upload.name, data, len(data)
