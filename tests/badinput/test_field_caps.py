"""Every value a visitor sends is size-checked before work starts (labkit.ui.common.bound_inputs): each input field of
every event of a served demo app, named or private, is sent one value over its cap, and each call must end in a clean
refusal that names the field and the cap, with no traceback in the server's log and nothing started or written.

The served app runs with a small cap (LABKIT_MAX_TEXT_CHARS=5000) so that the ~1,600 calls take seconds; a field that
declares its own bound (a Textbox's max_length) is sent one character more than that bound."""

from __future__ import annotations

import json
import socket

import pytest

CAP = 5_000


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    from labkit.ui.app import AppContext, build_app

    home = tmp_path_factory.mktemp("field-caps") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_HOME", str(home))
        mp.setenv("LABKIT_DEMO", "1")
        mp.setenv("LABKIT_MAX_TEXT_CHARS", str(CAP))
        ctx = AppContext.create()
        demo = build_app(ctx)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        try:
            yield demo, demo.local_url.rstrip("/"), home, ctx
        finally:
            demo.close()


def _cap(component) -> int:
    declared = getattr(component, "max_length", None)
    return declared if isinstance(declared, int) and declared > 0 else CAP


def _over(component, cap: int):
    """A value one over `cap`, shaped as the component's payload (measured before Gradio reads it)."""
    kind = type(component).__name__
    if kind == "JSON":
        return [0] * (cap + 1)  # a list is bounded by its items, not only by its text
    if kind == "Dataframe":
        return {"headers": ["a"], "data": [["x" * cap]], "metadata": None}
    if kind in ("CheckboxGroup", "File", "Gallery"):
        return ["x" * (cap + 1)]
    return "x" * (cap + 1)


def _label(component, index: int) -> str:
    return str(getattr(component, "label", None) or getattr(component, "elem_id", None) or "").strip()[:80] or (
        f"input {index + 1} ({type(component).__name__})"
    )


def _cases(demo):
    """(fn_index, input index, component): every input a visitor can send to every event with a server function."""
    out = []
    for index, block_fn in demo.fns.items():
        if block_fn.fn is None:
            continue
        for i, component in enumerate(block_fn.inputs):
            if not getattr(component, "stateful", False):
                out.append((index, i, component))
    return out


def _send_all(url: str, demo, cases) -> dict:
    """Send every case through Gradio's queue (or its direct route for unqueued events), as the page would by index;
    the answer of each, by case."""
    import httpx

    session = "field-caps-session"
    answers, events = {}, {}
    # a new connection per request: at load 10 the server closed an idle kept-alive connection just as the next
    # request went out on it ("connection reset by peer"), a race of the client's reuse, not of the app
    with httpx.Client(timeout=120, limits=httpx.Limits(max_keepalive_connections=0)) as http:
        for case in cases:
            index, i, component = case
            block_fn = demo.fns[index]
            data = [None] * len(block_fn.inputs)
            data[i] = _over(component, _cap(component))
            body = {"data": data, "fn_index": index, "session_hash": session, "event_data": None, "trigger_id": None}
            if block_fn.queue:
                r = http.post(f"{url}/gradio_api/queue/join", json=body)
                r.raise_for_status()
                events[r.json()["event_id"]] = case
            else:
                r = http.post(f"{url}/gradio_api/run/predict", json=body)
                answers[case] = {"success": r.status_code == 200, "error": r.json().get("error")}
        with http.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed" and msg.get("event_id") in events:
                    output = msg.get("output") or {}
                    answers[events.pop(msg["event_id"])] = {"success": msg.get("success"), "error": output.get("error")}
                if not events or msg.get("msg") == "close_stream":
                    break
    for case in events.values():
        answers[case] = {"success": None, "error": "no answer"}
    return answers


def _problem(index: int, i: int, component, success, error, demo) -> str | None:
    name, cap = _label(component, i), _cap(component)
    if success or f"{name!r} holds more than {cap:,} characters" not in (error or ""):
        return f"{demo.fns[index].api_name or index} field {name!r}: {success}, {(error or '')[:200]!r}"
    return None


def _one_per_event(cases) -> list:
    """Every event once, each with a field not sent before where it has one (a component feeds several events)."""
    chosen, seen = [], set()
    for index in dict.fromkeys(c[0] for c in cases):
        mine = [c for c in cases if c[0] == index]
        pick = next((c for c in mine if id(c[2]) not in seen), mine[0])
        chosen.append(pick)
        seen.add(id(pick[2]))
    return chosen


