"""Portal pages of customer credit (/portal/credit/): the customer's grade, its reasons, and contests."""

app_name = "portal_credit"
urlpatterns: list = []
