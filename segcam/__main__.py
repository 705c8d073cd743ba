import sys

from segcam.cli import main

if __name__ == "__main__":  # a spawned child (the online learner) imports this module too
    sys.exit(main())
