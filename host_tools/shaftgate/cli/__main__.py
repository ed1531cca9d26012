import sys

from shaftgate.cli import main

sys.exit(main())
