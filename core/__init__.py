"""Core: settings, the error tree and domain types. No heavy imports here."""
