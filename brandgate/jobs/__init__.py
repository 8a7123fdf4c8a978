"""The job queue: one interface (contract.py), a local and a Celery backend."""
