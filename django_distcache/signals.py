"""The app's own signals; receivers live elsewhere."""

from django.dispatch import Signal

# Sent after generations were bumped and entries deleted in Redis.
# Arguments: generations (list of generation keys), entries (list of deleted entry keys).
# NOTE: sent after every write of cached data: its receivers are cached per sender.
invalidated = Signal(use_caching=True)
