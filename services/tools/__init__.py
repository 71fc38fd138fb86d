"""Operator tools: the `goalpost` command, the local stack, replay, tail and report. Nothing in the
services imports this package."""
