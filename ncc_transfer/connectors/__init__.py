"""MIS connectors: one module per route, over the shared HTTP layer in ``http``."""
