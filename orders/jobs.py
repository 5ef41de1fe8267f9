"""Order import jobs: an upload becomes an `ImportJob`, run by Celery through `orders_import`.

The seller page and the admin's confirm step both come here; the rows are checked and written only by
`orders.imports.orders_import` (the one validation and write path, shared with the `import_orders` command).

- `import_job_create` checks the upload (size and type, by the shared table reader, before anything is
  stored), stores it under MEDIA_ROOT with a name of ours, records the job and queues it after the commit.
  The same file posted twice while the first is still pending is the same job.
- `import_job_run` takes a queued job once (`select_for_update(skip_locked)` and the status), runs the
  import outside any transaction of ours, records progress on a separate database connection (the import
  writes inside its own transaction, where progress would stay invisible until the end), then stores the
  figures, the first errors and the error file. Any crash ends the job failed, with a message.
- `import_jobs_catch_up_check` (a scheduled check) runs the jobs left queued when the broker was down,
  fails the ones whose worker died mid-run (no progress for half an hour), and removes the files of jobs
  that ended a week ago (uploads and error files hold buyer data in clear; the figures stay).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.db.models.sql import UpdateQuery
from django.db.models.sql.constants import CURSOR
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export.tmp_storages import BaseStorage

from merchants.errors import DomainError
from merchants.models import Store
from merchants.queue import enqueue_after_commit
from merchants.spreadsheets import SpreadsheetError, TableFile
from orders.imports import DEFAULT_MAX_BYTES, ImportResult, OrderImportError, orders_import
from orders.models import ImportJob, ImportJobEvent, ImportJobStatus, private_file_storage

logger = logging.getLogger(__name__)

MAX_JOB_ERRORS = 200  # row errors kept on the job (the page shows them; the error file has every row)
QUEUED_GRACE = timedelta(minutes=1)  # a job still queued after this was never delivered (broker down)
STALE_RUNNING = timedelta(minutes=30)  # a running job without progress for this long lost its worker
CATCH_UP_BATCH = 10  # queued jobs run per check


class ImportUploadRefused(DomainError):
    """The uploaded file cannot become an import job (too large, not a spreadsheet, empty)."""


@dataclass(frozen=True)
class ImportOptions:
    skip_invalid: bool = False
    update_existing: bool = False
    dry_run: bool = False


def import_max_bytes() -> int:
    return getattr(settings, "ORDER_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)


# --- Selectors ----------------------------------------------------------------------------------------------


def import_jobs_for_store(*, store: Store):
    """The store's jobs, newest first (index import_job_store_time)."""
    return (
        ImportJob.objects.filter(store=store)
        .select_related("created_by")
        .defer("errors")
        .order_by("-created_at", "-id")
    )


def import_job_for_store(*, store: Store, job_id: int) -> ImportJob:
    """One job of the store; any other store's job is a 404."""
    job = ImportJob.objects.filter(store=store, pk=job_id).select_related("store", "created_by").first()
    if job is None:
        raise Http404(_("No such import."))
    return job


# --- Creating a job -----------------------------------------------------------------------------------------


def _event(job: ImportJob, *, kind: str, from_status: str, actor=None, reason: str = "", data=None, at=None):
    ImportJobEvent.objects.create(
        job=job,
        kind=kind,
        from_status=from_status,
        to_status=job.status,
        reason=reason,
        data=data or {},
        actor=actor,
        created_at=at or timezone.now(),
    )


def _digest(upload) -> str:
    sha = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(1 << 20), b""):
        sha.update(chunk)
    upload.seek(0)
    return sha.hexdigest()


def _pending_twin(*, store: Store, sha256: str, options: ImportOptions) -> ImportJob | None:
    return ImportJob.objects.filter(
        store=store,
        sha256=sha256,
        skip_invalid=options.skip_invalid,
        update_existing=options.update_existing,
        dry_run=options.dry_run,
        status__in=[ImportJobStatus.QUEUED, ImportJobStatus.RUNNING],
    ).first()


