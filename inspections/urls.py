from django.urls import path

from inspections import views

urlpatterns = [
    path("s/<str:store_code>/inspections/", views.InspectionListView.as_view(), name="inspection-list"),
    path(
        "s/<str:store_code>/inspections/<int:inspection_id>/",
        views.InspectionDetailView.as_view(),
        name="inspection-detail",
    ),
    path(
        "s/<str:store_code>/inspections/<int:inspection_id>/retest/",
        views.InspectionRetestView.as_view(),
        name="inspection-retest",
    ),
    path(
        "s/<str:store_code>/inspections/<int:inspection_id>/reports/<int:report_id>/",
        views.InspectionReportView.as_view(),
        name="inspection-report",
    ),
]
