"""`python -m pipelines.demo.site`: serve the demo GIF website (see cli)."""
import sys

from pipelines.demo.site.cli import main

if __name__ == "__main__":
    sys.exit(main())
