# The HIL suite (docs/hil.md): a package, so its helpers import as .hil_bench etc.
