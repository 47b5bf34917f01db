"""The channels' pages: portal and public pay, the sandbox gateway, bank withholding."""
