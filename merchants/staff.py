"""The platform staff groups and what each may do in the admin."""

COMPLIANCE_REVIEWER = "compliance reviewer"
QUALITY_INSPECTOR = "quality inspector"
FINANCE = "finance"

# app_label.codename for each group; view_* lets them read what they do not change.
STAFF_GROUP_PERMISSIONS = {
    COMPLIANCE_REVIEWER: [
        "merchants.review_store",
        "merchants.sanction_store",
        "merchants.record_violation",
        "merchants.view_violation",
        "merchants.view_pointentry",
        "merchants.view_violationtype",
        "merchants.view_occurrenceladderapplication",
        "merchants.view_rulesexamrequirement",
        "merchants.view_rulesexamattempt",
        "merchants.view_pointyearclose",
        "merchants.change_violationtype",
        "merchants.remove_listing",
        "merchants.view_store",
        "merchants.view_entity",
        "merchants.change_entity",
        "merchants.view_listing",
        # add/change on listings allow only the admin's bulk import (through the services), never a form edit.
        "merchants.add_listing",
        "merchants.change_listing",
        "merchants.view_listingevent",
        "merchants.view_storeevent",
        "merchants.view_sanction",
        "merchants.add_sanction",
        "merchants.view_depositaccount",
        "merchants.view_depositentry",
        "merchants.view_membership",
        "merchants.view_brand",
        "merchants.add_brand",
        "merchants.change_brand",
        "merchants.view_brandauthorisation",
        "merchants.add_brandauthorisation",
        "merchants.change_brandauthorisation",
        "orders.view_order",
        "orders.change_order",  # after-sales refunds through the admin action; the form itself is read-only
        "orders.view_shipment",
        "orders.view_trackingevent",
        "orders.view_carrier",
        "orders.change_carrier",
        "orders.view_buyerdatareveal",
        "complaints.handle_complaint",
        "complaints.decide_complaint",
        "complaints.view_complaint",
        "complaints.view_complaintevent",
        "complaints.view_complaintevidence",  # the evidence inline on the complaint page
        "complaints.view_buyermessage",
        "complaints.view_callattempt",
        "complaints.view_notification",
        "complaints.decide_appeal",
        "complaints.view_appeal",
        "complaints.view_appealevent",
        "complaints.view_appealevidence",
        *[
            f"merchants.{verb}_{model}"
            for model in (
                "category",
                "ruleparameter",
                "screeningpattern",
                "pointladderstep",
                "occurrenceladderstep",
                "compensationrule",
                "publicholiday",
            )
            for verb in ("view", "add", "change")
        ],
        "merchants.delete_publicholiday",  # a calendar day entered by mistake must be removable
    ],
    QUALITY_INSPECTOR: [
        *[
            f"inspections.{codename}"
            for codename in (
                "view_lab",
                "add_lab",
                "change_lab",
                "view_samplinground",
                "draw_round",
                "view_inspection",
                "record_purchase",
                "send_to_lab",
                "record_result",
                "cancel_inspection",
                "view_labreport",
                "view_inspectionevent",
            )
        ],
        "orders.view_order",
        "merchants.remove_listing",
        "merchants.view_listing",
        "merchants.view_listingevent",
        "merchants.view_store",
        "merchants.view_category",
    ],
    FINANCE: [
        "merchants.adjust_deposit",
        "merchants.decide_withdrawal",
        "merchants.view_withdrawal",
        "merchants.view_settlemententry",
        "orders.view_order",
        "merchants.view_depositaccount",
        "merchants.view_depositentry",
        "merchants.view_store",
        "merchants.view_storeevent",
        "merchants.view_sanction",
        "merchants.view_category",
        "merchants.view_ruleparameter",
    ],
}


def ensure_staff_groups(sender=None, using="default", **kwargs):
    """Give each group the permissions listed above. Connected to every app's post_migrate (the permissions
    exist only after their app's), so each `migrate` brings existing groups up to date: adding a permission
    to the list is enough, no data migration needed. Only adds: a permission given by hand stays."""
    from django.contrib.auth.models import Group, Permission

    for group_name, perms in STAFF_GROUP_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=group_name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            found = (
                Permission.objects.using(using)
                .filter(content_type__app_label=app_label, codename=codename)
                .first()
            )
            if found:
                wanted.append(found)
        group.permissions.add(*wanted)
