"""The staff home (工作台) at `/` (thin: the reads are in `home.selectors`)."""

from django.shortcuts import redirect, render

from gridcare.core.permissions import Perm, Role, has_perm
from gridcare.core.views import staff_required

from . import selectors


@staff_required(Perm.CUSTOMER_VIEW, Perm.ORG_VIEW)
def staff_home(request):
    today = selectors.local_today()
    todo = selectors.staff_todo(user=request.user)
    return render(
        request,
        "home/home.html",
        {
            "today": today,
            "todo": todo,
            "todo_total": sum(i.count for i in todo),
            "figures": selectors.unit_figures(user=request.user, today=today),
            "can_search": has_perm(request.user, Perm.CUSTOMER_VIEW),
        },
    )


def home(request):
    """`/`: customers who open the console's address go to their portal; staff get the staff home."""
    user = request.user
    if user.is_authenticated and getattr(user, "role", None) == Role.CUSTOMER:
        return redirect("portal:home")
    return staff_home(request)
