"""`labkit serve --auth user:password`: Gradio's /login has no bound on wrong guesses, so labkit's launch gives it a
throttled check (labkit.ui.common.LoginThrottle): after 10 wrong passwords for a name within 10 minutes, every login
as that name is answered 429 until the oldest failure is 10 minutes old, the right password included."""

from __future__ import annotations

import socket

import pytest


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _refused(throttle, user: str, password: str) -> str:
    from fastapi import HTTPException

    with pytest.raises(HTTPException) as e:
        throttle(user, password)
    assert e.value.status_code == 429 and int(e.value.headers["Retry-After"]) > 0
    return e.value.detail


def test_wrong_passwords_are_throttled_per_name():
    from labkit.ui.common import LoginThrottle

    clock = Clock()
    throttle = LoginThrottle([("alice", "right"), ("bob", "pw")], failures=3, window_s=60, clock=clock)
    assert throttle("alice", "right")
    for _ in range(3):
        assert not throttle("alice", "wrong")
        clock.now += 1
    assert "Too many wrong passwords" in _refused(throttle, "alice", "right")  # guessing goes no faster
    assert throttle("bob", "pw")  # another name is not locked out
    clock.now += 57  # the first failure is 60 s old: one more try
    assert throttle("alice", "right")
    assert not throttle("alice", "wrong")
    _refused(throttle, "alice", "wrong")


def test_unknown_names_share_one_count_and_a_function_is_wrapped():
    from labkit.ui.common import LoginThrottle

    clock = Clock()
    throttle = LoginThrottle(("alice", "right"), failures=2, window_s=60, clock=clock)
    assert not throttle("mallory1", "x") and not throttle("mallory2", "x")
    _refused(throttle, "mallory3", "x")  # a new name per guess does not reset the count
    assert throttle("alice", "right")

    calls = []
    checked = LoginThrottle(lambda u, p: calls.append(u) or p == "ok", failures=1, window_s=60, clock=clock)
    assert checked("carol", "ok") and not checked("carol", "no")
    _refused(checked, "carol", "ok")
    assert calls == ["carol", "carol"]  # refused without asking the function again


def test_the_served_app_throttles_its_login(tmp_path, monkeypatch):
    import httpx

    from labkit.ui.app import launch

    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = launch(host="127.0.0.1", port=port, auth=("alice", "a-long-passphrase"), block=False)
    try:
        url = demo.local_url.rstrip("/")
        with httpx.Client(timeout=60) as http:

            def login(password: str) -> httpx.Response:
                return http.post(f"{url}/login", data={"username": "alice", "password": password})

            assert login("a-long-passphrase").status_code == 200
            assert [login(f"guess{i}").status_code for i in range(10)] == [400] * 10
            locked = login("a-long-passphrase")
            assert locked.status_code == 429 and "Too many wrong passwords" in locked.text
            assert int(locked.headers["retry-after"]) > 500
    finally:
        demo.close()
