from django.contrib.auth import views as auth_views
from django.urls import path

from merchants import views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("accounts/login/", views.SellerLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("s/<str:store_code>/", views.DashboardView.as_view(), name="dashboard"),
    path("s/<str:store_code>/listings/", views.ListingListView.as_view(), name="listing-list"),
    path("s/<str:store_code>/listings/new/", views.ListingCreateView.as_view(), name="listing-create"),
    path("s/<str:store_code>/listings/upload/", views.ListingBulkUploadView.as_view(), name="listing-upload"),
    path(
        "s/<str:store_code>/listings/upload/template.csv",
        views.ListingTemplateView.as_view(),
        name="listing-upload-template",
    ),
    path(
        "s/<str:store_code>/listings/<int:listing_id>/", views.ListingEditView.as_view(), name="listing-edit"
    ),
    path(
        "s/<str:store_code>/listings/<int:listing_id>/delist/",
        views.ListingDelistView.as_view(),
        name="listing-delist",
    ),
    path(
        "s/<str:store_code>/listings/<int:listing_id>/relist/",
        views.ListingRelistView.as_view(),
        name="listing-relist",
    ),
    path("s/<str:store_code>/deposit/", views.DepositView.as_view(), name="deposit"),
    path("s/<str:store_code>/withdrawals/", views.WithdrawalsView.as_view(), name="withdrawals"),
    path("s/<str:store_code>/violations/", views.ViolationsView.as_view(), name="violations"),
    path("s/<str:store_code>/exam/", views.RulesExamView.as_view(), name="rules-exam"),
    path("s/<str:store_code>/exam/start/", views.RulesExamStartView.as_view(), name="rules-exam-start"),
    path(
        "s/<str:store_code>/exam/<int:attempt_id>/submit/",
        views.RulesExamSubmitView.as_view(),
        name="rules-exam-submit",
    ),
]
