"""``python -m guangying``: the same command line as ``guangying``, stops handled from its first moment."""

from guangying.cli import run

if __name__ == "__main__":
    run()
