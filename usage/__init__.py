"""Usage: the ledger of every turn, quotas per user, group and key, and the limits
checked before a turn starts. The chat core calls ``usage.turns`` (``turn_admit``,
``TurnSlot``) and ``usage.history`` (``history_trim``, ``session_input``)."""
