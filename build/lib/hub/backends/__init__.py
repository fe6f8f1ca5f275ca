"""Per-backend execution policy: who runs a lab, with which storage and limits."""
