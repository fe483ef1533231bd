"""The `dossier` command line (a composition root)."""
