"""`gridcare demo_logins`: one demo login per role, and the portal demo customer with its bound 户号."""

from django.core.management.base import BaseCommand

from gridcare.customers import demo


class Command(BaseCommand):
    help = "Print the demo logins created by `gridcare seed` (one per staff role, plus the portal customer)."

    def handle(self, *args, **options):
        staff = demo.demo_logins()
        if not staff:
            self.stdout.write("No demo logins yet: run `gridcare seed --customers 5000 --seed 42` first.")
            return
        self.stdout.write(f"Demo logins (password for all: {demo.DEMO_PASSWORD})")
        self.stdout.write("  staff console:")
        width = max(len(s["username"]) for s in staff)
        for s in staff:
            self.stdout.write(f"    {s['username']:<{width}}  {s['password']}  {s['role']}  {s['unit']}")
        portal = demo.portal_login()
        if portal is None:
            self.stdout.write("  portal: no demo customer user (seed has not created it)")
            return
        self.stdout.write("  customer portal:")
        self.stdout.write(
            f"    {portal['username']}  {portal['password']}  {portal['role']}  "
            f"bound 户号 {portal['account_number'] or '—'} ({portal['customer_name']}, "
            f"phone ending {portal['phone_last4']})"
        )
