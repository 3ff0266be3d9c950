"""Shared fixtures for the test suite; add fixtures here only when several test modules need them."""
