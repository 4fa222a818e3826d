"""The console's pages, one module per part of the gateway an administrator looks after."""
