"""Payments (收费): one Django app (label ``payments``, one set of migrations), split by concern into
sub-packages, each with the app skeleton (models, services, selectors, api, views) where it applies:

- `ledger/`: the account ledger, receivables, payments and their allocation, the late fee (`latefee`, pure),
  reversals, waivers, refunds of credit, the statement (`statement`) and the ledger pages' reads.
- `channels/`: how money arrives — online orders and channel notifications (`gateways`, `signatures`), the
  portal and public pay pages, the sandbox gateway, signed machine APIs (`signed_requests`, `terminals`,
  `agents`), bank withholding (`withholding`).
- `counter/`: cashier shifts, the till close and daily sheet, the counter page, receipts.
- `collections/`: dunning, disconnection and reconnection tasks.
- `prepaid/`: prepaid accounts, daily estimates, low-balance alerts.
- `reconciliation/`: channel statements matched against our payments.
- `reports/`: collection rate, arrears ageing, channel mix, their Excel export.
- `demo/`: demo data for the payments pages.

At the top: `models` (registers every sub-package's models), `choices`, `states` (allowed state
transitions), `notices` (the app's notices through the outbox), `urls` / `portal_urls` (every page).
"""
