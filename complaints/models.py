"""Complaint tickets with their events and evidence, appeals against violations with theirs, buyer contacts
(messages, calls) and seller notifications."""

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class ComplaintKind(models.TextChoices):
    COUNTERFEIT = "counterfeit", _("counterfeit goods")
    NOT_AS_DESCRIBED = "not_as_described", _("not as described")
    FALSE_DISPATCH = "false_dispatch", _("false dispatch")
    LOGISTICS = "logistics", _("logistics")
    CUSTOMER_SERVICE = "customer_service", _("customer service")
    PRODUCT_QUALITY = "product_quality", _("product quality")
    OTHER = "other", _("other")


class NotAsDescribed(models.TextChoices):
    """The sub-kinds of a not-as-described complaint (货不对板)."""

    DIFFERENT_ITEM = "different_item", _("a different item")
    LOWER_VALUE = "lower_value", _("a clearly lower-value item")
    MISSING_PARTS = "missing_parts", _("missing parts or an empty parcel")


class ComplaintSource(models.TextChoices):
    BUYER = "buyer", _("buyer")
    BRAND_OWNER = "brand_owner", _("brand owner")
    REGULATOR_12315 = "regulator_12315", _("regulator: 12315 hotline")
    REGULATOR_LOCAL_OFFICE = "regulator_local_office", _("regulator: local market-supervision office")
    PLATFORM = "platform", _("platform")


REGULATOR_SOURCES = (ComplaintSource.REGULATOR_12315, ComplaintSource.REGULATOR_LOCAL_OFFICE)


class ComplaintStatus(models.TextChoices):
    OPEN = "open", _("open")
    AWAITING_SELLER = "awaiting_seller", _("awaiting the seller's reply")
    UNDER_REVIEW = "under_review", _("under review")
    UPHELD = "upheld", _("upheld")
    DISMISSED = "dismissed", _("dismissed")


DECIDED_STATUSES = (ComplaintStatus.UPHELD, ComplaintStatus.DISMISSED)


