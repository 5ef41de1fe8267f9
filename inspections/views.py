"""Seller pages of spot-check inspections: thin views over the selectors and one service."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from inspections.models import InspectionStatus
from inspections.reports import report_response
from inspections.rules import retest_window_open
from inspections.selectors import inspection_for_store, inspections_for_store, report_for_store
from inspections.services import inspection_request_retest
from merchants import roles
from merchants.errors import DomainError
from merchants.rules import money
from merchants.selectors import rule_decimals, rule_int
from merchants.views import PAGE_SIZE, StoreMemberMixin


class InspectionListView(StoreMemberMixin, View):
    def get(self, request, store_code):
        page = Paginator(inspections_for_store(store=self.store), PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "inspections/inspection_list.html",
            self.context(page=page, now=timezone.now(), failed=InspectionStatus.FAILED),
        )


class InspectionDetailView(StoreMemberMixin, View):
    def get(self, request, store_code, inspection_id):
        inspection = inspection_for_store(store=self.store, inspection_id=inspection_id)
        now = timezone.now()
        window_open = inspection.status == InspectionStatus.FAILED and retest_window_open(
            now=now, deadline=inspection.retest_deadline
        )
        return render(
            request,
            "inspections/inspection_detail.html",
            self.context(
                inspection=inspection,
                reports=list(inspection.reports.all()),
                window_open=window_open,
                window_days=rule_int("retest_window_working_days"),
                can_request_retest=roles.role_can(self.membership.role, roles.REQUEST_RETEST),
                retest_fee=money(rule_decimals("spot_check_retest_fee")["spot_check_retest_fee"])
                if window_open
                else None,
            ),
        )


class InspectionRetestView(StoreMemberMixin, View):
    capability = roles.REQUEST_RETEST
    http_method_names = ["post"]

    def post(self, request, store_code, inspection_id):
        inspection = inspection_for_store(store=self.store, inspection_id=inspection_id)
        try:
            inspection = inspection_request_retest(inspection=inspection, actor=request.user)
        except DomainError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(
                request,
                _("Re-test requested; the fee of %(fee)s CNY was charged to the store's settlement account.")
                % {"fee": inspection.retest_fee},
            )
        return redirect("inspection-detail", store_code=self.store.code, inspection_id=inspection_id)


class InspectionReportView(StoreMemberMixin, View):
    """The lab report, to the store's members only (another store's report is a 404), as a download."""

    def get(self, request, store_code, inspection_id, report_id):
        report = report_for_store(store=self.store, inspection_id=inspection_id, report_id=report_id)
        return report_response(report)
