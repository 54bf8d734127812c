"""The capture hot path: run a command transparently and record one event.

Everything under this package imports the standard library only.
"""
