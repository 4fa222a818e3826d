"""zj-exchange: the inter-agency exchange gateway.

The public surface is deliberately small; see README.md for the layout of the packages.
"""

__version__ = "0.1.0"
