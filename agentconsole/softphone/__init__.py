"""The softphone layer: ``Phone`` (one SIP account) and ``Session`` (one call).

Between the protocol layers (``sip/``, ``transport/``, ``media/``) and the clients of the
library (the console in ``ui/``, scripts). Import the public names from the package root:
``from agentconsole import Phone, Session``; this package imports nothing on its own, so
``import agentconsole`` stays light.
"""
