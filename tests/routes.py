"""Every route of the app with its access rule; tests/api/test_access_matrix.py checks that
the app has no route missing from here."""

from __future__ import annotations

JOB_ROUTES = [
    ("GET", "/api/jobs/{id}"),
    ("GET", "/api/jobs/{id}/result"),
    ("GET", "/api/jobs/{id}/errors"),
    ("POST", "/api/jobs/{id}/cancel"),
    ("POST", "/api/jobs/{id}/retry"),
    ("POST", "/api/jobs/{id}/archive"),
    ("POST", "/api/jobs/{id}/unarchive"),
    ("DELETE", "/api/jobs/{id}"),
    ("GET", "/api/jobs/{id}/deliveries"),
    ("GET", "/process_file?id={id}"),
    ("POST", "/process_file?id={id}"),
]
ROUTES = [
    *JOB_ROUTES,
    ("GET", "/api/jobs"),
    ("POST", "/api/jobs"),
    ("POST", "/api/jobs/failed/retry"),
    ("POST", "/api/jobs/failed/archive"),
    ("GET", "/api/webhook"),  # the caller's own settings
    ("PUT", "/api/webhook"),
    ("POST", "/api/webhook/secret"),
    ("GET", "/process_all"),
    ("POST", "/process_all"),
    ("GET", "/api/models"),
    ("GET", "/api/models/{id}"),
    ("POST", "/api/models/{id}/predict"),
    ("POST", "/invocations"),  # MLflow's route to the default model
    ("POST", "/api/models/{id}/train"),
    ("POST", "/api/models/{id}/data"),
    ("POST", "/api/models/{id}/versions"),
    ("POST", "/api/models/{id}/versions/{id}/activate"),
]
PUBLIC = [
    ("GET", "/health"),
    ("GET", "/metrics"),  # system-wide totals only, like /health
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/assets"),  # a mount
    ("GET", "/static"),  # a mount
    ("GET", "/login"),
    ("POST", "/login"),  # guarded by the CSRF token and the sign-in brake
]
PANEL_PAGES = [  # a signed-in session; POSTs also need the session's CSRF token
    ("GET", "/"),
    ("POST", "/logout"),
    ("GET", "/jobs/{id}"),
    ("GET", "/models"),
    ("GET", "/processors"),
    ("GET", "/models/{id}"),
    ("GET", "/tokens"),
    ("POST", "/tokens"),
    ("POST", "/tokens/{id}/revoke"),
]
