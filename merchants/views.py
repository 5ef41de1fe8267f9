"""Seller web: thin views that parse input, call one service or selector, and show domain errors."""

import csv
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from merchants import roles
from merchants.appeal_windows import appeal_windows
from merchants.causes import cause_links
from merchants.dashboard import TREND_DAYS, seller_dashboard, trend_days
from merchants.errors import DomainError, ListingRefused
from merchants.forms import BulkUploadForm, ListingFilterForm, ListingForm, RulesExamForm, WithdrawalForm
from merchants.models import ListingStatus, Sanction
from merchants.notices import store_notices
from merchants.selectors import (
    compensation_paid,
    deposit_entries,
    deposit_summary,
    listing_counts,
    listing_for_store,
    listings_for_store,
    live_sanctions,
    membership_for_store,
    memberships_for_user,
    point_positions,
    point_totals,
    point_year_close,
    rule_decimals,
    rule_int,
    rules_exam_attempt_for_store,
    rules_exam_attempt_in_progress,
    rules_exam_attempts_for_store,
    rules_exam_requirements_open,
    settlement_entries_for_store,
    settlement_position,
    store_suspension,
    violations_for_store,
    withdrawal_refusal,
    withdrawals_for_store,
)
from merchants.services import (
    LISTING_COLUMNS_OPTIONAL,
    LISTING_COLUMNS_REQUIRED,
    SpreadsheetError,
    listing_bulk_upload,
    listing_create,
    listing_delist,
    listing_relist,
    listing_update,
    rules_exam_start,
    rules_exam_submit,
    withdrawal_request,
)

PAGE_SIZE = 25
SESSION_STORE_KEY = "current_store_code"


class SellerLoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class HomeView(LoginRequiredMixin, View):
    """Send the seller to the store they used last, or their first store."""

    def get(self, request):
        memberships = list(memberships_for_user(user=request.user))
        codes = [m.store.code for m in memberships]
        last = request.session.get(SESSION_STORE_KEY)
        if last in codes:
            return redirect("dashboard", store_code=last)
        if codes:
            return redirect("dashboard", store_code=codes[0])
        return render(request, "merchants/no_store.html", status=200)


class StoreMemberMixin(LoginRequiredMixin):
    """Resolves the store from the URL through the membership selector: a stranger's store is a 404."""

    capability = roles.VIEW_STORE

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.membership = membership_for_store(
            user=request.user, store_code=kwargs["store_code"], capability=self.capability
        )
        self.store = self.membership.store
        request.session[SESSION_STORE_KEY] = self.store.code
        # Times on seller pages are shown in the store's time zone; reset so the thread does not keep it.
        timezone.activate(ZoneInfo(self.store.time_zone))
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            timezone.deactivate()

    def context(self, **extra):
        role = self.membership.role
        return {
            "store": self.store,
            "membership": self.membership,
            "memberships": memberships_for_user(user=self.request.user),
            "can_manage_listings": roles.role_can(role, roles.MANAGE_LISTINGS),
            "can_view_deposit": roles.role_can(role, roles.VIEW_DEPOSIT),
            "can_view_orders": roles.role_can(role, roles.VIEW_ORDERS),
            "can_take_exam": roles.role_can(role, roles.TAKE_RULES_EXAM),
            "can_appeal": roles.role_can(role, roles.APPEAL_VIOLATIONS),
            **extra,
        }


class DashboardView(StoreMemberMixin, View):
    def get(self, request, store_code):
        now = timezone.now()
        counts = listing_counts(store=self.store)
        summary = (
            deposit_summary(store=self.store)
            if roles.role_can(self.membership.role, roles.VIEW_DEPOSIT)
            else None
        )
        grace_hours = rule_int("shortfall_grace_hours")
        restriction_at = (
            summary.shortfall_since + timezone.timedelta(hours=grace_hours)
            if summary and summary.shortfall_since
            else None
        )
        return render(
            request,
            "merchants/dashboard.html",
            self.context(
                counts=[(ListingStatus(s).label, s, n) for s, n in counts.items()],
                total_listings=sum(counts.values()),
                deposit=summary,
                restriction_at=restriction_at,
                sanctions=list(live_sanctions(store=self.store)),
                exam_requirements=list(rules_exam_requirements_open(store=self.store)),
                now=now,
                notice_feeds=store_notices(user=request.user, store=self.store),
                dashboard=seller_dashboard(
                    store=self.store,
                    role=self.membership.role,
                    now=now,
                    days=trend_days(request.GET.get("days")),
                ),
                trend_days=TREND_DAYS,
            ),
        )


