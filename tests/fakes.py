"""The stand-ins tests share: a fake `huggingface_hub.HfApi`, the scripted backend (labkit's own
`get_backend("scripted", ...)`, registered as lm-evaluation-harness registers `dummy`) and `wait_until`.

    api = FakeHfApi()
    monkeypatch.setattr("huggingface_hub.HfApi", lambda *a, **k: api)
    backend = scripted(lambda text: "42")                   # a backend object
    script(monkeypatch, "policy", reply=..., logprob=...)   # what get_backend("scripted", "policy") answers
    FakeBackend(replies("a", "b"), fail_after=2)            # replies in order; the third generate call raises
    FakeBackend(lambda messages: ..., whole_prompt=True)    # a reply that sees the system message too
    backend.prompts, backend.batches                        # what generate was sent
    wait_until(lambda: path.exists(), what="the run folder")
    api_client(app_url, timeout=120)                         # a gradio_client.Client for the tests' local apps
"""

from __future__ import annotations

import fnmatch
import shutil
import ssl
import time
import types
from collections.abc import Callable
from pathlib import Path

import certifi

from labkit.backends.base import Completion
from labkit.backends.scripted import SCRIPTS, Script, ScriptedBackend


# gradio_client opens a new httpx client for every call, and each one built its own TLS context (the CA bundle
# parsed again: ~25 ms of CPU). Over the suite's ~1,200 API calls that was ~60 CPU-s; one context serves them all.
_TLS = ssl.create_default_context(cafile=certifi.where())  # what httpx builds by default


def api_client(url: str, timeout: float = 600, **kwargs):
    """A gradio_client.Client for a test's local app: quiet, generous timeouts (a first call on a loaded machine can
    take a minute), one shared TLS context."""
    from gradio_client import Client

    kwargs.setdefault("verbose", False)
    kwargs.setdefault("analytics_enabled", False)
    return Client(url, ssl_verify=_TLS, httpx_kwargs={"timeout": timeout}, **kwargs)  # passed on as `verify`


def scripted(reply: Callable | None = None, model: str = "scripted", logprob: Callable | None = None):
    """A scripted backend answering `reply(text[, params])`; its `calls` list records every call."""
    return ScriptedBackend(model, reply=reply, logprob=logprob)


def replies(*texts: str) -> Callable:
    """A reply function that answers `texts` in order, one per prompt across calls; one prompt more fails the test."""
    left = iter(texts)

    def reply(text):
        try:
            return next(left)
        except StopIteration:
            raise AssertionError(f"no scripted reply left for {str(text)[:60]!r}") from None

    return reply


class FakeBackend(ScriptedBackend):
    """The scripted backend with what some tests need beyond one reply per text:

    whole_prompt  `reply(prompt)` receives the whole prompt (a chat's messages, the system one included)
    fail_after    generate calls after the first `fail_after` raise `error` (default KeyboardInterrupt: a kill)
    context       what `context_length()` tells (the model's context, for token caps)
    tokens        an OpenAI-style judge: `generate_with_logprobs` answers each prompt's text with `tokens(text)`,
                  its [(token, {token: logprob})] (the completion is the tokens joined); `logprob` then raises,
                  as a chat API gives no prompt log-probabilities
    `prompts` lists every prompt generate was sent, `batches` each call's prompts (a call that raised included)."""

    def __init__(
        self,
        reply: Callable | None = None,
        logprob: Callable | None = None,
        *,
        whole_prompt: bool = False,
        fail_after: int | None = None,
        error: BaseException | None = None,
        tokens: Callable | None = None,
        context: int | None = None,
        model: str = "scripted",
    ):
        super().__init__(model, reply=reply, logprob=logprob)
        if context is not None:
            self.script.context = context
        self.whole_prompt, self.fail_after, self.error, self.tokens = whole_prompt, fail_after, error, tokens
        if tokens is not None:
            self.generate_with_logprobs = self._generate_with_logprobs

    @property
    def batches(self) -> list[list]:
        return [call[1] for call in self.calls if call[0] == "generate"]

    @property
    def prompts(self) -> list:
        return [prompt for batch in self.batches for prompt in batch]

    def generate(self, prompts, p):
        if self.fail_after is not None and len(self.batches) >= self.fail_after:
            self.calls.append(("generate", list(prompts), p))
            raise self.error or KeyboardInterrupt("killed")
        if not self.whole_prompt:
            return super().generate(prompts, p)
        self.calls.append(("generate", list(prompts), p))
        return [[Completion(str(self.script.reply(prompt)))] * p.n for prompt in prompts]

    def _generate_with_logprobs(self, prompts, p, top_logprobs=5):
        self.calls.append(("generate", list(prompts), p))
        out = []
        for prompt in prompts:
            toks = self.tokens(prompt[-1]["content"] if isinstance(prompt, list) else prompt)
            out.append(("".join(token for token, _ in toks), toks))
        return out

    def logprob(self, pairs, append_eos=False):
        if self.tokens is not None:
            raise RuntimeError("chat API: no prompt log-probabilities")
        return super().logprob(pairs, append_eos)


