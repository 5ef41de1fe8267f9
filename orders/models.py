"""Orders, lines, carriers, shipments, tracking events, buyer-data reveals and order import jobs."""

import uuid

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from merchants.models import PromisedDispatch
from orders.crypto import EncryptedTextField


class OrderStatus(models.TextChoices):
    PAID = "paid", _("awaiting dispatch")
    SHIPPED = "shipped", _("shipped")
    DELIVERED = "delivered", _("delivered")
    COMPLETED = "completed", _("completed")
    CANCELLED = "cancelled", _("cancelled")
    REFUNDED = "refunded", _("refunded")


class Fulfilment(models.TextChoices):
    SELLER = "seller", _("seller-shipped")
    PLATFORM = "platform", _("platform-shipped")


class Carrier(models.Model):
    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=60)
    name_zh = models.CharField(_("Chinese name"), max_length=60, blank=True)
    tracking_pattern = models.CharField(
        _("tracking number pattern"),
        max_length=200,
        help_text=_("A regular expression the whole number must match."),
    )
    tracking_example = models.CharField(_("example tracking number"), max_length=40, blank=True)
    is_cross_border = models.BooleanField(_("cross-border"), default=False)
    webhook_secret = models.CharField(
        _("webhook secret"),
        max_length=128,
        help_text=_("HMAC-SHA256 key the carrier signs its tracking calls with."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["is_cross_border", "code"]
        verbose_name = _("carrier")
        verbose_name_plural = _("carriers")

    def __str__(self):
        return self.name


class Order(ConcurrentTransitionMixin, models.Model):
    store = models.ForeignKey(
        "merchants.Store", on_delete=models.PROTECT, related_name="orders", verbose_name=_("store")
    )
    order_no = models.CharField(_("order number"), max_length=40)
    status = FSMField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PAID, protected=True
    )
    fulfilment = models.CharField(
        _("fulfilment"), max_length=10, choices=Fulfilment.choices, default=Fulfilment.SELLER
    )
    is_advertising = models.BooleanField(_("advertising order"), default=False)
    amount_paid = models.DecimalField(
        _("amount paid (CNY)"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    service_fee = models.DecimalField(_("technical service fee"), max_digits=12, decimal_places=2, default=0)
    paid_at = models.DateTimeField(_("paid"))
    dispatch_deadline = models.DateTimeField(_("dispatch deadline"))
    dispatched_at = models.DateTimeField(
        _("dispatched"),
        null=True,
        blank=True,
        help_text=_("The carrier's first pickup scan, or the ship action."),
    )
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    completed_at = models.DateTimeField(_("receipt confirmed"), null=True, blank=True)
    closed_at = models.DateTimeField(_("cancelled or refunded"), null=True, blank=True)
    recipient_name = EncryptedTextField(_("recipient"))
    recipient_phone = EncryptedTextField(_("recipient phone"))
    recipient_region = EncryptedTextField(_("province, city, district"))
    recipient_address = EncryptedTextField(_("street address"))
    address_digest = models.CharField(
        max_length=64, editable=False, help_text="keyed digest of the full address"
    )
    buyer_message = models.CharField(_("buyer message"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-paid_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        permissions = [("reveal_buyer_data", _("Can reveal buyer contact data"))]
        constraints = [
            models.UniqueConstraint(fields=["store", "order_no"], name="order_store_order_no_unique"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="order_amount_not_negative"),
        ]
        indexes = [
            models.Index(fields=["store", "-paid_at", "-id"], name="order_store_paid"),
            models.Index(fields=["store", "status", "dispatch_deadline"], name="order_store_status_deadline"),
            models.Index(fields=["store", "status", "-paid_at", "-id"], name="order_store_status_paid"),
            models.Index(fields=["status", "dispatch_deadline"], name="order_status_deadline"),
            models.Index(fields=["-paid_at", "-id"], name="order_paid"),
            models.Index(fields=["status", "-paid_at", "-id"], name="order_status_paid"),
            models.Index(fields=["order_no"], name="order_no"),
            # The compliance engine's partial indexes: only the open or late rows, so a check on a
            # million orders reads the few it may act on.
            models.Index(
                fields=["dispatch_deadline"], condition=Q(status="paid"), name="order_open_deadline"
            ),
            models.Index(
                fields=["dispatched_at"],
                condition=Q(dispatched_at__gt=F("dispatch_deadline")),
                name="order_dispatched_late",
            ),
        ]

    def __str__(self):
        return self.order_no

    @transition(field=status, source=OrderStatus.PAID, target=OrderStatus.SHIPPED)
    def ship(self, *, at):
        self.dispatched_at = self.dispatched_at or at

    @transition(field=status, source=OrderStatus.SHIPPED, target=OrderStatus.DELIVERED)
    def deliver(self, *, at):
        self.delivered_at = at

    @transition(field=status, source=OrderStatus.DELIVERED, target=OrderStatus.COMPLETED)
    def complete(self, *, at):
        self.completed_at = at

    @transition(field=status, source=OrderStatus.PAID, target=OrderStatus.CANCELLED)
    def cancel(self, *, at):
        self.closed_at = at

    @transition(
        field=status, source=[OrderStatus.SHIPPED, OrderStatus.DELIVERED], target=OrderStatus.REFUNDED
    )
    def refund(self, *, at):
        self.closed_at = at


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    listing = models.ForeignKey(
        "merchants.Listing", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sku = models.CharField(_("SKU"), max_length=64)
    title = models.CharField(_("title"), max_length=200)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    promised_dispatch = models.CharField(
        _("promised dispatch"), max_length=10, choices=PromisedDispatch.choices
    )
    service_fee_rate = models.DecimalField(_("fee rate"), max_digits=5, decimal_places=4, default=0)

    class Meta:
        ordering = ["id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive")
        ]

    def __str__(self):
        return f"{self.sku} × {self.quantity}"

    @property
    def subtotal(self):
        return self.unit_price * self.quantity


class OrderEvent(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("order"))
    kind = models.CharField(_("event"), max_length=40)
    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        indexes = [models.Index(fields=["order", "created_at"], name="order_event_time")]

    def __str__(self):
        return f"{self.order_id} {self.kind}"


class TrackingAnomaly(models.TextChoices):
    """What the carrier's data says is wrong with a shipment (set when the scan arrives; judged by the
    tracking check)."""

    PICKUP_BEFORE_PAYMENT = "pickup_before_payment", _("pickup scan earlier than payment")
    RECIPIENT_MISMATCH = "recipient_mismatch", _("carrier's recipient differs from the order's")


class Shipment(models.Model):
    order = models.OneToOneField(
        Order, on_delete=models.CASCADE, related_name="shipment", verbose_name=_("order")
    )
    carrier = models.ForeignKey(
        Carrier, on_delete=models.PROTECT, related_name="shipments", verbose_name=_("carrier")
    )
    tracking_no = models.CharField(_("tracking number"), max_length=40)
    address_digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("tracking uploaded"), default=timezone.now)
    first_pickup_at = models.DateTimeField(_("first pickup scan"), null=True, blank=True)
    # A keyed digest of the consignee address the carrier reported (never the address itself).
    carrier_address_digest = models.CharField(max_length=64, blank=True, editable=False)
    anomaly = models.CharField(
        _("tracking anomaly"), max_length=30, choices=TrackingAnomaly.choices, blank=True, default=""
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        indexes = [
            models.Index(fields=["carrier", "tracking_no"], name="shipment_tracking"),
            models.Index(fields=["tracking_no"], name="shipment_tracking_no"),
            models.Index(
                fields=["created_at"],
                condition=Q(first_pickup_at__isnull=True),
                name="shipment_awaiting_pickup",
            ),
            models.Index(fields=["created_at"], condition=~Q(anomaly=""), name="shipment_anomalous"),
            # And, on PostgreSQL only, shipment_pickup_delay on (first_pickup_at - created_at): see
            # migration 0007 (on SQLite that expression is a Python function Django registers, which
            # would then be needed by anything that writes the file).
        ]

    def __str__(self):
        return f"{self.carrier.code} {self.tracking_no}"


class TrackingEvent(models.Model):
    class Kind(models.TextChoices):
        PICKUP = "pickup", _("picked up")
        SORTING = "sorting", _("sorting")
        IN_TRANSIT = "in_transit", _("in transit")
        DELIVERED = "delivered", _("delivered")

    shipment = models.ForeignKey(
        Shipment, on_delete=models.CASCADE, related_name="events", verbose_name=_("shipment")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("when"))
    location = models.CharField(_("where"), max_length=100, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    source = models.CharField(_("source"), max_length=20, default="webhook")
    received_at = models.DateTimeField(_("received"), default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        constraints = [
            # The same scan delivered twice (retries, a CSV uploaded again) is stored once.
            models.UniqueConstraint(fields=["shipment", "kind", "occurred_at"], name="tracking_event_once"),
        ]

    def __str__(self):
        return f"{self.shipment_id} {self.kind} {self.occurred_at:%Y-%m-%d %H:%M}"


class BuyerDataReveal(models.Model):
    """Who saw which order's buyer data in clear, and when."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="reveals")
    purpose = models.CharField(_("purpose"), max_length=40, default="fulfilment")
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("buyer data reveal")
        verbose_name_plural = _("buyer data reveals")
        indexes = [models.Index(fields=["user", "-created_at"], name="reveal_user_time")]

    def __str__(self):
        return f"{self.user} revealed {self.order_id}"


# --- Bulk import jobs -----------------------------------------------------------------------------


class PrivateFileStorage(FileSystemStorage):
    """Files under MEDIA_ROOT that have no public URL: uploads and error files are served only by views
    that check the store membership (or by the admin, to staff)."""

    def url(self, name):
        raise ValueError("private files are served through a view that checks access, never by URL")


def private_file_storage():
    return PrivateFileStorage()


def _import_file_path(instance, filename: str) -> str:
    # Never the seller's file name on disk: only our own, unguessable one (the original is kept in a field).
    suffix = ".xlsx" if filename.lower().endswith(".xlsx") else ".csv"
    return f"imports/{instance.store_id}/{uuid.uuid4().hex}{suffix}"


def _import_error_file_path(instance, filename: str) -> str:
    return f"imports/{instance.store_id}/{uuid.uuid4().hex}-errors.csv"


class ImportJobStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    FINISHED = "finished", _("finished")
    FAILED = "failed", _("failed")


class ImportJob(ConcurrentTransitionMixin, models.Model):
    """One upload of an order file, imported by a Celery job (`orders.jobs.import_job_run`).

    The figures are `orders.imports.ImportResult`'s; `errors` keeps the first row errors, the error file all
    the refused rows (with skip_invalid). Progress is written from outside the import's transaction, so a
    page polling the job sees it move.
    """

    store = models.ForeignKey(
        "merchants.Store", on_delete=models.PROTECT, related_name="import_jobs", verbose_name=_("store")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    # Emptied with the error file some days after the job (they hold buyer data in clear): see orders.jobs.
    upload = models.FileField(
        _("file"), upload_to=_import_file_path, storage=private_file_storage, max_length=200, blank=True
    )
    original_filename = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64, editable=False)
    skip_invalid = models.BooleanField(_("import the good orders, skip the refused ones"), default=False)
    update_existing = models.BooleanField(_("update orders already imported"), default=False)
    dry_run = models.BooleanField(_("check only"), default=False)
    status = FSMField(
        _("status"),
        max_length=10,
        choices=ImportJobStatus.choices,
        default=ImportJobStatus.QUEUED,
        protected=True,
    )
    progress_phase = models.CharField(_("phase"), max_length=10, blank=True)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    progress_percent = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    progress_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    file_format = models.CharField(_("format"), max_length=20, blank=True)
    lines = models.PositiveIntegerField(_("lines"), default=0)
    orders = models.PositiveIntegerField(_("orders in the file"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    skipped = models.PositiveIntegerField(_("already imported"), default=0)
    unpaid = models.PositiveIntegerField(_("never paid"), default=0)
    refused = models.PositiveIntegerField(_("refused"), default=0)
    refused_lines = models.PositiveIntegerField(_("refused lines"), default=0)
    error_count = models.PositiveIntegerField(_("problems"), default=0)
    errors = models.JSONField(_("first problems"), default=list, blank=True)
    error_file = models.FileField(
        _("refused rows"),
        upload_to=_import_error_file_path,
        storage=private_file_storage,
        max_length=200,
        blank=True,
    )
    failure_message = models.TextField(_("failure"), blank=True)
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order import")
        verbose_name_plural = _("order imports")
        permissions = [("import_orders", _("Can import orders from files"))]
        indexes = [
            models.Index(fields=["store", "-created_at"], name="import_job_store_time"),
            # The catch-up check reads only the queued jobs.
            models.Index(fields=["created_at"], condition=Q(status="queued"), name="import_job_queued"),
        ]
        constraints = [
            # A double submission of the same file with the same options while the first is still pending
            # is the same job (see import_job_create).
            models.UniqueConstraint(
                fields=["store", "sha256", "skip_invalid", "update_existing", "dry_run"],
                condition=Q(status__in=["queued", "running"]),
                name="import_job_pending_once",
            ),
        ]

    def __str__(self):
        return f"{self.store_id} {self.original_filename} ({self.status})"

    @property
    def is_done(self) -> bool:
        return self.status in (ImportJobStatus.FINISHED, ImportJobStatus.FAILED)

    @transition(field=status, source=ImportJobStatus.QUEUED, target=ImportJobStatus.RUNNING)
    def start(self, *, at):
        self.started_at = at

    @transition(field=status, source=ImportJobStatus.RUNNING, target=ImportJobStatus.FINISHED)
    def finish(self, *, at):
        self.finished_at = at
        self.progress_percent = 100

    @transition(
        field=status, source=[ImportJobStatus.QUEUED, ImportJobStatus.RUNNING], target=ImportJobStatus.FAILED
    )
    def fail(self, *, at, message):
        self.finished_at = at
        self.failure_message = message


class ImportJobEvent(models.Model):
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="events", verbose_name=_("job"))
    kind = models.CharField(_("event"), max_length=40)
    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("order import event")
        verbose_name_plural = _("order import events")
        indexes = [models.Index(fields=["job", "created_at"], name="import_job_event_time")]

    def __str__(self):
        return f"{self.job_id} {self.kind}"
