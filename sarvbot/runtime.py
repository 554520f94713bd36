"""The composition root: settings in, a running app's parts out. Nothing runs at import."""

from __future__ import annotations

from datetime import timedelta

from sarvbot import metrics
from sarvbot.config import Settings
from sarvbot.core import WorkLedger, build_core
from sarvbot.policy import Policy, load_policy
from sarvbot.sarv import SarvClient
from sarvbot.slack import SlackApp, SlackDirectory, build_web_client, create_slack_app
from sarvbot.store import (
    ApprovalStore,
    AuditLog,
    CatalogueStore,
    Database,
    JobStore,
    ReceiptStore,
    SeenRequests,
)

__all__ = ["create_app"]


def create_app(
    settings: Settings,
    *,
    policy: Policy | None = None,
    database: Database | None = None,
    sarv_client: SarvClient | None = None,
    socket_mode: bool = False,
    check_schema: bool = True,
) -> SlackApp:
    """Build the whole app from settings; tests and the demo pass their own parts.

    Raises PolicyError, DatabaseBehind or sarv.ValidationError with a clear message when
    the configuration cannot work.
    """
    policy = policy if policy is not None else load_policy(settings.sarvbot_policy)
    if database is None:
        database = Database(settings.database_url.get_secret_value())
    if check_schema:
        database.check_current()
    if sarv_client is None:
        sarv_client = SarvClient(
            settings.sarv_owner_id,
            settings.sarv_token.get_secret_value(),
            settings.sarv_app_domain,
            base_url=settings.sarv_api_url,
            pool_size=settings.sarvbot_workers,
            on_call=metrics.observe_sarv_call,
        )
    token = settings.slack_bot_token.get_secret_value()
    client = build_web_client(token, settings.slack_api_url)
    directory = SlackDirectory(client)
    core = build_core(
        sarv_client=sarv_client,
        policy=policy,
        audit=AuditLog(database),
        approvals=ApprovalStore(database),
        catalogue=CatalogueStore(database),
        directory=directory,
        ledger=WorkLedger(
            ReceiptStore(database),
            seen=SeenRequests(database),
            lease=timedelta(seconds=settings.sarvbot_lease_seconds),
        ),
        jobs=JobStore(database),
    )
    return create_slack_app(
        core=core,
        client=client,
        secret_client=build_web_client(token, settings.slack_api_url, silent=True),
        directory=directory,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        workers=settings.sarvbot_workers,
        socket_mode=socket_mode,
    )