def import_upload_check(upload) -> None:
    """Refuse (ImportUploadRefused) a file over ORDER_IMPORT_MAX_BYTES, or one that is not a CSV/XLSX table.

    The shared reader's own checks: the size first (without reading), then type and encoding from the first
    megabyte. The rows are checked by the import itself.
    """
    try:
        TableFile(upload, max_bytes=import_max_bytes())
    except SpreadsheetError as error:
        raise ImportUploadRefused(*error.messages) from error


def import_job_create(*, store: Store, actor, upload, options: ImportOptions) -> ImportJob:
    """Check and store an uploaded order file, record its job and queue it (after the commit).

    `upload`: a Django File (an UploadedFile from a form, or a File over a stored temporary file) with a
    name. Raises ImportUploadRefused, before anything is stored, for a file over ORDER_IMPORT_MAX_BYTES or
    one that is not a CSV/XLSX table. The same file with the same options while its job is still queued or
    running gives that job back instead of a second one.
    """
    import_upload_check(upload)
    sha256 = _digest(upload)
    twin = _pending_twin(store=store, sha256=sha256, options=options)
    if twin is not None:
        return twin
    original = os.path.basename(upload.name or "") or "orders.csv"
    job = ImportJob(
        store=store,
        created_by=actor,
        original_filename=original[:255],
        size=upload.size,
        sha256=sha256,
        skip_invalid=options.skip_invalid,
        update_existing=options.update_existing,
        dry_run=options.dry_run,
    )
    job.upload.save(original, upload, save=False)
    try:
        with transaction.atomic():
            job.save()
            _event(job, kind="queued", from_status="", actor=actor, at=job.created_at)
            from orders.tasks import import_job_run_task

            enqueue_after_commit(import_job_run_task, job.pk)
    except IntegrityError:
        # Posted twice at the same moment: the other request's job stands.
        job.upload.delete(save=False)
        twin = _pending_twin(store=store, sha256=sha256, options=options)
        if twin is None:
            raise
        return twin
    return job


# --- Running a job ------------------------------------------------------------------------------------------


def progress_percent(*, phase: str, done: int, total: int) -> int:
    """The check pass is the first half of the bar, the write pass the second."""
    share = min(max(done, 0) / total, 1.0) if total > 0 else 0.0
    if phase == "write":
        return min(50 + int(share * 50), 99)
    return int(share * 50)


class ProgressRecorder:
    """The `progress` callback of `orders_import`: writes the job's progress where a browser sees it.

    The import writes inside its own transaction; an update made there would show only at its commit (and a
    dry run rolls it back). On PostgreSQL the progress goes through a second connection of ours, committed
    at once. SQLite (a laptop) allows one writer: there it is written on the import's own connection.
    """

    def __init__(self, job_id: int):
        self.job_id = job_id
        self._side_connection = None

    def __call__(self, *, phase: str, done: int, total: int) -> None:
        self.write(
            {
                "progress_phase": phase,
                "progress_done": done,
                "progress_total": total,
                "progress_percent": progress_percent(phase=phase, done=done, total=total),
                "progress_at": timezone.now(),
            }
        )

    def write(self, values: dict) -> None:
        rows = ImportJob.objects.filter(pk=self.job_id, status=ImportJobStatus.RUNNING)
        if connection.vendor != "postgresql":
            rows.update(**values)
            return
        if self._side_connection is None:
            self._side_connection = connections.create_connection(DEFAULT_DB_ALIAS)  # autocommit
        query = rows.query.chain(UpdateQuery)
        query.add_update_values(values)
        query.get_compiler(connection=self._side_connection).execute_sql(CURSOR).close()

    def close(self) -> None:
        if self._side_connection is not None:
            self._side_connection.close()
            self._side_connection = None


