from django.urls import path

from complaints import views
from complaints.webhooks import call_system_webhook

urlpatterns = [
    path("s/<str:store_code>/complaints/", views.ComplaintListView.as_view(), name="complaint-list"),
    path(
        "s/<str:store_code>/complaints/<int:complaint_id>/",
        views.ComplaintDetailView.as_view(),
        name="complaint-detail",
    ),
    path(
        "s/<str:store_code>/complaints/<int:complaint_id>/reply/",
        views.ComplaintReplyView.as_view(),
        name="complaint-reply",
    ),
    path(
        "s/<str:store_code>/complaints/<int:complaint_id>/evidence/<int:evidence_id>/",
        views.ComplaintEvidenceView.as_view(),
        name="complaint-evidence",
    ),
    path("s/<str:store_code>/appeals/", views.AppealListView.as_view(), name="appeal-list"),
    path(
        "s/<str:store_code>/appeals/<int:appeal_id>/",
        views.AppealDetailView.as_view(),
        name="appeal-detail",
    ),
    path(
        "s/<str:store_code>/appeals/<int:appeal_id>/evidence/<int:evidence_id>/",
        views.AppealEvidenceView.as_view(),
        name="appeal-evidence",
    ),
    path(
        "s/<str:store_code>/violations/<int:violation_id>/appeal/",
        views.AppealCreateView.as_view(),
        name="appeal-create",
    ),
    path(
        "s/<str:store_code>/notifications/read/",
        views.NotificationsReadView.as_view(),
        name="notifications-read",
    ),
    path("s/<str:store_code>/contacts/", views.ContactsView.as_view(), name="contacts"),
    path(
        "s/<str:store_code>/orders/<int:order_id>/contacts/",
        views.OrderContactsView.as_view(),
        name="order-contacts",
    ),
    path(
        "s/<str:store_code>/orders/<int:order_id>/contacts/call/",
        views.OrderCallRecordView.as_view(),
        name="order-call-record",
    ),
    path(
        "s/<str:store_code>/orders/<int:order_id>/contacts/message/",
        views.OrderMessageRecordView.as_view(),
        name="order-message-record",
    ),
    # Machine-to-machine: no session, no CSRF; each call is signed (see complaints/webhooks.py).
    path("webhooks/calls/", call_system_webhook, name="call_system_webhook"),
]
