"""The image's ENTRYPOINT: `docker run IMAGE train|serve|<command>` (see runtime/container.py)."""

import sys

from runtime.container import main

if __name__ == "__main__":
    sys.exit(main())
