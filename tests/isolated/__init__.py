"""Scripts run in fresh interpreters by test_leaks.py and test_lifecycle.py (see _runner)."""
