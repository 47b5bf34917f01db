"""Staff pages of 用电检查 (issue 17 §2), under /credit/ (namespace "credit")."""

from django.urls import path

from . import views_inspections as v

urlpatterns = [
    path("inspections/", v.inspections, name="inspections"),
    path("inspections/new/", v.inspection_new, name="inspection_new"),
    path("inspections/mine/", v.inspections_mine, name="inspections_mine"),
    path("inspections/<int:inspection_id>/", v.inspection, name="inspection"),
    path("inspections/<int:inspection_id>/perform/", v.inspection_perform, name="inspection_perform"),
    path("inspections/<int:inspection_id>/refused/", v.inspection_refused, name="inspection_refused"),
    path("inspections/<int:inspection_id>/notice/", v.inspection_notice, name="inspection_notice"),
    path("notices/<int:notice_id>/", v.notice, name="notice"),
    path("notices/<int:notice_id>/done/", v.notice_done, name="notice_done"),
]