class ListingListView(StoreMemberMixin, View):
    capability = roles.VIEW_LISTINGS

    def get(self, request, store_code):
        filters = ListingFilterForm(request.GET or None)
        status = search = None
        if filters.is_valid():
            status = filters.cleaned_data["status"] or None
            search = filters.cleaned_data["q"] or None
        page = Paginator(
            listings_for_store(store=self.store, status=status, search=search), PAGE_SIZE
        ).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "merchants/listing_list.html",
            self.context(page=page, filters=filters, query=query.urlencode()),
        )


class ListingCreateView(StoreMemberMixin, View):
    capability = roles.MANAGE_LISTINGS

    def get(self, request, store_code):
        form = ListingForm(store=self.store, initial={"promised_dispatch": "48h"})
        return render(request, "merchants/listing_form.html", self.context(form=form, listing=None))

    def post(self, request, store_code):
        form = ListingForm(request.POST, store=self.store)
        if form.is_valid():
            try:
                listing = listing_create(store=self.store, data=form.listing_data(), actor=request.user)
            except ListingRefused as refusal:
                form.add_refusal(refusal)
            else:
                if listing.status == ListingStatus.REJECTED:
                    messages.warning(
                        request, _("Saved, but screening rejected it: fix what it found and save again.")
                    )
                else:
                    messages.success(request, _("Listing %(sku)s is live.") % {"sku": listing.sku})
                return redirect("listing-edit", store_code=self.store.code, listing_id=listing.pk)
        return render(
            request, "merchants/listing_form.html", self.context(form=form, listing=None), status=400
        )


class ListingEditView(StoreMemberMixin, View):
    capability = roles.VIEW_LISTINGS

    def _form_initial(self, listing):
        return {
            "sku": listing.sku,
            "title": listing.title,
            "description": listing.description,
            "category": listing.category_id,
            "brand": listing.brand_id,
            "price": listing.price,
            "stock": listing.stock,
            "promised_dispatch": listing.promised_dispatch,
        }

    def get(self, request, store_code, listing_id):
        listing = listing_for_store(store=self.store, listing_id=listing_id)
        form = ListingForm(store=self.store, initial=self._form_initial(listing))
        return render(request, "merchants/listing_form.html", self.context(form=form, listing=listing))

    def post(self, request, store_code, listing_id):
        if not roles.role_can(self.membership.role, roles.MANAGE_LISTINGS):
            membership_for_store(user=request.user, store_code=store_code, capability=roles.MANAGE_LISTINGS)
        listing = listing_for_store(store=self.store, listing_id=listing_id)
        form = ListingForm(request.POST, store=self.store)
        if form.is_valid():
            try:
                listing = listing_update(listing=listing, data=form.listing_data(), actor=request.user)
            except ListingRefused as refusal:
                form.add_refusal(refusal)
            else:
                if listing.status == ListingStatus.REJECTED:
                    messages.warning(request, _("Saved, but screening rejected it again."))
                else:
                    messages.success(request, _("Listing %(sku)s saved.") % {"sku": listing.sku})
                return redirect("listing-edit", store_code=self.store.code, listing_id=listing.pk)
        return render(
            request, "merchants/listing_form.html", self.context(form=form, listing=listing), status=400
        )


class _ListingTransitionView(StoreMemberMixin, View):
    capability = roles.MANAGE_LISTINGS
    http_method_names = ["post"]
    service = None
    done_message = ""

    def post(self, request, store_code, listing_id):
        listing = listing_for_store(store=self.store, listing_id=listing_id)
        try:
            type(self).service(listing=listing, actor=request.user)
        except DomainError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, str(self.done_message) % {"sku": listing.sku})
        return redirect(reverse("listing-list", args=[self.store.code]))


class ListingDelistView(_ListingTransitionView):
    service = listing_delist
    done_message = gettext_lazy("Listing %(sku)s delisted.")


