"""Bolt middleware: retry de-duplication, workspace checks, and who may click an image's buttons."""
