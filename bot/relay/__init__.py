"""Discord replies → blog comments (no discord import here).

:class:`Relayer` is the entry point; ``cogs.relay`` feeds it Discord messages and implements
:class:`~bot.relay.models.FeedbackPort`. Where to look:

- ``content.py``: Discord Markdown → the blog's format (mentions, emoji, attachments);
- ``_policy.py``: who may relay, as whom (linked authors, guests, refusals, limits);
- ``_intake.py``: Discord messages, edits and deletions → rows of the relay outbox, in order;
  catching up on what was written while the bot was offline;
- ``_relayer.py``: the outbox lanes, reconciliation after unknown outcomes, held comments;
- ``_feedback.py``: outcomes shown in Discord (✅ and the link, ⏳, ❌ and the reason);
- ``_clients.py``: one comment client per blog and account.
"""

from bot.relay._clients import BlogClients
from bot.relay._relayer import RelayBacklog, Relayer
from bot.relay.models import ChatMessage, FeedbackPort, Verdict

__all__ = ["BlogClients", "ChatMessage", "FeedbackPort", "RelayBacklog", "Relayer", "Verdict"]
