from django.urls import path

from orders import views

urlpatterns = [
    path("s/<str:store_code>/orders/", views.OrderListView.as_view(), name="order-list"),
    path("s/<str:store_code>/orders/export/", views.OrderExportView.as_view(), name="order-export"),
    path("s/<str:store_code>/orders/bulk-ship/", views.OrderBulkShipView.as_view(), name="order-bulk-ship"),
    path("s/<str:store_code>/orders/import/", views.OrderImportView.as_view(), name="order-import"),
    path(
        "s/<str:store_code>/orders/import/template.csv",
        views.OrderImportTemplateView.as_view(),
        name="order-import-template",
    ),
    path(
        "s/<str:store_code>/orders/import/<int:job_id>/",
        views.OrderImportJobView.as_view(),
        name="order-import-job",
    ),
    path(
        "s/<str:store_code>/orders/import/<int:job_id>/errors.csv",
        views.OrderImportFileView.as_view(kind="errors"),
        name="order-import-errors",
    ),
    path(
        "s/<str:store_code>/orders/import/<int:job_id>/file/",
        views.OrderImportFileView.as_view(kind="upload"),
        name="order-import-upload",
    ),
    path("s/<str:store_code>/orders/<int:order_id>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("s/<str:store_code>/orders/<int:order_id>/ship/", views.OrderShipView.as_view(), name="order-ship"),
    path(
        "s/<str:store_code>/orders/<int:order_id>/cancel/",
        views.OrderCancelView.as_view(),
        name="order-cancel",
    ),
    path(
        "s/<str:store_code>/orders/<int:order_id>/reveal/",
        views.OrderRevealView.as_view(),
        name="order-reveal",
    ),
]
