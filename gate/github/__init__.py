"""GitHub: the event, the REST client, the sticky comment, the job summary and outputs, `gate comment`."""