class ListingRelistView(_ListingTransitionView):
    service = listing_relist
    done_message = gettext_lazy("Listing %(sku)s is live again.")


class ListingBulkUploadView(StoreMemberMixin, View):
    capability = roles.MANAGE_LISTINGS
    template_name = "merchants/listing_upload.html"

    def _context(self, **extra):
        return self.context(
            columns_required=LISTING_COLUMNS_REQUIRED,
            columns_optional=LISTING_COLUMNS_OPTIONAL,
            max_mb=settings.LISTING_UPLOAD_MAX_BYTES // (1024 * 1024),
            **extra,
        )

    def get(self, request, store_code):
        return render(request, self.template_name, self._context(form=BulkUploadForm()))

    def post(self, request, store_code):
        form = BulkUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, self.template_name, self._context(form=form), status=400)
        upload = form.cleaned_data["file"]
        if upload.size > settings.LISTING_UPLOAD_MAX_BYTES:
            form.add_error(
                "file",
                _("The file is %(size).1f MB; the limit is %(limit)d MB. Split it into smaller files.")
                % {"size": upload.size / 1048576, "limit": settings.LISTING_UPLOAD_MAX_BYTES // 1048576},
            )
            return render(request, self.template_name, self._context(form=form), status=400)
        try:
            result = listing_bulk_upload(
                store=self.store, data=upload.read(), actor=request.user, dry_run=form.cleaned_data["dry_run"]
            )
        except (SpreadsheetError, ListingRefused) as error:
            for message in error.messages:
                form.add_error("file", message)
            return render(request, self.template_name, self._context(form=form), status=400)
        status = 200 if not result.errors else 400
        return render(
            request,
            self.template_name,
            self._context(form=BulkUploadForm(), result=result, dry_run=form.cleaned_data["dry_run"]),
            status=status,
        )


class ListingTemplateView(StoreMemberMixin, View):
    capability = roles.VIEW_LISTINGS

    def get(self, request, store_code):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="listings-template.csv"'
        response.write("\ufeff")  # so Excel opens it as UTF-8
        writer = csv.writer(response)
        writer.writerow(LISTING_COLUMNS_REQUIRED[:6] + LISTING_COLUMNS_OPTIONAL)
        writer.writerow(
            ["TOWEL-001", "Cotton bath towel 70x140", "general", "39.90", "120", "48", "100% cotton", ""]
        )
        return response


class WithdrawalsView(StoreMemberMixin, View):
    """Settlement balance, why a withdrawal is not possible (if so), the request form and the history."""

    capability = roles.VIEW_DEPOSIT
    template_name = "merchants/withdrawals.html"

    def _render(self, request, form, status=200):
        now = timezone.now()
        return render(
            request,
            self.template_name,
            self.context(
                form=form,
                position=settlement_position(store=self.store, now=now),
                release_days=rule_int("settlement_release_days"),
                frozen=Sanction.Kind.SETTLEMENT_FREEZE in self.store._live_sanction_kinds(now),
                refusal=withdrawal_refusal(store=self.store, now=now),
                can_request=roles.role_can(self.membership.role, roles.MANAGE_STORE),
                withdrawals=Paginator(withdrawals_for_store(store=self.store), PAGE_SIZE).get_page(
                    request.GET.get("page")
                ),
                entries=settlement_entries_for_store(store=self.store)[:PAGE_SIZE],
            ),
            status=status,
        )

    def get(self, request, store_code):
        return self._render(request, WithdrawalForm())

    def post(self, request, store_code):
        membership_for_store(user=request.user, store_code=store_code, capability=roles.MANAGE_STORE)
        form = WithdrawalForm(request.POST)
        if form.is_valid():
            try:
                withdrawal = withdrawal_request(
                    store=self.store, amount=form.cleaned_data["amount"], actor=request.user
                )
            except DomainError as error:
                for message in error.messages:
                    form.add_error("amount", message)
            else:
                messages.success(
                    request,
                    _("Withdrawal of ¥%(amount)s requested; finance will pay it out.")
                    % {"amount": withdrawal.amount},
                )
                return redirect("withdrawals", store_code=self.store.code)
        return self._render(request, form, status=400)


class ViolationsView(StoreMemberMixin, View):
    """Violations with what they cost, the point ledgers against the ladder, and restrictions in force."""

    def get(self, request, store_code):
        now = timezone.now()
        zone = ZoneInfo(self.store.time_zone)
        year = now.astimezone(zone).year
        page = Paginator(violations_for_store(store=self.store), PAGE_SIZE).get_page(request.GET.get("page"))
        links = cause_links(store_code=self.store.code, violations=page)
        windows = appeal_windows(violation_ids=[violation.pk for violation in page], now=now)
        for violation in page:
            violation.cause_url = links.get(violation.pk)
            # The first window, or the second after a rejection, as complaints counts them.
            violation.appeal_until = windows.get(violation.pk)
            violation.appeal_open = violation.appeal_until is not None
        year_start = datetime(year, 1, 1, tzinfo=zone)
        return render(
            request,
            "merchants/violations.html",
            self.context(
                page=page,
                compensation_this_year=compensation_paid(store=self.store, since=year_start),
                positions=point_positions(store=self.store, year=year),
                year=year,
                last_year=year - 1,
                last_year_totals=point_totals(store=self.store, year=year - 1),
                last_year_close=point_year_close(store=self.store, year=year - 1),
                sanctions=list(live_sanctions(store=self.store, now=now)),
                suspension=store_suspension(store=self.store),
                exam_requirements=list(rules_exam_requirements_open(store=self.store)),
                now=now,
            ),
        )


class RulesExamView(StoreMemberMixin, View):
    """The rules exam: what requires it, the sitting in progress (questions from the rule table), results."""

    capability = roles.TAKE_RULES_EXAM
    template_name = "merchants/exam.html"

    def _render(self, request, *, attempt, form, status=200):
        params = rule_decimals("rules_exam_question_count", "rules_exam_pass_share")
        return render(
            request,
            self.template_name,
            self.context(
                requirements=list(rules_exam_requirements_open(store=self.store)),
                attempt=attempt,
                form=form,
                question_count=int(params["rules_exam_question_count"]),
                pass_percent=int(params["rules_exam_pass_share"] * 100),
                attempts=Paginator(rules_exam_attempts_for_store(store=self.store), PAGE_SIZE).get_page(
                    request.GET.get("page")
                ),
            ),
            status=status,
        )

    def get(self, request, store_code):
        attempt = rules_exam_attempt_in_progress(store=self.store, user=request.user)
        form = RulesExamForm(questions=attempt.questions) if attempt else None
        return self._render(request, attempt=attempt, form=form)


class RulesExamStartView(StoreMemberMixin, View):
    capability = roles.TAKE_RULES_EXAM
    http_method_names = ["post"]

    def post(self, request, store_code):
        try:
            rules_exam_start(store=self.store, actor=request.user)
        except DomainError as error:
            for message in error.messages:
                messages.error(request, message)
        return redirect("rules-exam", store_code=self.store.code)


class RulesExamSubmitView(RulesExamView):
    http_method_names = ["post"]

    def post(self, request, store_code, attempt_id):
        attempt = rules_exam_attempt_for_store(store=self.store, attempt_id=attempt_id)
        form = RulesExamForm(request.POST, questions=attempt.questions)
        if not form.is_valid():
            return self._render(request, attempt=attempt, form=form, status=400)
        try:
            attempt = rules_exam_submit(attempt=attempt, answers=form.answers(), actor=request.user)
        except DomainError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect("rules-exam", store_code=self.store.code)
        outcome = {"score": attempt.score, "total": attempt.total}
        if attempt.passed:
            messages.success(request, _("Passed with %(score)s of %(total)s right. Thank you.") % outcome)
        else:
            messages.warning(
                request,
                _("%(score)s of %(total)s right: not enough to pass. Read the rules and try again.")
                % outcome,
            )
        return redirect("rules-exam", store_code=self.store.code)


class DepositView(StoreMemberMixin, View):
    capability = roles.VIEW_DEPOSIT

    def get(self, request, store_code):
        page = Paginator(deposit_entries(store=self.store), PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "merchants/deposit.html",
            self.context(page=page, deposit=deposit_summary(store=self.store)),
        )
