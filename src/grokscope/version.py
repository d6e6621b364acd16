"""grokscope's version, in a module of its own: the store records it without importing the trainer."""

__version__ = "0.1.0"