class Complaint(ConcurrentTransitionMixin, models.Model):
    store = models.ForeignKey(
        "merchants.Store", on_delete=models.PROTECT, related_name="complaints", verbose_name=_("store")
    )
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
        verbose_name=_("order"),
    )
    listing = models.ForeignKey(
        "merchants.Listing",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
        verbose_name=_("listing"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ComplaintKind.choices)
    sub_kind = models.CharField(
        _("what was wrong"), max_length=20, choices=NotAsDescribed.choices, blank=True, default=""
    )
    source = models.CharField(_("source"), max_length=30, choices=ComplaintSource.choices)
    # Stored (not computed) so the reviewer queue sorts regulator complaints first on an index.
    from_regulator = models.BooleanField(_("from a regulator"), default=False, editable=False)
    buyer_statement = models.TextField(_("complainant's statement"))
    # Logistics complaints on platform-shipped orders are the platform carrier desk's, never the seller's.
    carrier_desk = models.BooleanField(_("for the platform's carrier desk"), default=False, editable=False)
    status = FSMField(
        _("status"),
        max_length=20,
        choices=ComplaintStatus.choices,
        default=ComplaintStatus.OPEN,
        protected=True,
    )
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_complaints",
        verbose_name=_("assigned reviewer"),
    )
    reply_due_at = models.DateTimeField(_("seller's reply due"), null=True, blank=True)
    seller_statement = models.TextField(_("seller's statement"), blank=True)
    seller_replied_at = models.DateTimeField(_("seller replied"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision_reason = models.TextField(_("decision reason"), blank=True)
    violation = models.ForeignKey(
        "merchants.Violation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("violation recorded"),
    )
    order_refunded = models.BooleanField(_("order refunded"), default=False)
    compensation = models.DecimalField(
        _("extra compensation (CNY)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    # A completed order can no longer be refunded (DESIGN: shipped/delivered → refunded only): the buyer's
    # refund is paid from the deposit as consumer compensation instead, booked with the violation.
    deposit_refund = models.DecimalField(
        _("buyer's refund paid from the deposit (CNY)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
    )
    referred_to_authorities = models.BooleanField(_("referred to the authorities"), default=False)

    class Meta:
        ordering = ["-from_regulator", models.F("reply_due_at").asc(nulls_last=True), "opened_at", "id"]
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        permissions = [
            ("handle_complaint", _("Can open and assign complaints and ask sellers for information")),
            ("decide_complaint", _("Can uphold or dismiss complaints")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(from_regulator=True, source__in=REGULATOR_SOURCES)
                | (Q(from_regulator=False) & ~Q(source__in=REGULATOR_SOURCES)),
                name="complaint_regulator_flag_matches_source",
            ),
            models.CheckConstraint(
                condition=Q(kind=ComplaintKind.NOT_AS_DESCRIBED, sub_kind__in=NotAsDescribed.values)
                | (~Q(kind=ComplaintKind.NOT_AS_DESCRIBED) & Q(sub_kind="")),
                name="complaint_sub_kind_only_not_as_described",
                # Shown by the admin's add form (model validation runs before complaint_open).
                violation_error_message=_(
                    "Say what was not as described (a different item, a lower-value item, or missing parts); "
                    "only a not-as-described complaint has a sub-kind."
                ),
            ),
            models.CheckConstraint(
                condition=Q(referred_to_authorities=False) | Q(kind=ComplaintKind.COUNTERFEIT),
                name="complaint_referral_only_counterfeit",
            ),
        ]
        indexes = [
            # The reviewer queue: undecided complaints, regulator first, by deadline.
            models.Index(
                fields=["status", "-from_regulator", "reply_due_at", "opened_at"], name="complaint_queue"
            ),
            models.Index(fields=["store", "status", "reply_due_at"], name="complaint_store_status_due"),
            models.Index(fields=["store", "-opened_at"], name="complaint_store_opened"),
        ]

    def __str__(self):
        return gettext("Complaint #%(id)s (%(kind)s)") % {"id": self.pk, "kind": self.get_kind_display()}

    @property
    def is_decided(self) -> bool:
        return self.status in DECIDED_STATUSES

    def reply_overdue(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.status == ComplaintStatus.AWAITING_SELLER
            and self.reply_due_at is not None
            and self.reply_due_at <= now
        )

    def reply_missed(self, now=None) -> bool:
        """The seller let the reply deadline pass without replying, whatever the complaint's state now."""
        now = now or timezone.now()
        return self.reply_due_at is not None and self.reply_due_at <= now and self.seller_replied_at is None

    # --- transitions: only this row changes; the services save and write the events ---

    def _not_for_carrier_desk(self) -> bool:
        return not self.carrier_desk

    @transition(
        field=status,
        source=ComplaintStatus.OPEN,
        target=ComplaintStatus.AWAITING_SELLER,
        conditions=[_not_for_carrier_desk],
    )
    def request_info(self, *, due_at):
        self.reply_due_at = due_at

    @transition(field=status, source=ComplaintStatus.AWAITING_SELLER, target=ComplaintStatus.UNDER_REVIEW)
    def seller_reply(self, *, statement, at):
        self.seller_statement = statement
        self.seller_replied_at = at

    @transition(
        field=status,
        source=[ComplaintStatus.OPEN, ComplaintStatus.AWAITING_SELLER],
        target=ComplaintStatus.UNDER_REVIEW,
    )
    def start_review(self):
        pass

    @transition(field=status, source=ComplaintStatus.UNDER_REVIEW, target=ComplaintStatus.UPHELD)
    def uphold(self, *, at, by, reason):
        self.decided_at, self.decided_by, self.decision_reason = at, by, reason

    @transition(field=status, source=ComplaintStatus.UNDER_REVIEW, target=ComplaintStatus.DISMISSED)
    def dismiss(self, *, at, by, reason):
        self.decided_at, self.decided_by, self.decision_reason = at, by, reason


class ComplaintEvent(models.Model):
    """One row per business event of a complaint: each transition, assignment, reply, decision."""

    complaint = models.ForeignKey(
        Complaint, on_delete=models.CASCADE, related_name="events", verbose_name=_("complaint")
    )
    kind = models.CharField(_("event"), max_length=40)
    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("complaint event")
        verbose_name_plural = _("complaint events")
        indexes = [models.Index(fields=["complaint", "created_at"], name="complaint_event_time")]

    def __str__(self):
        return f"{self.complaint_id} {self.kind}"


# Evidence lives under MEDIA_ROOT, which no URL serves: files go out only through views that check access.
# No location is given, so the storage follows MEDIA_ROOT (and its overrides in tests).
evidence_storage = FileSystemStorage()


class ComplaintEvidence(models.Model):
    class Party(models.TextChoices):
        COMPLAINANT = "complainant", _("complainant")
        SELLER = "seller", _("seller")

    complaint = models.ForeignKey(
        Complaint, on_delete=models.CASCADE, related_name="evidence", verbose_name=_("complaint")
    )
    party = models.CharField(_("from"), max_length=20, choices=Party.choices)
    # A name chosen by us (complaint id, random token, the extension of the detected type), never the upload's.
    file = models.FileField(_("file"), storage=evidence_storage, upload_to="complaints/", max_length=200)
    original_name = models.CharField(_("file name"), max_length=120)
    content_type = models.CharField(_("type"), max_length=40)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")

    def __str__(self):
        return self.original_name


class BuyerMessage(models.Model):
    """A buyer's message about an order and when (and by whom) it was answered."""

    class Source(models.TextChoices):
        FORM = "form", _("form")
        CSV = "csv", _("file import")
        CHAT = "chat", _("chat system")

    store = models.ForeignKey("merchants.Store", on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, related_name="buyer_messages", verbose_name=_("order")
    )
    sent_at = models.DateTimeField(_("sent"))
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    answered_by_human = models.BooleanField(_("answered by a person"), default=False)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.FORM)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("buyer message")
        verbose_name_plural = _("buyer messages")
        constraints = [
            # The same message imported twice is stored once.
            models.UniqueConstraint(fields=["order", "sent_at"], name="buyer_message_once"),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True) | Q(answered_at__gte=models.F("sent_at")),
                name="buyer_message_answered_after_sent",
            ),
        ]
        indexes = [models.Index(fields=["store", "sent_at"], name="buyer_message_store_sent")]

    def __str__(self):
        return f"{self.order_id} {self.sent_at:%Y-%m-%d %H:%M}"


class CallAttempt(models.Model):
    """A call about an order to its buyer, connected or not (the lost-contact check reads these)."""

    class Source(models.TextChoices):
        FORM = "form", _("form")
        CSV = "csv", _("file import")
        CALL_SYSTEM = "call_system", _("call system")

    store = models.ForeignKey("merchants.Store", on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, related_name="call_attempts", verbose_name=_("order")
    )
    called_at = models.DateTimeField(_("called"))
    connected = models.BooleanField(_("connected"))
    source = models.CharField(_("source"), max_length=12, choices=Source.choices, default=Source.FORM)
    external_id = models.CharField(_("call system id"), max_length=64, null=True, blank=True, unique=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-called_at", "-id"]
        verbose_name = _("call attempt")
        verbose_name_plural = _("call attempts")
        constraints = [models.UniqueConstraint(fields=["order", "called_at"], name="call_attempt_once")]
        indexes = [
            models.Index(fields=["order", "called_at"], name="call_order_time"),
            # The lost-contact check starts from recent unconnected calls only.
            models.Index(fields=["called_at"], condition=Q(connected=False), name="call_unconnected"),
        ]

    def __str__(self):
        return (
            f"{self.order_id} {self.called_at:%Y-%m-%d %H:%M} {'connected' if self.connected else 'missed'}"
        )


class Notification(models.Model):
    """Something the store should see on its dashboard (and by e-mail): a new complaint, a request, a
    decision, an appeal window about to close.

    `text` is stored untranslated with `%(name)s` placeholders filled from `params` when shown, so it reads
    in the seller's language whoever triggered it. `cause_key` makes a notification of a scheduled check
    once per cause; `emailed_at` says the e-mail went out (or found no owner to go to), so e-mails lost
    while the broker was down are caught up by the `notification_emails` check."""

    class Kind(models.TextChoices):
        COMPLAINT_OPENED = "complaint_opened", _("new complaint")
        INFORMATION_REQUESTED = "information_requested", _("information requested")
        COMPLAINT_DECIDED = "complaint_decided", _("complaint decided")
        APPEAL_DECIDED = "appeal_decided", _("appeal decided")
        APPEAL_WINDOW_CLOSING = "appeal_window_closing", _("appeal window closing")

    store = models.ForeignKey(
        "merchants.Store", on_delete=models.CASCADE, related_name="notifications", verbose_name=_("store")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    text = models.CharField(_("text"), max_length=300)
    params = models.JSONField(default=dict, blank=True)
    link = models.CharField(_("link"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    cause_key = models.CharField(_("cause"), max_length=100, blank=True, default="")
    emailed_at = models.DateTimeField(_("e-mailed"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["cause_key"], condition=~Q(cause_key=""), name="notification_once_per_cause"
            )
        ]
        indexes = [
            models.Index(fields=["store", "-created_at"], name="notification_store_time"),
            # The e-mail catch-up starts from the few notifications not e-mailed yet.
            models.Index(
                fields=["created_at"], condition=Q(emailed_at__isnull=True), name="notification_not_emailed"
            ),
        ]

    def __str__(self):
        return self.message

    @property
    def message(self) -> str:
        try:
            return gettext(self.text) % self.params
        except (KeyError, TypeError, ValueError):
            return gettext(self.text)

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


# --- Appeals against violations (RULES §10) ---------------------------------------------------------


class AppealStatus(models.TextChoices):
    SUBMITTED = "submitted", _("submitted")
    UNDER_REVIEW = "under_review", _("under review")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")


OPEN_APPEAL_STATUSES = (AppealStatus.SUBMITTED, AppealStatus.UNDER_REVIEW)
DECIDED_APPEAL_STATUSES = (AppealStatus.APPROVED, AppealStatus.REJECTED)
DECIDE_APPEAL = "complaints.decide_appeal"


class Appeal(ConcurrentTransitionMixin, models.Model):
    """A store's appeal against one of its violations: the first within the window after the violation, a
    second (final) one only within the window after the first was rejected."""

    violation = models.ForeignKey(
        "merchants.Violation", on_delete=models.PROTECT, related_name="appeals", verbose_name=_("violation")
    )
    store = models.ForeignKey(
        "merchants.Store", on_delete=models.PROTECT, related_name="appeals", verbose_name=_("store")
    )
    number = models.PositiveSmallIntegerField(_("appeal number"))
    statement = models.TextField(_("the store's statement"))
    status = FSMField(
        _("status"),
        max_length=20,
        choices=AppealStatus.choices,
        default=AppealStatus.SUBMITTED,
        protected=True,
    )
    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decide_by = models.DateTimeField(_("decide by"))
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reviewed_appeals",
        verbose_name=_("reviewer"),
    )
    review_started_at = models.DateTimeField(_("review started"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision_reason = models.TextField(_("decision reason"), blank=True)

    class Meta:
        ordering = ["decide_by", "id"]
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        permissions = [("decide_appeal", _("Can review, approve and reject appeals against violations"))]
        constraints = [
            models.UniqueConstraint(fields=["violation", "number"], name="appeal_number_once_per_violation"),
            models.CheckConstraint(condition=Q(number__in=(1, 2)), name="appeal_number_first_or_second"),
            # One open appeal per violation at a time, whatever the race.
            models.UniqueConstraint(
                fields=["violation"],
                condition=Q(status__in=OPEN_APPEAL_STATUSES),
                name="appeal_one_open_per_violation",
            ),
        ]
        indexes = [
            # The reviewer queue: open appeals by their decision deadline.
            models.Index(fields=["status", "decide_by"], name="appeal_queue"),
            # Second appeal windows: rejected appeals by the time of their rejection.
            models.Index(
                fields=["decided_at"], condition=Q(status="rejected"), name="appeal_rejected_decided"
            ),
            models.Index(fields=["store", "-submitted_at"], name="appeal_store_submitted"),
        ]

    def __str__(self):
        return gettext("Appeal #%(id)s (%(number)s of violation %(violation)s)") % {
            "id": self.pk,
            "number": self.number,
            "violation": self.violation_id,
        }

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_APPEAL_STATUSES

    @property
    def is_decided(self) -> bool:
        return self.status in DECIDED_APPEAL_STATUSES

    def overdue(self, now=None) -> bool:
        return self.is_open and self.decide_by <= (now or timezone.now())

    # --- transitions: only this row changes; the services save, write the events and touch the violation ---

    @transition(
        field=status,
        source=AppealStatus.SUBMITTED,
        target=AppealStatus.UNDER_REVIEW,
        permission=DECIDE_APPEAL,
    )
    def start_review(self, *, at, by):
        self.review_started_at, self.reviewer = at, by

    @transition(
        field=status, source=AppealStatus.UNDER_REVIEW, target=AppealStatus.APPROVED, permission=DECIDE_APPEAL
    )
    def approve(self, *, at, by, reason):
        self.decided_at, self.decided_by, self.decision_reason = at, by, reason

    @transition(
        field=status, source=AppealStatus.UNDER_REVIEW, target=AppealStatus.REJECTED, permission=DECIDE_APPEAL
    )
    def reject(self, *, at, by, reason):
        self.decided_at, self.decided_by, self.decision_reason = at, by, reason


class AppealEvent(models.Model):
    """One row per transition of an appeal: who, when, from, to, why."""

    appeal = models.ForeignKey(
        Appeal, on_delete=models.CASCADE, related_name="events", verbose_name=_("appeal")
    )
    kind = models.CharField(_("event"), max_length=40)
    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("appeal event")
        verbose_name_plural = _("appeal events")
        indexes = [models.Index(fields=["appeal", "created_at"], name="appeal_event_time")]

    def __str__(self):
        return f"{self.appeal_id} {self.kind}"


class AppealEvidence(models.Model):
    """A file the store sent with its appeal, checked by content (complaints/uploads.py) and stored under a
    name of ours in the same storage as complaint evidence: outside the web root, served by checking views."""

    appeal = models.ForeignKey(
        Appeal, on_delete=models.CASCADE, related_name="evidence", verbose_name=_("appeal")
    )
    file = models.FileField(_("file"), storage=evidence_storage, upload_to="appeals/", max_length=200)
    original_name = models.CharField(_("file name"), max_length=120)
    content_type = models.CharField(_("type"), max_length=40)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("appeal evidence file")
        verbose_name_plural = _("appeal evidence files")

    def __str__(self):
        return self.original_name
