"""The ``exploy`` command line: ``exploy export|inspect|record|replay``."""