def _take(job_id: int, *, now: datetime) -> ImportJob | None:
    """Move a queued job to running, once: a second worker (or the catch-up check) skips it."""
    with transaction.atomic():
        job = (
            ImportJob.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("store", "created_by")
            .filter(pk=job_id, status=ImportJobStatus.QUEUED)
            .first()
        )
        if job is None:
            return None
        job.start(at=now)
        job.progress_phase = "check"
        job.progress_total = job.size
        job.progress_at = now
        job.save(update_fields=["status", "started_at", "progress_phase", "progress_total", "progress_at"])
        _event(job, kind="started", from_status=ImportJobStatus.QUEUED, at=now)
    return job


def _source(job: ImportJob):
    try:
        return job.upload.path
    except NotImplementedError:  # a storage without local paths
        return job.upload.open("rb")


def _job_fail(job_id: int, *, message: str, now: datetime | None = None) -> ImportJob | None:
    now = now or timezone.now()
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_done:
            return job
        from_status = job.status
        job.fail(at=now, message=message)
        job.save(update_fields=["status", "finished_at", "failure_message"])
        _event(job, kind="failed", from_status=from_status, reason=message, at=now)
    return job


def _job_finish(job_id: int, *, result: ImportResult, errors_file, now: datetime) -> ImportJob:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("store").get(pk=job_id)
        job.file_format = result.format
        for name in ("lines", "orders", "created", "updated", "skipped", "unpaid", "refused"):
            setattr(job, name, getattr(result, name))
        job.refused_lines = result.refused_lines
        job.error_count = result.error_count
        job.errors = [
            {"line": error.line, "column": error.column, "message": error.message}
            for error in result.errors[:MAX_JOB_ERRORS]
        ]
        if errors_file is not None and result.refused:
            errors_file.seek(0)
            job.error_file.save("errors.csv", File(errors_file), save=False)
        job.progress_done = job.progress_total
        job.finish(at=now)
        job.save()
        _event(
            job,
            kind="finished",
            from_status=ImportJobStatus.RUNNING,
            at=now,
            data={
                "format": result.format,
                "lines": result.lines,
                "created": result.created,
                "updated": result.updated,
                "skipped": result.skipped,
                "refused": result.refused,
                "errors": result.error_count,
                "dry_run": result.dry_run,
            },
        )
    return job


def import_job_run(*, job_id: int, now: datetime | None = None) -> ImportJob | None:
    """Run a queued job to its end (finished or failed). None when it is not queued (taken, or done)."""
    job = _take(job_id, now=now or timezone.now())
    if job is None:
        return None
    recorder = ProgressRecorder(job.pk)
    errors_file = tempfile.TemporaryFile() if job.skip_invalid else None  # noqa: SIM115 - closed below
    errors_text = (
        io.TextIOWrapper(errors_file, encoding="utf-8-sig", newline="") if errors_file is not None else None
    )
    try:
        result = orders_import(
            store=job.store,
            source=_source(job),
            dry_run=job.dry_run,
            skip_invalid=job.skip_invalid,
            update_existing=job.update_existing,
            errors_out=errors_text,
            progress=recorder,
            actor=job.created_by,
            now=now,
        )
        if errors_text is not None:
            errors_text.flush()
        return _job_finish(job.pk, result=result, errors_file=errors_file, now=timezone.now())
    except OrderImportError as error:
        return _job_fail(job.pk, message=" ".join(error.messages))
    except Exception:
        logger.exception("order import job %s stopped", job.pk)
        return _job_fail(
            job.pk,
            message=_(
                "The import stopped because of an internal error; no order was written. "
                "Upload the file again later, or ask support with the job number."
            ),
        )
    finally:
        recorder.close()
        if errors_text is not None:
            errors_text.close()  # closes the file under it too


# --- The admin's preview file, kept between its preview and confirm steps -----------------------------------


