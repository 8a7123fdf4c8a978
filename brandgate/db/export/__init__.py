"""The audit export: one row per image with its checks, approval and cost, streamed in constant memory.

queries.py reads the rows (plain SQL, batch by batch), integrity.py checks each image's rows
against the events that recorded them, records.py builds the exported record, writers.py
writes JSONL or CSV.
"""

from brandgate.db.export.integrity import EvidenceReport, verify_evidence
from brandgate.db.export.queries import ExportFilter, check_kit_known, count_records
from brandgate.db.export.records import export_records
from brandgate.db.export.writers import CSV_COLUMNS, FORMATS, write_csv, write_jsonl

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "EvidenceReport",
    "ExportFilter",
    "check_kit_known",
    "count_records",
    "export_records",
    "verify_evidence",
    "write_csv",
    "write_jsonl",
]
