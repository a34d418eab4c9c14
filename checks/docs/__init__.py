"""The `docs` check: the failure-mode documentation, complete and true to the system."""
