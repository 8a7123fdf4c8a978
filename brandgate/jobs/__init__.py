"""The job queue: one interface (api.py), a local and a Celery backend."""
