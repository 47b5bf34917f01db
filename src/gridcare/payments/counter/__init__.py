"""The counter (柜台): cashier shifts, the till close and daily sheet, counter payments, receipts."""