def script(monkeypatch, model: str, reply: Callable | None = None, logprob: Callable | None = None, **kw) -> Script:
    """Register what `get_backend("scripted", model)` answers, for this test only; the Script's `calls` list records
    the calls of every backend made for `model`."""
    s = Script(**{k: v for k, v in {"reply": reply, "logprob": logprob, **kw}.items() if v is not None})
    monkeypatch.setitem(SCRIPTS, model, s)
    return s


def wait_until(condition: Callable, timeout: float = 30.0, interval: float = 0.05, what: str = "the condition"):
    """Poll `condition()` until it returns something true (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = condition()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(interval)


class FakeHfApi:
    """`huggingface_hub.HfApi` for tests, offline.

    Jobs: `run_uv_job` returns a Job (`job_id`, at `stage`, with `message`) and keeps the script's text in `script`;
    `inspect_job`, `fetch_job_logs` (the lines of `logs`), `cancel_job`; `list_jobs_hardware` fails as offline.
    Repos: a folder `hub` (when given) holds each repo: `create_repo`, `upload_folder` (ignore patterns honoured),
    `create_commit`, `snapshot_download`. Every call is recorded in `calls` as (name, keyword arguments)."""

    def __init__(
        self,
        hub: Path | None = None,
        job_id: str = "job1",
        stage: str = "SCHEDULING",
        message: str | None = None,
        logs=("step 1\n", "step 2\n"),
        url: str | None = "https://huggingface.co/jobs/me/{id}",
    ):
        self.hub, self.job_id, self.stage, self.message, self.logs, self.url = hub, job_id, stage, message, logs, url
        self.calls: list[tuple[str, dict]] = []
        self.script: str | None = None

    def named(self, name: str) -> list[dict]:
        """The keyword arguments of every call to `name`."""
        return [kw for n, kw in self.calls if n == name]

    # --- Jobs ---------------------------------------------------------------------------------------------
    def job(self):
        status = types.SimpleNamespace(stage=self.stage, message=self.message)
        url = self.url.format(id=self.job_id) if self.url else None
        return types.SimpleNamespace(id=self.job_id, url=url, status=status)

    def run_uv_job(self, script, **kw):
        self.script = Path(script).read_text(encoding="utf-8")
        self.calls.append(("run_uv_job", {**kw, "script": self.script}))
        return self.job()

    def inspect_job(self, *, job_id, token=None):
        self.calls.append(("inspect_job", {"job_id": job_id, "token": token}))
        return self.job()

    def fetch_job_logs(self, *, job_id, follow=False, token=None):
        self.calls.append(("fetch_job_logs", {"job_id": job_id, "follow": follow, "token": token}))
        return iter(list(self.logs))

    def cancel_job(self, *, job_id, token=None):
        self.calls.append(("cancel_job", {"job_id": job_id, "token": token}))

    def list_jobs_hardware(self, token=None):
        raise OSError("offline")

    # --- repos --------------------------------------------------------------------------------------------
    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kw}))
        if self.hub is not None:
            (self.hub / repo_id).mkdir(parents=True, exist_ok=True)
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, folder_path, repo_id, path_in_repo="", ignore_patterns=(), **kw):
        self.calls.append(
            (
                "upload_folder",
                {
                    "folder_path": folder_path,
                    "repo_id": repo_id,
                    "path_in_repo": path_in_repo,
                    "ignore_patterns": ignore_patterns,
                    **kw,
                },
            )
        )
        if self.hub is None:
            return
        dest = self.hub / repo_id / path_in_repo
        for path in Path(folder_path).rglob("*"):
            rel = path.relative_to(folder_path).as_posix()
            if path.is_file() and not any(fnmatch.fnmatch(rel, p) for p in ignore_patterns or ()):
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest / rel)

    def create_commit(self, repo_id, operations, commit_message, repo_type=None, **kw):
        files = [(op.path_in_repo, op.path_or_fileobj) for op in operations]
        self.calls.append(
            (
                "create_commit",
                {"repo_id": repo_id, "files": files, "commit_message": commit_message, "repo_type": repo_type},
            )
        )

    def snapshot_download(self, *, repo_id, local_dir, allow_patterns=("*",), repo_type=None, **kw):
        self.calls.append(("snapshot_download", {"repo_id": repo_id, "repo_type": repo_type}))
        for pattern in allow_patterns:
            prefix = pattern.rstrip("*").rstrip("/")
            if self.hub is not None and (self.hub / repo_id / prefix).is_dir():
                shutil.copytree(self.hub / repo_id / prefix, Path(local_dir) / prefix, dirs_exist_ok=True)
        return local_dir
