# The frozen image for the esp32: the port's own frozen modules, then the gateway's
# (firmware/manifest.py says how to build it).
include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821
include("../../manifest.py", board="esp32")  # noqa: F821
