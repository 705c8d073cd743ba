import sys

from segcam.cli import main

sys.exit(main())
