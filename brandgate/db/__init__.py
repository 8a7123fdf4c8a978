"""The audit database: models, the one place engines are built, and the hash-chained trail."""
