"""The application layer: what a person or a program can do (jobs, accounts, models), one call
each, shared by the HTTP API and the CLI. Transactions begin and end here, never in a front end."""
