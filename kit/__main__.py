"""Run the command line as ``python -m kit``."""

from kit.cli.main import main

if __name__ == "__main__":
    main()
