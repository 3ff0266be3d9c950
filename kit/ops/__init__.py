"""Running the kit over time: reconciliation, alerts, degraded-mode recovery and the doctor.

- :mod:`kit.ops.reconcile`: compare the journal with the exchange and correct it.
- :mod:`kit.ops.alerts`: outage alerts and all-clears (webhook, e-mail, the status bar).
- :mod:`kit.ops.degrade`: a probe that clears the Session's degraded flag when the exchange is back.
- :mod:`kit.ops.doctor`: the preflight checklist behind ``kit doctor``.
"""
