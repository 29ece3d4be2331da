"""The Cancel flag of work that runs inside the app (role-play generation, document translation): it stands only
while the session's work is coming or running, so an early Cancel counts and a stray one stops nothing later."""

import threading
from types import SimpleNamespace

from labkit.ui.common import SessionFlags


def _session(name: str):
    return SimpleNamespace(session_hash=name)


def _cancel_before_its_click(flags, session, **stop) -> bool:
    """A Cancel (`flags.stop(session, **stop)`) handled 0.3 s before the click's step it followed; True when the
    Cancel raised the flag and the work that the click started sees it."""
    answer = []
    cancel = threading.Thread(target=lambda: answer.append(flags.stop(session, **stop)))
    cancel.start()
    threading.Timer(0.3, flags.arm, [session]).start()  # the click's step, handled after the Cancel
    cancel.join(30)
    with flags.running(session) as flag:
        return answer == [True] and flag.is_set()


def test_cancel_pressed_between_the_click_and_the_start_stops_the_work():
    flags, a = SessionFlags(), _session("a")
    flags.arm(a)  # the click
    assert flags.stop(a)  # Cancel at once, while the work waits in the queue
    with flags.running(a) as flag:
        assert flag.is_set()


def test_cancel_with_nothing_running_does_not_stop_the_next_run():
    flags, a = SessionFlags(), _session("a")
    assert not flags.stop(a, wait=0)
    with flags.running(a) as flag:  # an API call, without the click's step
        assert not flag.is_set()
        assert flags.stop(a) and flag.is_set()  # Cancel while it runs
    assert not flags.stop(a, wait=0)  # it ended: the flag is down and stays down
    with flags.running(a) as flag:
        assert not flag.is_set()


def test_the_click_forgets_an_earlier_cancel_and_sessions_are_apart():
    flags, a, b = SessionFlags(), _session("a"), _session("b")
    with flags.running(a) as first:
        assert flags.stop(a) and first.is_set()
        flags.arm(a)  # a second click while the first run still ends: its own, fresh start
        assert not first.is_set()
        with flags.running(b) as other:
            assert not flags.stop(_session("c"), wait=0) and not other.is_set()
    with flags.running(a) as flag:
        assert not flag.is_set()


def test_the_flag_is_shared_by_the_sessions_runs_and_lowered_when_the_last_ends():
    flags, a = SessionFlags(), _session("a")
    started, release = threading.Event(), threading.Event()

    def long_run():
        with flags.running(a):
            started.set()
            release.wait(5)

    t = threading.Thread(target=long_run)
    t.start()
    started.wait(5)
    with flags.running(a) as flag:
        flags.stop(a)
    assert flag.is_set()  # the first run is still going and must see the Cancel
    release.set()
    t.join(5)
    assert not flag.is_set()


def test_a_cancel_handled_before_the_click_it_followed_still_counts():
    """On a loaded server the Cancel's request can be handled before the click's unqueued step: it waits a moment
    for that click rather than answering "nothing to cancel" and letting the work run to its end."""
    flags, a = SessionFlags(), _session("a")
    assert _cancel_before_its_click(flags, a, wait=5)


def test_a_cancel_that_follows_a_click_the_server_has_not_seen_waits_for_it():
    """The page says how many clicks its Cancel follows: a Cancel that arrives before its click (a loaded browser or
    server) waits for that click however long an API caller's wait is, and one whose clicks have all arrived answers
    at once."""
    flags, a = SessionFlags(), _session("a")
    flags.ARM_WAIT_S = 0  # an API caller's wait plays no part when the page sends its count
    assert _cancel_before_its_click(flags, a, clicks=1)
    flags.ARM_WAIT_S = 3600  # the click was seen and its work has ended: nothing to wait for
    answer = []
    late = threading.Thread(target=lambda: answer.append(flags.stop(a, clicks=1)))
    late.start()
    late.join(30)
    assert not late.is_alive() and answer == [False]
    assert "__lkClicks" in flags.arm_js and "__lkClicks" in flags.count_js and flags.arm_js != SessionFlags().arm_js
