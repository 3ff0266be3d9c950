"""What stands between a user and a bad order or a leaked key.

- :mod:`kit.safety.secrets`: credentials from the environment, ``.env`` or the keyring; redaction.
- :mod:`kit.safety.stages`: the stage ladder (read_only, testnet, live_small, live).
- :mod:`kit.safety.guard`: caps and evidence gates, checked before any request.
- :mod:`kit.safety.killswitch`: ``$KIT_HOME/KILL`` / ``KIT_KILL=1``.
- :mod:`kit.safety.private`: reports and journals written ``0600``, their folders ``0700``.

Nothing here imports the Session, the journal or ccxt: these modules sit under the transport and
the Session and may use only :mod:`kit.errors`, the one redactor :mod:`kit.redact` (and each other).
"""
