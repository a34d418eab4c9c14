"""Pure renderers of a Report: terminal text, markdown, JUnit XML."""
