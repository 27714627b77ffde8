"""Inspections (隐患排查): tasks made from the ledger's control measures, their cadences and due windows in Beijing
time, shutdowns that suspend them, and check records that are never edited.

The domain modules here (cadence, workdays, tasks, occurrences, records) import neither SQLAlchemy nor FastAPI;
`store` keeps tasks, shutdowns, checkpoints and records, and is what api/ and cli/ call.
"""
