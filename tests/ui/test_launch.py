"""`labkit serve` on a loaded machine: Gradio's own start-up check gives the new server one 3-second request and
then refuses to start ("localhost is not accessible, set share=True"); at load 10 a page as large as this app's
took longer than that, and a test session lost its app (42 tests). labkit waits for its server itself."""

import socket
import threading
import time

import httpx
import pytest

from labkit.errors import LabkitError

pytestmark = pytest.mark.slow


def test_the_app_starts_when_gradios_check_would_give_up(monkeypatch, tiny_path):
    import gradio.networking

    from labkit.ui.app import launch

    monkeypatch.setattr(gradio.networking, "url_ok", lambda url: False)  # what the loaded machine answered
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = launch(host="127.0.0.1", port=port, block=False)
    try:
        assert httpx.get(f"{demo.local_url.rstrip('/')}/config", timeout=60).status_code == 200
    finally:
        demo.close()


def test_an_event_does_not_rebuild_gradios_monitoring_summary(monkeypatch, tiny_path):
    """Gradio summarised its last 10,000 events with pandas after every event (~25 ms of CPU each); labkit turns the
    refresh down. Checked against this Gradio: an upgrade that renames the knob fails here, not silently."""
    from gradio.queueing import Queue

    from labkit.ui.app import build_app

    queue = build_app()._queue
    built = []
    monkeypatch.setattr(Queue, "_get_df", staticmethod(lambda records: built.append(records)))
    records = [{"function": "f", "status": "success", "process_time": 0.1}]
    for _ in range(50):
        queue.events_recorded += 1  # what Gradio counts before it asks for the summary
        queue.compute_analytics_summary(records)
    assert built == []


def test_a_slow_first_answer_is_waited_for():
    """A server that answers only after 4 s (Gradio's check would have given up after 3)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve():
        conn, _ = srv.accept()
        time.sleep(4)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    from labkit.ui.app import wait_until_served

    wait_until_served(f"http://127.0.0.1:{srv.getsockname()[1]}/")
    srv.close()


def test_no_answer_at_all_is_a_clear_error():
    from labkit.ui.app import wait_until_served

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    with pytest.raises(LabkitError) as e:
        wait_until_served(f"http://127.0.0.1:{port}/", timeout=1)
    assert "did not answer" in e.value.message and "overloaded" in e.value.hint


@pytest.mark.parametrize("loop", ["start_processing", "start_progress_updates"])
def test_an_idle_queue_does_not_poll_every_millisecond(monkeypatch, loop, tiny_path):
    """Gradio's idle queue slept 1 ms (events) and 10 ms (progress) between looks: ~900 wake-ups a second per app.
    The loops are run against a recording sleep: an upgrade that renames the knobs fails here, not silently."""
    import asyncio

    import gradio.queueing

    from labkit.ui.app import PROGRESS_IDLE_S, QUEUE_IDLE_S, build_app

    queue = build_app()._queue
    slept, real_sleep, here = [], asyncio.sleep, threading.get_ident()

    async def sleep(seconds, *args, **kwargs):
        if threading.get_ident() != here:  # another app of this worker, serving in its own thread
            return await real_sleep(seconds, *args, **kwargs)
        slept.append(seconds)
        queue.stopped = len(slept) >= 5

    monkeypatch.setattr(gradio.queueing.asyncio, "sleep", sleep)
    queue.active_jobs = [None] * 4
    asyncio.run(getattr(queue, loop)())
    assert slept == [QUEUE_IDLE_S if loop == "start_processing" else PROGRESS_IDLE_S] * 5
    assert min(QUEUE_IDLE_S, PROGRESS_IDLE_S) >= 0.01
