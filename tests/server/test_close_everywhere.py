"""Revocation and panic close sockets on every server process, even a socket with no `connections` row (issue 9,
holes 1 and 6): two real processes on PostgreSQL, joined by Redis; the sockets on A, the owner acting on B."""
from __future__ import annotations

import secrets

import pytest
from sqlalchemy import create_engine, text

import realclients
from realclients import Peer, coordinator_auth, create_event, http_action, participant_auth, wait_for

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]


def test_revocation_and_panic_close_sockets_on_the_other_process(server_factory, pg_url, redis_url):
    """A revoked helper on A is closed (its row deleted by hand first); after a panic on B every socket of the event
    on A is closed, and a socket of another event stays."""
    a = server_factory(db_url=pg_url, message_queue=redis_url)
    b = server_factory(db_url=pg_url, message_queue=redis_url)
    ev = create_event(b.url)
    other = create_event(b.url)
    invite = http_action(b.url, ev["slug"], ev["token"], "invite", {"label": "Helper"})["result"]
    engine = create_engine(pg_url)
    try:
        realclients.run(_scenario(a.url, b.url, ev, other, invite, engine))
    finally:
        engine.dispose()


async def _scenario(url_a: str, url_b: str, ev: dict, other: dict, invite: dict, engine) -> None:
    slug = ev["slug"]
    helper = await Peer(url_a, coordinator_auth(slug, invite["token"])).connect()
    phone = await Peer(url_a, participant_auth(slug, secrets.token_urlsafe(32))).connect()
    board = await Peer(url_a, {"event": slug}).connect()
    bystander = await Peer(url_a, {"event": other["slug"]}).connect()
    near = await Peer(url_b, {"event": slug}).connect()  # on the process that runs the panic
    byes, near_byes = [], []
    helper.sio.on("bye", lambda data=None: byes.append(data))
    near.sio.on("bye", lambda data=None: near_byes.append(data))
    try:
        assert (await phone.act("join", {"pseudonym": "Tulip"}))["ok"]
        with engine.begin() as conn:  # the row could go missing in many ways; the socket must close regardless
            conn.execute(text("DELETE FROM connections WHERE coordinator_id = :c"), {"c": invite["coordinator"]})
        assert http_action(url_b, slug, ev["token"], "revoke", {"coordinator": invite["coordinator"]})["ok"]
        await wait_for(lambda: not helper.sio.connected, what="the revoked helper's socket on A to close")
        assert byes and byes[0]["code"] == "unauthorized"
        assert phone.sio.connected and board.sio.connected
        assert http_action(url_b, slug, ev["token"], "panic")["ok"]
        await wait_for(lambda: not phone.sio.connected and not board.sio.connected and not near.sio.connected,
                       what="every socket of the event on A and B to close after the panic on B")
        assert near_byes and near_byes[0]["code"] == "not_found"  # `bye` first, through the queue, then the close
        assert bystander.sio.connected
    finally:
        for peer in (helper, phone, board, bystander, near):
            await peer.close()
