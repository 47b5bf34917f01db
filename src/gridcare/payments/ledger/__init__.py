"""The account ledger: receivables, payments and allocation, late fee, reversals, waivers, refunds, statement."""
