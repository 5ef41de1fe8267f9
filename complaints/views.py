"""The seller's complaints desk, appeals and buyer contacts: thin views over the complaints services and selectors."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from complaints.forms import (
    AppealFilterForm,
    AppealForm,
    BuyerMessageForm,
    CallAttemptForm,
    ComplaintFilterForm,
    ComplaintReplyForm,
    ContactImportForm,
)
from complaints.models import ComplaintStatus, evidence_storage
from complaints.selectors import (
    appeal_chance_for,
    appeal_evidence,
    appeal_evidence_for_store,
    appeal_for_store,
    appeal_timeline,
    appeals_for_store,
    buyer_messages_for_order,
    call_attempts_for_order,
    complaint_evidence,
    complaint_evidence_for_store,
    complaint_for_store,
    complaint_timeline,
    complaints_for_store,
    service_figures_for_store,
    service_rules,
    violation_for_appeal,
)
from complaints.services import (
    CONTACT_UPLOAD_MAX_BYTES,
    appeal_submit,
    buyer_message_record,
    call_attempt_record,
    complaint_seller_reply,
    contacts_import,
    notifications_mark_read,
)
from merchants import roles
from merchants.errors import DomainError
from merchants.views import StoreMemberMixin
from orders.selectors import order_for_store
from orders.views import deadline_countdown

PAGE_SIZE = 25
EVENT_LABELS = {
    "opened": gettext_lazy("opened"),
    "information_requested": gettext_lazy("your reply was requested"),
    "seller_replied": gettext_lazy("the store replied"),
    "review_started": gettext_lazy("under review"),
    "upheld": gettext_lazy("upheld"),
    "dismissed": gettext_lazy("dismissed"),
}


def _with_countdown(complaints, now):
    for complaint in complaints:
        complaint.countdown = (
            deadline_countdown(deadline=complaint.reply_due_at, now=now)
            if complaint.status == ComplaintStatus.AWAITING_SELLER and complaint.reply_due_at
            else None
        )
    return complaints


class ComplaintListView(StoreMemberMixin, View):
    def get(self, request, store_code):
        filters = ComplaintFilterForm(request.GET or None)
        chosen = filters.cleaned_data if filters.is_valid() else {}
        complaints = complaints_for_store(
            store=self.store,
            status=chosen.get("status") or None,
            kind=chosen.get("kind") or None,
            dispatched_on=chosen.get("dispatched_on"),
        )
        page = Paginator(complaints, PAGE_SIZE).get_page(request.GET.get("page"))
        _with_countdown(page.object_list, timezone.now())
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "complaints/complaint_list.html",
            self.context(page=page, filters=filters, query=query.urlencode()),
        )


class ComplaintDetailMixin(StoreMemberMixin):
    def page(self, request, complaint, form=None, status=200):
        now = timezone.now()
        can_reply = roles.role_can(self.membership.role, roles.REPLY_COMPLAINTS)
        awaiting = complaint.status == ComplaintStatus.AWAITING_SELLER and not complaint.reply_overdue(now)
        if form is None and can_reply and awaiting:
            form = ComplaintReplyForm()
        _with_countdown([complaint], now)
        events = list(complaint_timeline(complaint=complaint))
        for event in events:
            event.label = EVENT_LABELS.get(event.kind, event.kind)
        return render(
            request,
            "complaints/complaint_detail.html",
            self.context(
                complaint=complaint,
                evidence=list(complaint_evidence(complaint=complaint)),
                events=events,
                form=form if can_reply and awaiting else None,
                can_reply=can_reply,
            ),
            status=status,
        )


class ComplaintDetailView(ComplaintDetailMixin, View):
    def get(self, request, store_code, complaint_id):
        return self.page(request, complaint_for_store(store=self.store, complaint_id=complaint_id))


class ComplaintReplyView(ComplaintDetailMixin, View):
    capability = roles.REPLY_COMPLAINTS

    def post(self, request, store_code, complaint_id):
        complaint = complaint_for_store(store=self.store, complaint_id=complaint_id)
        form = ComplaintReplyForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                complaint_seller_reply(
                    complaint=complaint,
                    statement=form.cleaned_data["statement"],
                    evidence=form.cleaned_data["evidence"],
                    actor=request.user,
                )
            except DomainError as refusal:
                for message in refusal.messages:
                    form.add_error(None, message)
            else:
                messages.success(request, _("Your reply was sent; the platform will review the complaint."))
                return redirect("complaint-detail", store_code=self.store.code, complaint_id=complaint.pk)
        complaint.refresh_from_db()
        return self.page(request, complaint, form=form, status=400)


class ComplaintEvidenceView(StoreMemberMixin, View):
    """An evidence file, to members of the complaint's store only, never run by the browser."""

    def get(self, request, store_code, complaint_id, evidence_id):
        evidence = complaint_evidence_for_store(
            store=self.store, complaint_id=complaint_id, evidence_id=evidence_id
        )
        return evidence_response(evidence)


