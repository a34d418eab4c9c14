"""The `retrieval` check: retrieval quality on labelled queries, compared with the base branch."""
