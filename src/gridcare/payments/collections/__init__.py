"""Collections (催费): dunning notices, disconnection and reconnection tasks."""
