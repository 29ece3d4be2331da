"""A demo Space with Sign in with Hugging Face, served for real (Gradio's OAuth routes, session cookie): the owner
who signed in submits an evaluation to HF Jobs and the Job carries her OAuth token; an anonymous visitor calling
the same endpoint is refused and nothing is sent. Gradio's local OAuth mock stands in for the Hub's login page
(it would ask the Hub who this machine's token belongs to; here it is told). Needs itsdangerous (the test extra;
on a Space, gradio[oauth] from requirements.txt)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from fakes import FakeHfApi, api_client

pytestmark = pytest.mark.slow
FORM = ["mgsm", "Qwen/Qwen2.5-0.5B-Instruct", "hf", ["en"], 5, "native", True, 64]


@pytest.fixture()
def oauth_space(tmp_path, monkeypatch):
    from labkit.ui.app import launch

    for key, value in {
        "LABKIT_HOME": str(tmp_path / "home"),
        "LABKIT_DEMO": "1",
        "LABKIT_OAUTH": "1",
        "SPACE_AUTHOR_NAME": "alice",
    }.items():
        monkeypatch.setenv(key, value)
    api = FakeHfApi(job_id="job-oauth", url=None)
    monkeypatch.setattr("huggingface_hub.HfApi", lambda *a, **k: api)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_space_own_token")
    info = {
        "access_token": "hf_oauth_alice",
        "token_type": "bearer",
        "scope": "openid profile jobs",
        "userinfo": {"preferred_username": "alice", "name": "Alice", "profile": "", "picture": ""},
    }
    monkeypatch.setattr("gradio.oauth._get_mocked_oauth_info", lambda: dict(info))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = launch(host="127.0.0.1", port=port, block=False)
    url = demo.local_url.rstrip("/")
    for _ in range(600):
        try:
            if httpx.get(f"{url}/config", timeout=30).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    yield url, api
    demo.close()


def _signed_in_cookie(url: str) -> str:
    with httpx.Client(base_url=url, follow_redirects=False, timeout=60) as http:
        to_callback = http.get("/login/huggingface")
        callback = http.get(to_callback.headers["location"])
    cookie = callback.headers["set-cookie"].split(";", 1)[0]  # Secure cookie: sent by hand over plain http
    assert cookie.startswith("session=")
    return cookie


# Outside a Space, Gradio mocks the login with a local profile and says so: the mock is what this test uses.
@pytest.mark.filterwarnings("ignore:Gradio does not support OAuth features outside of a Space:UserWarning")
def test_signed_in_owner_submits_with_her_oauth_token_and_anonymous_is_refused(oauth_space):
    url, api = oauth_space
    anonymous = api_client(url)
    with pytest.raises(Exception, match="sign in"):
        anonymous.predict("a10g-small", "1h", "alice/r", *FORM, api_name="/eval_hf_job")
    assert api.calls == []
    owner = api_client(url, headers={"Cookie": _signed_in_cookie(url)})
    run_id, status, _ = owner.predict("a10g-small", "1h", "alice/r", *FORM, api_name="/eval_hf_job")
    ((_, kw),) = api.calls
    assert kw["token"] == "hf_oauth_alice" and kw["secrets"] == {"HF_TOKEN": "hf_oauth_alice"}
    assert kw["flavor"] == "a10g-small" and kw["timeout"] == "1h" and "queued" in status and run_id
