"""The notes API: writes need the token, input is validated, reads come from PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import AUTH, TOKEN


def count(postgres: Any) -> int:
    return int(postgres.psql("SELECT count(*) FROM notes", "notes"))


def test_created_note_is_stored_and_read_back(client: httpx.Client, postgres: Any) -> None:
    created = client.post("/notes", json={"title": "First", "body": "Hello"}, headers=AUTH)

    assert created.status_code == 201
    note = created.json()
    assert note["title"] == "First"
    assert note["body"] == "Hello"
    assert note["pinned"] is False
    assert created.headers["Location"] == f"/notes/{note['id']}"
    assert client.get(created.headers["Location"]).json() == note
    assert postgres.psql(f"SELECT title, body FROM notes WHERE id = {note['id']}", "notes") == (
        "First|Hello"
    )


def test_body_and_pinned_are_optional(client: httpx.Client) -> None:
    created = client.post("/notes", json={"title": "Only a title"}, headers=AUTH)

    assert created.status_code == 201
    assert created.json()["body"] == ""
    assert created.json()["pinned"] is False


@pytest.mark.parametrize("note_id", [2**40, 2**63 - 1, 2**63, 10**30])
def test_absent_note_is_404(client: httpx.Client, note_id: int) -> None:
    response = client.get(f"/notes/{note_id}")

    assert response.status_code == 404
    assert response.json() == {"detail": "no such note"}


def test_list_is_pinned_first_then_newest(client: httpx.Client) -> None:
    for title, pinned in [("old pinned", True), ("plain", False), ("new pinned", True)]:
        response = client.post("/notes", json={"title": title, "pinned": pinned}, headers=AUTH)
        assert response.status_code == 201

    notes = client.get("/notes", params={"limit": 100}).json()

    order = [(not note["pinned"], -note["id"]) for note in notes]
    assert order == sorted(order)
    assert [note["title"] for note in notes[:2]] == ["new pinned", "old pinned"]


def test_list_limit(client: httpx.Client, postgres: Any) -> None:
    postgres.psql(
        "INSERT INTO notes (title) SELECT 'bulk ' || n FROM generate_series(1, 25) AS n", "notes"
    )

    assert len(client.get("/notes").json()) == 20
    assert len(client.get("/notes", params={"limit": 1}).json()) == 1
    assert len(client.get("/notes", params={"limit": 100}).json()) == min(count(postgres), 100)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "", "1.5", "\u0663"])
def test_limit_out_of_range_is_422(client: httpx.Client, limit: str) -> None:
    response = client.get("/notes", params={"limit": limit})

    assert response.status_code == 422
    assert response.json() == {"detail": {"limit": "must be a whole number from 1 to 100"}}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", TOKEN],
)
def test_write_without_the_token_is_401(
    client: httpx.Client, postgres: Any, authorization: str | None
) -> None:
    before = count(postgres)
    headers = {} if authorization is None else {"Authorization": authorization}

    response = client.post("/notes", json={"title": "not allowed"}, headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert count(postgres) == before


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({}, {"title": "required: 1 to 200 characters, not only spaces"}),
        ({"title": ""}, {"title": "required: 1 to 200 characters, not only spaces"}),
        ({"title": "   "}, {"title": "required: 1 to 200 characters, not only spaces"}),
        ({"title": "x" * 201}, {"title": "required: 1 to 200 characters, not only spaces"}),
        ({"title": 7}, {"title": "must be a string"}),
        ({"title": "ok", "body": "x" * 10_001}, {"body": "must hold at most 10000 characters"}),
        ({"title": "ok", "body": None}, {"body": "must be a string"}),
        ({"title": "ok", "pinned": "yes"}, {"pinned": "must be true or false"}),
        ({"title": "ok", "colour": "red"}, {"colour": "unknown field"}),
        (["title"], {"request": "the body must be a JSON object"}),
    ],
)
def test_invalid_note_is_422(
    client: httpx.Client, postgres: Any, payload: object, errors: dict[str, str]
) -> None:
    before = count(postgres)

    response = client.post("/notes", json=payload, headers=AUTH)

    assert response.status_code == 422
    assert response.json() == {"detail": errors}
    assert count(postgres) == before


def test_body_that_is_not_json_is_422(client: httpx.Client) -> None:
    response = client.post("/notes", content=b"{title: nope", headers=AUTH)

    assert response.status_code == 422
    assert response.json() == {"detail": {"request": "the body must be JSON"}}


def test_longest_title_and_body_are_accepted(client: httpx.Client) -> None:
    note = {"title": "t" * 200, "body": "b" * 10_000, "pinned": True}

    response = client.post("/notes", json=note, headers=AUTH)

    assert response.status_code == 201
    assert {key: response.json()[key] for key in note} == note


def test_errors_are_json(client: httpx.Client) -> None:
    assert client.get("/nowhere").json() == {"detail": "Not Found"}
    refused = client.delete("/notes")
    assert refused.status_code == 405
    assert refused.json() == {"detail": "Method Not Allowed"}
