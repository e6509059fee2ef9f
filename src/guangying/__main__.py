"""``python -m guangying``: the same command line as ``guangying``."""

from guangying.cli.main import main

if __name__ == "__main__":
    main()
