"""A client for Sarv TES's SMTP-user API.

Typed use::

    with SarvClient(owner_id, token, "example.com") as client:
        for user in client.list_users():
            print(user.name, user.status, user.total_limit)

The vendor's documented interface works as written::

    import sarvbot.sarv as sarv
    client = sarv.Sarv("owner_id", "token", "SarvTES_APP_DOMAIN")
    try:
        result = client.settings.addSmtpUser(total_limit=500, hourly_limit=200)
    except sarv.Error as e:
        print(type(e).__name__, e)
"""

from ._client import DEFAULT_TIMEOUT, Sarv, SarvClient, VendorSettings
from ._errors import (
    AuthenticationError,
    BadResponseError,
    Error,
    GeneralError,
    TransportError,
    ValidationError,
)
from ._models import Credentials, Secret, SmtpUser, UserStatus
from ._wire import MAX_LIMIT, MAX_NAME_LENGTH, check_limit, check_status, check_user_name

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_LIMIT",
    "MAX_NAME_LENGTH",
    "AuthenticationError",
    "BadResponseError",
    "Credentials",
    "Error",
    "GeneralError",
    "Sarv",
    "SarvClient",
    "Secret",
    "SmtpUser",
    "TransportError",
    "UserStatus",
    "ValidationError",
    "VendorSettings",
    "check_limit",
    "check_status",
    "check_user_name",
]
