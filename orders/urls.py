from django.urls import path

from orders import views

urlpatterns = [
    path("s/<str:store_code>/orders/", views.OrderListView.as_view(), name="order-list"),
    path("s/<str:store_code>/orders/export/", views.OrderExportView.as_view(), name="order-export"),
    path("s/<str:store_code>/orders/bulk-ship/", views.OrderBulkShipView.as_view(), name="order-bulk-ship"),
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
