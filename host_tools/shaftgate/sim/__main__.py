import sys

from shaftgate.sim import main

sys.exit(main())
