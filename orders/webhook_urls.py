"""Machine-to-machine endpoints, mounted at /webhooks/ (no session, no CSRF: each call is signed)."""

from django.urls import path

from orders.webhooks import carrier_tracking_webhook

app_name = "webhooks"

urlpatterns = [
    path("carriers/<slug:code>/tracking/", carrier_tracking_webhook, name="carrier_tracking"),
]
