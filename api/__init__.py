"""Starlette app: translates HTTP to calls into the application layer (service, scheduler).
No SQL, no transactions, no pandas."""