class ImportPreviewStorage(BaseStorage):
    """import-export's temporary storage for the admin import (`tmp_storage_class`), private and streamed:
    the file goes to MEDIA_ROOT/imports/preview/ under a random name, chunk by chunk (import-export's own
    storages hold the whole file in memory). Files never confirmed are removed by the catch-up check."""

    folder = "imports/preview"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.storage = private_file_storage()

    def get_full_path(self) -> str:
        return f"{self.folder}/{os.path.basename(self.name)}"

    def save_upload(self, upload) -> None:
        suffix = ".xlsx" if (upload.name or "").lower().endswith(".xlsx") else ".csv"
        upload.seek(0)
        self.name = uuid.uuid4().hex + suffix
        self.storage.save(self.get_full_path(), upload)

    def save(self, data) -> None:
        self.name = self.name or uuid.uuid4().hex + ".csv"
        self.storage.save(self.get_full_path(), ContentFile(data))

    def exists(self) -> bool:
        return bool(self.name) and self.storage.exists(self.get_full_path())

    def open(self):
        return self.storage.open(self.get_full_path(), "rb")

    def path(self) -> str:
        return self.storage.path(self.get_full_path())

    def read(self):
        with self.open() as handle:
            return handle.read()

    def remove(self) -> None:
        self.storage.delete(self.get_full_path())


PREVIEW_KEPT = timedelta(days=1)


def _preview_files_remove(*, now: datetime) -> int:
    storage = private_file_storage()
    try:
        _dirs, names = storage.listdir(ImportPreviewStorage.folder)
    except FileNotFoundError:
        return 0
    removed = 0
    for name in names:
        path = f"{ImportPreviewStorage.folder}/{name}"
        if storage.get_modified_time(path) < now - PREVIEW_KEPT:
            storage.delete(path)
            removed += 1
    return removed


# --- The scheduled catch-up -----------------------------------------------------------------------------


FILES_KEPT = timedelta(days=7)  # an import's files hold buyer data in clear: removed this long after it ended


def _old_job_files_remove(*, now: datetime, batch: int = 100) -> int:
    """Remove the uploaded file and the error file of the jobs that ended more than FILES_KEPT ago (the
    figures and the first errors stay on the job). Idempotent: a job without files is not selected again."""
    jobs = list(
        ImportJob.objects.filter(finished_at__lt=now - FILES_KEPT)
        .exclude(upload="", error_file="")
        .order_by("finished_at")[:batch]
    )
    for job in jobs:
        for stored in (job.upload, job.error_file):
            if stored:
                stored.storage.delete(stored.name)
        ImportJob.objects.filter(pk=job.pk).update(upload="", error_file="")
        ImportJobEvent.objects.create(
            job=job,
            kind="files_removed",
            from_status=job.status,
            to_status=job.status,
            reason="retention",
            created_at=now,
        )
    return len(jobs)


@dataclass(frozen=True)
class CatchUpResult:
    ran: int
    failed_stale: int
    files_removed: int = 0

    def __str__(self) -> str:
        return f"ran={self.ran} stale={self.failed_stale} files_removed={self.files_removed}"


def import_jobs_catch_up_check(*, now: datetime | None = None, batch: int = CATCH_UP_BATCH) -> CatchUpResult:
    """Run the jobs still queued a minute after their upload (the broker was down when they were queued;
    index import_job_queued), oldest first; fail the running ones whose worker went silent. Idempotent and
    safe beside a worker: a job is taken once (see `_take`)."""
    now = now or timezone.now()
    due = list(
        ImportJob.objects.filter(status=ImportJobStatus.QUEUED, created_at__lte=now - QUEUED_GRACE)
        .order_by("created_at")
        .values_list("pk", flat=True)[:batch]
    )
    ran = sum(1 for job_id in due if import_job_run(job_id=job_id) is not None)
    stale = list(
        ImportJob.objects.filter(status=ImportJobStatus.RUNNING)
        .annotate(heard_at=Coalesce("progress_at", "started_at"))
        .filter(Q(heard_at__lt=now - STALE_RUNNING))
        .values_list("pk", flat=True)[:batch]
    )
    message = _(
        "The import stopped: the worker running it went away. Upload the file again; orders already "
        "imported are recognised and skipped."
    )
    failed = sum(1 for job_id in stale if _job_fail(job_id, message=message, now=now) is not None)
    _preview_files_remove(now=now)
    removed = _old_job_files_remove(now=now)
    return CatchUpResult(ran=ran, failed_stale=failed, files_removed=removed)