def evidence_response(evidence) -> FileResponse:
    try:
        handle = evidence_storage.open(evidence.file.name, "rb")
    except FileNotFoundError as exc:
        raise Http404(_("The file is missing.")) from exc
    inline = evidence.content_type.startswith("image/")
    response = FileResponse(
        handle,
        content_type=evidence.content_type,
        as_attachment=not inline,
        filename=evidence.original_name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


class NotificationsReadView(StoreMemberMixin, View):
    def post(self, request, store_code):
        notifications_mark_read(store=self.store, user=request.user)
        return redirect("dashboard", store_code=self.store.code)


# --- Buyer contacts -------------------------------------------------------------------------------


class ContactsView(StoreMemberMixin, View):
    """The store's customer-service figures and the contacts import."""

    capability = roles.RECORD_BUYER_CONTACTS

    def render_page(self, request, form=None, errors=None, status=200):
        return render(
            request,
            "complaints/contacts.html",
            self.context(
                figures=service_figures_for_store(store=self.store, days=30),
                rules=service_rules(),
                form=form or ContactImportForm(),
                errors=errors or [],
                max_mb=CONTACT_UPLOAD_MAX_BYTES // (1024 * 1024),
            ),
            status=status,
        )

    def get(self, request, store_code):
        return self.render_page(request)

    def post(self, request, store_code):
        form = ContactImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_page(request, form=form, status=400)
        upload = form.cleaned_data["file"]
        if upload.size > CONTACT_UPLOAD_MAX_BYTES:
            form.add_error(
                "file", _("The file is larger than %(mb)d MB.") % {"mb": CONTACT_UPLOAD_MAX_BYTES // 1048576}
            )
            return self.render_page(request, form=form, status=400)
        try:
            result = contacts_import(store=self.store, data=upload.read(), actor=request.user)
        except DomainError as refusal:
            for message in refusal.messages:
                form.add_error("file", message)
            return self.render_page(request, form=form, status=400)
        if result.errors:
            return self.render_page(request, form=form, errors=[str(e) for e in result.errors], status=400)
        messages.success(
            request,
            _("Imported %(calls)d calls and %(messages)d messages (%(duplicates)d already recorded).")
            % {"calls": result.calls, "messages": result.messages, "duplicates": result.duplicates},
        )
        return redirect("contacts", store_code=self.store.code)


class OrderContactsView(StoreMemberMixin, View):
    capability = roles.RECORD_BUYER_CONTACTS

    def render_page(self, request, order, call_form=None, message_form=None, status=200):
        return render(
            request,
            "complaints/order_contacts.html",
            self.context(
                order=order,
                calls=list(call_attempts_for_order(order=order)[:50]),
                buyer_messages=list(buyer_messages_for_order(order=order)[:50]),
                call_form=call_form or CallAttemptForm(),
                message_form=message_form or BuyerMessageForm(),
            ),
            status=status,
        )

    def get(self, request, store_code, order_id):
        return self.render_page(request, order_for_store(store=self.store, order_id=order_id))


class OrderCallRecordView(OrderContactsView):
    def get(self, request, store_code, order_id):
        return redirect("order-contacts", store_code=store_code, order_id=order_id)

    def post(self, request, store_code, order_id):
        order = order_for_store(store=self.store, order_id=order_id)
        form = CallAttemptForm(request.POST)
        if form.is_valid():
            try:
                call_attempt_record(
                    order=order,
                    called_at=form.cleaned_data["called_at"],
                    connected=form.cleaned_data["connected"],
                    actor=request.user,
                )
            except DomainError as refusal:
                for message in refusal.messages:
                    form.add_error(None, message)
            else:
                messages.success(request, _("Call recorded."))
                return redirect("order-contacts", store_code=self.store.code, order_id=order.pk)
        return self.render_page(request, order, call_form=form, status=400)


class OrderMessageRecordView(OrderContactsView):
    def get(self, request, store_code, order_id):
        return redirect("order-contacts", store_code=store_code, order_id=order_id)

    def post(self, request, store_code, order_id):
        order = order_for_store(store=self.store, order_id=order_id)
        form = BuyerMessageForm(request.POST)
        if form.is_valid():
            try:
                buyer_message_record(
                    order=order,
                    sent_at=form.cleaned_data["sent_at"],
                    answered_at=form.cleaned_data["answered_at"],
                    answered_by_human=form.cleaned_data["answered_by_human"],
                    actor=request.user,
                )
            except DomainError as refusal:
                for message in refusal.messages:
                    form.add_error(None, message)
            else:
                messages.success(request, _("Buyer message recorded."))
                return redirect("order-contacts", store_code=self.store.code, order_id=order.pk)
        return self.render_page(request, order, message_form=form, status=400)


# --- Appeals against violations -------------------------------------------------------------------

APPEAL_EVENT_LABELS = {
    "submitted": gettext_lazy("appeal filed"),
    "review_started": gettext_lazy("under review"),
    "approved": gettext_lazy("approved: the violation is revoked"),
    "rejected": gettext_lazy("rejected"),
}


class AppealListView(StoreMemberMixin, View):
    def get(self, request, store_code):
        filters = AppealFilterForm(request.GET or None)
        status = filters.cleaned_data["status"] or None if filters.is_valid() else None
        page = Paginator(appeals_for_store(store=self.store, status=status), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        now = timezone.now()
        for appeal in page.object_list:
            appeal.is_overdue = appeal.overdue(now)
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "complaints/appeal_list.html",
            self.context(page=page, filters=filters, query=query.urlencode(), now=now),
        )


class AppealDetailView(StoreMemberMixin, View):
    def get(self, request, store_code, appeal_id):
        appeal = appeal_for_store(store=self.store, appeal_id=appeal_id)
        now = timezone.now()
        events = list(appeal_timeline(appeal=appeal))
        for event in events:
            event.label = APPEAL_EVENT_LABELS.get(event.kind, event.kind)
        can_appeal = roles.role_can(self.membership.role, roles.APPEAL_VIOLATIONS)
        # The next appeal, offered on the latest one only (after a rejection, within the window).
        chance = appeal_chance_for(violation=appeal.violation, now=now)
        offer_next = can_appeal and chance.allowed and chance.number == appeal.number + 1
        return render(
            request,
            "complaints/appeal_detail.html",
            self.context(
                appeal=appeal,
                violation=appeal.violation,
                evidence=list(appeal_evidence(appeal=appeal)),
                events=events,
                is_overdue=appeal.overdue(now),
                chance=chance,
                offer_next=offer_next,
                now=now,
            ),
        )


class AppealCreateView(StoreMemberMixin, View):
    """The appeal form for one of the store's violations (owners only); the service decides whether it is
    the first or the second appeal and refuses it outside the windows."""

    capability = roles.APPEAL_VIOLATIONS

    def render_page(self, request, violation, form=None, status=200):
        chance = appeal_chance_for(violation=violation)
        return render(
            request,
            "complaints/appeal_form.html",
            self.context(
                violation=violation,
                chance=chance,
                form=form or (AppealForm() if chance.allowed else None),
                now=timezone.now(),
            ),
            status=status,
        )

    def get(self, request, store_code, violation_id):
        return self.render_page(request, violation_for_appeal(store=self.store, violation_id=violation_id))

    def post(self, request, store_code, violation_id):
        violation = violation_for_appeal(store=self.store, violation_id=violation_id)
        form = AppealForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                appeal = appeal_submit(
                    violation=violation,
                    actor=request.user,
                    statement=form.cleaned_data["statement"],
                    files=form.cleaned_data["evidence"],
                )
            except DomainError as refusal:
                for message in refusal.messages:
                    form.add_error(None, message)
            else:
                messages.success(
                    request,
                    _("Appeal filed; the platform decides by %(due)s. The penalties stay in force meanwhile.")
                    % {"due": timezone.localtime(appeal.decide_by).strftime("%Y-%m-%d %H:%M")},
                )
                return redirect("appeal-detail", store_code=self.store.code, appeal_id=appeal.pk)
        violation.refresh_from_db()
        return self.render_page(request, violation, form=form, status=400)


class AppealEvidenceView(StoreMemberMixin, View):
    """An appeal's evidence file, to members of its store only, never run by the browser."""

    def get(self, request, store_code, appeal_id, evidence_id):
        evidence = appeal_evidence_for_store(store=self.store, appeal_id=appeal_id, evidence_id=evidence_id)
        return evidence_response(evidence)
