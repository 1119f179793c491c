"""/api/v1/: the operational endpoints (views.py) and the audit endpoints (audit.py) on one router."""

from rest_framework.routers import DefaultRouter

from reporting.api import audit, views

router = DefaultRouter()
views.register(router)
audit.register(router)

urlpatterns = [*views.extra_urls, *audit.extra_urls, *router.urls]
