"""The `regression` check: suites run, scored and compared with the base branch's baseline."""
