"""Records: decisions, the exposure ledger, incidents, legal cases, users and the audit log, in SQL."""
