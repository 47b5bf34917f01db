"""Reconciliation (对账) of the channels' daily statements against our payments."""
