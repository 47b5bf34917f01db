"""Payment channels: online orders and notifications, public and portal pay, terminals, agents, withholding."""
