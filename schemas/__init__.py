"""The JSON Schemas shipped with prodgate (data files; `gate schema NAME` prints one)."""
