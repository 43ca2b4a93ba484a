"""Deterministic, realistic Weihai demo data (R2.1 base data), in pure Python without Django.

Use ``from sidms.demo.generate import generate`` (see ``docs/demo-data.md``). Nothing is re-exported
here on purpose: a package attribute named ``generate`` would shadow the ``generate`` submodule, and
``import sidms.demo.generate as m`` would then return the function instead of the module.
"""
