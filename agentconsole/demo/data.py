"""The demo's bundled directory: accounts on the switch, and the customers who call.

Everything here is invented. The accounts are what ``agentconsole demo --headless``
prints so a second console, baresip or SIPp can register; the passwords are demo
passwords on a loopback switch, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Where the switch listens by default (UDP and TCP); 5060 is often taken by a real one.
DEFAULT_PORT = 5080
#: The realm the demo switch challenges with (RFC 3261 §22.1).
REALM = "agentconsole-demo"

AGENT = "1001"
COLLEAGUES = ("2001", "2002", "2003")
ECHO = "600"
READBACK = "601"
#: Trunk lines the simulated customers call from (one call at a time each).
CUSTOMER_LINES = ("9001", "9002", "9003", "9004")
#: The in-call DTMF code that toggles PBX-side recording (the agent's ``feature_codes.start``).
RECORD_CODE = "*1"
#: The in-call DTMF code that pauses / resumes it (``feature_codes.pause`` / ``resume``).
PAUSE_CODE = "*2"


@dataclass(frozen=True)
class Account:
    user: str
    password: str
    display_name: str
    role: str  # agent | colleague | echo | readback | line | spare


def _account(user: str, name: str, role: str) -> Account:
    return Account(user, f"demo{user}", name, role)


ACCOUNTS: tuple[Account, ...] = (
    _account(AGENT, "Agent 1001", "agent"),
    _account("1002", "Agent 1002", "spare"),
    _account("2001", "Dana Ortiz (Billing)", "colleague"),
    _account("2002", "Sam Whitfield (Tech support)", "colleague"),
    _account("2003", "Priya Raman (Supervisor)", "colleague"),
    _account(ECHO, "Echo test", "echo"),
    _account(READBACK, "DTMF read-back", "readback"),
    *(_account(line, f"Customer line {line}", "line") for line in CUSTOMER_LINES),
)

#: Tone frequencies (Hz) of the parties that play a tone: distinct, so a test (or an
#: ear) can tell who is talking. Customers talk with a speech-like voice by default.
TONES: dict[str, int] = {"2001": 523, "2002": 659, "2003": 784, "9001": 330, "9002": 392,
                         "9003": 440, "9004": 494}


@dataclass(frozen=True)
class Customer:
    name: str
    number: str
    company: str


@dataclass(frozen=True)
class Queue:
    name: str
    did: str  # the number the customer dialled (shown as DID)


CUSTOMERS: tuple[Customer, ...] = (
    Customer("Alice Moreau", "+15550100101", "Northwind Traders"),
    Customer("Bogdan Novak", "+15550100102", "Contoso Ltd"),
    Customer("Chen Wei", "+15550100103", "Fabrikam Inc"),
    Customer("Deepa Iyer", "+15550100104", "Tailspin Toys"),
    Customer("Emeka Obi", "+15550100105", "Wide World Importers"),
    Customer("Fatima Zahra", "+15550100106", "Adventure Works"),
    Customer("Gustav Lind", "+15550100107", "Blue Yonder Airlines"),
    Customer("Hana Sato", "+15550100108", "Coho Winery"),
    Customer("Ivan Petrov", "+15550100109", "Litware Inc"),
    Customer("Julia Costa", "+15550100110", "Proseware"),
    Customer("Kwame Mensah", "+15550100111", "Lucerne Publishing"),
    Customer("Lena Fischer", "+15550100112", "Margie's Travel"),
)

QUEUES: tuple[Queue, ...] = (
    Queue("Sales", "+18005550100"),
    Queue("Support", "+18005550111"),
    Queue("Billing", "+18005550122"),
)


def account(user: str) -> Account | None:
    return next((a for a in ACCOUNTS if a.user == user), None)


def customer_by_number(number: str) -> Customer | None:
    """The customer with this number, however it is written (``+1 555-0100 101``)."""
    digits = "".join(c for c in number if c.isdigit())
    return next((c for c in CUSTOMERS if c.number.lstrip("+") == digits), None) \
        if digits else None


__all__ = [
    "ACCOUNTS", "AGENT", "COLLEAGUES", "CUSTOMERS", "CUSTOMER_LINES", "DEFAULT_PORT", "ECHO",
    "PAUSE_CODE", "QUEUES", "READBACK", "REALM", "RECORD_CODE", "TONES", "Account", "Customer",
    "Queue", "account", "customer_by_number",
]
