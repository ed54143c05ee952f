"""`python -m demo_world.site`: serve the demo GIF website (see cli)."""
import sys

from demo_world.site.cli import main

if __name__ == "__main__":
    sys.exit(main())
