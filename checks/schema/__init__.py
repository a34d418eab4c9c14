"""The `schema` check: prompt files, models.yaml, secrets and version bumps."""