def test_every_event_refuses_an_over_cap_value_through_the_api(demo_app, capfd):
    """Through the served app's queue, as a client would call it: a gr.Error naming the field and the cap, no
    traceback, no run started, nothing written."""
    from labkit.store import Store

    demo, url, home, ctx = demo_app
    files_before = set(home.rglob("*"))
    cases = _cases(demo)
    assert len({c[0] for c in cases}) > 150  # every tab's events (the app has ~250, ~220 of them with inputs)
    answers = _send_all(url, demo, _one_per_event(cases))
    problems = [_problem(*case, a["success"], a["error"], demo) for case, a in answers.items()]
    problems = [p for p in problems if p]
    assert not problems, f"{len(problems)} of {len(answers)} events not refused by the cap:\n" + "\n".join(problems)
    log = capfd.readouterr()
    assert "Traceback" not in log.out + log.err, (log.out + log.err)[-3000:]
    assert Store(ctx.settings.store_path).list() == []  # nothing started
    written = {p for p in home.rglob("*") if not p.name.startswith("labkit.sqlite")} - files_before
    assert not written, sorted(map(str, written))


def test_every_field_of_every_event_is_checked(demo_app):
    """Each input of each event on its own (~1,700 values), through Gradio's own processing of an event in-process:
    refused before the handler runs."""
    import asyncio

    from gradio.state_holder import SessionState

    demo, *_ = demo_app
    cases = _cases(demo)
    state = SessionState(demo)  # one visitor's session (a new one per call costs 50 ms)

    async def run_all() -> list[str]:
        problems = []
        for index, i, component in cases:
            data = [None] * len(demo.fns[index].inputs)
            data[i] = _over(component, _cap(component))
            try:
                await demo.process_api(demo.fns[index], data, state=state)
                success, error = True, ""
            except Exception as e:  # noqa: BLE001 — anything but the cap's gr.Error is reported
                success, error = False, getattr(e, "message", str(e))
            problems.append(_problem(index, i, component, success, error, demo))
        return [p for p in problems if p]

    problems = asyncio.run(run_all())
    assert not problems, f"{len(problems)} of {len(cases)} fields not refused by their cap:\n" + "\n".join(problems)


def test_a_declared_bound_is_kept_and_the_default_is_a_million(demo_app):
    from labkit.provenance.trace import MAX_SOURCE_CHARS
    from labkit.settings import Settings

    demo, *_ = demo_app
    assert Settings.from_env({}).max_text_chars == 1_000_000
    assert Settings.from_env({"LABKIT_MAX_TEXT_CHARS": "junk"}).max_text_chars == 1_000_000
    sources = [c for _, _, c in _cases(demo) if getattr(c, "elem_id", None) == "lk-prov-sources"]
    assert sources and _cap(sources[0]) == MAX_SOURCE_CHARS  # above the app's cap: the trace engine's own bound


def test_exceeds_measures_lists_and_deep_values_without_recursion():
    from labkit.guard import exceeds

    assert not exceeds("x" * 10, 10) and exceeds("x" * 11, 10)
    assert exceeds([""] * 11, 10) and exceeds({"k" * 6: "v" * 4}, 10) and not exceeds({"k": "v"}, 10)
    assert exceeds(["x" * 6, ["y" * 6]], 10) and not exceeds(None, 0) and not exceeds(12345, 1)
    deep: list = []
    for _ in range(100_000):  # a JSON nesting that would exhaust the stack of a recursive walk
        deep = [deep]
    assert exceeds(deep, 50_000) and not exceeds(deep, 200_000)


def test_too_few_values_are_refused_cleanly(demo_app, capfd):
    import httpx

    demo, url, *_ = demo_app
    index = next(i for i, f in demo.fns.items() if f.api_name == "generate")
    body = {"data": ["x"], "fn_index": index, "session_hash": "few-values", "event_data": None, "trigger_id": None}
    with httpx.Client(timeout=60) as http:
        assert http.post(f"{url}/gradio_api/queue/join", json=body).status_code == 200
        with http.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": "few-values"}) as stream:
            done = next(
                json.loads(line[5:])
                for line in stream.iter_lines()
                if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed"
            )
    assert done["success"] is False and "takes 7 values; the request sent 1" in done["output"]["error"]
    log = capfd.readouterr()
    assert "Traceback" not in log.out + log.err
