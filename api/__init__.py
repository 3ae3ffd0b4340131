"""Starlette app: translates HTTP to calls into db, scheduler and model. No SQL, no pandas."""
