"""The ``guangying`` command line (click)."""
