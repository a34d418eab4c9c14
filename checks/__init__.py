"""prodgate's built-in checks, registered through the `prodgate.checks` entry points like any plugin."""
