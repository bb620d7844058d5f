"""One driver per chat platform: how a person does each step of a scenario there, and how to read what
the bot showed. The protocol is `tests/contract/drivers/base.py`."""
