"""graphcheck's version, in a leaf module that every layer may read (SARIF's driver)."""

__version__ = "0.1.0"
