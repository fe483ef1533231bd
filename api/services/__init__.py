"""Request-level services of the HTTP API (jobs, uploads, answers, summaries)."""
