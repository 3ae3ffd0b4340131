"""Everything that speaks SQL: tables, engine and sessions, the job and user repositories."""
