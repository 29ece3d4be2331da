"""Warm starts: a job's processes forked from one that has already imported torch, transformers and TRL.

A job's worker spent ~6.5 CPU-s importing its libraries before it did anything (on a 2-core machine; a tiny training
run then trains in 2). A warm server imports them once; each job's supervisor is forked from it, and the supervisor
forks the worker, so neither imports them again. Nothing else changes: the supervisor leads its own session and
process group, the worker is its child (cancel, resume, the CPU accounting and the end status work as before), and
each has the job's environment, folder, log and arguments.

    python -m labkit.warm NAME      # the server; jobs.start starts it (see `spawn`)

- The server forks only `python -m labkit.jobs supervise ...`; the supervisor forks only a worker
  `python -m MODULE ...` run by this interpreter. Any other command (`accelerate launch`, ...) starts as before.
- A server serves one interpreter and one environment, the job's own variables aside (its run id, folder, attempt
  and thread share) and labkit's own settings (LABKIT_*, the home among them, read only where used): a library that
  read the environment while it was imported read what a cold start would have read. A new environment, an upgraded
  package or a changed labkit gets a new server; every labkit home shares it.
- A job that finds no server starts cold and, when its home has run a job in the last hour, starts a server beside
  it (nothing waits for the imports). A server exits after LABKIT_WARM_IDLE_S (600) seconds without a job; the
  server's own idle time is that of the job that started it.
- Linux only (an abstract unix socket; a connection from another user is refused). Elsewhere, or with LABKIT_WARM=0,
  every job starts cold.
- The server itself never runs torch: no OpenMP pool or CUDA context exists to be inherited, and a server whose
  imports initialised CUDA stops rather than serve.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import runpy
import signal
import socket
import struct
import subprocess
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path

from labkit.errors import LabkitError
from labkit.settings import Settings

# What a job's worker imports that takes the time ("module" or "module:attribute,..." for lazily loaded names).
PRELOAD = (
    "torch",
    "transformers:AutoConfig,AutoModelForCausalLM,AutoTokenizer,Trainer,TrainerCallback",
    "trl:SFTConfig,SFTTrainer,DPOConfig,DPOTrainer,GRPOConfig,GRPOTrainer",
    "datasets",
    "accelerate",
    "peft:LoraConfig",
)
# Set in the forked process, and no part of which server serves it: the thread share, and what the caller names as
# the job's own (`own`: jobs.start's run id, folder and attempt).
THREADS = ("OMP_NUM_THREADS", "TOKENIZERS_PARALLELISM")
# Variables that change while a process runs and that no preloaded library reads: pytest's (per test), those
# datatrove's local executor leaves in the process that ran it, ray's.
VOLATILE = ("PYTEST_", "DATATROVE_", "RAY_")
LABKIT = "LABKIT_"  # labkit's own settings: passed to the server and its jobs, but no part of the server's name
READY = b"ready"
SUPERVISOR = [sys.executable, "-m", "labkit.jobs", "supervise"]  # the only command a server forks
_forked = False  # True in a process forked from a server: it may fork its worker too
_default_threads = 1  # torch's thread count in the server (set once torch is imported)


# --- the client side (jobs.start) ------------------------------------------------------------
def enabled(env: dict) -> bool:
    return sys.platform.startswith("linux") and Settings.from_env(env).warm_starts


def shared(env: dict, own: Sequence[str] = ()) -> dict:
    """The part of a job's environment that its server shares with other jobs."""
    return {k: v for k, v in env.items() if k not in THREADS and k not in own and not k.startswith(VOLATILE)}


def name_for(env: dict, own: Sequence[str] = ()) -> str:
    """The server's socket name: one per interpreter, environment (less the job's own variables and labkit's own
    settings), set of installed libraries and labkit source. LABKIT_* variables (the home among them) are read where
    they are used, never while a module is imported, and the server imports no labkit module that reads them: one
    server serves every home, and a test or a launch that sets a labkit option does not start another."""
    stable = {k: v for k, v in shared(env, own).items() if not k.startswith(LABKIT)}
    stamps = [_mtime(_find_spec(entry.split(":")[0])) for entry in PRELOAD]
    here = Path(__file__).resolve()
    stamps += [_mtime(here), _mtime(here.parent / "__init__.py")]  # the only labkit code a server runs
    key = json.dumps([sys.executable, sorted(stable.items()), stamps])
    return "labkit-warm-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _connect(name: str) -> socket.socket | None:
    """A connection to the server `name` once it says it is ready (within 2 s), else None."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.settimeout(2.0)  # a server still importing, or too busy to answer now: start cold
        sock.connect("\0" + name)
        # another user's process holding the name would receive the job's environment (its tokens): never send it
        if _peer_uid(sock) == os.getuid() and sock.recv(16) == READY:
            return sock
    except OSError:
        pass
    sock.close()
    return None


def ready(env: dict, own: Sequence[str] = ()) -> bool:
    """Whether a server for `env` answers now."""
    sock = _connect(name_for(env, own)) if enabled(env) else None
    if sock is not None:
        sock.close()
    return sock is not None


def spawn(argv: Sequence[str], env: dict, cwd: Path, log_fd: int, own: Sequence[str] = ()) -> int | None:
    """Fork `argv` (a supervisor command) from a ready server; its pid, or None when no server is ready (the caller
    starts it cold). The pid comes back once the process leads its own session."""
    if not enabled(env) or list(argv[:4]) != SUPERVISOR:
        return None
    name = name_for(env, own)
    sock = _connect(name)
    if sock is None:
        return None
    with sock:
        message = json.dumps({"argv": list(argv), "env": env, "cwd": str(cwd)}).encode()
        try:
            socket.send_fds(sock, [message], [log_fd])  # one packet: delivered whole or not at all
        except OSError:
            return None  # (too large an environment, say): nothing was started
        # Once the request is sent, the job is being started: wait for its pid rather than start it a second time.
        sock.settimeout(120.0)
        try:
            reply = sock.recv(4096)
        except OSError as e:
            raise LabkitError(
                f"The warm server {name} took the job but did not say whether it started ({e}).",
                hint="Look for the run's processes before starting it again; LABKIT_WARM=0 starts every job cold.",
            ) from e
        if not reply:
            return None  # the server ended before it forked: nothing was started
        return int(json.loads(reply)["pid"])


def start_server(env: dict, own: Sequence[str] = ()) -> subprocess.Popen | None:
    """Start a server for `env` in the background (it exits at once when one is already there)."""
    if not enabled(env):
        return None
    stable = shared(env, own)
    try:
        with open(os.devnull, "wb") as null:
            return subprocess.Popen(
                [sys.executable, "-m", "labkit.warm", name_for(env, own)],
                env=stable,
                cwd=stable.get("LABKIT_HOME") or None,
                stdin=subprocess.DEVNULL,
                stdout=null,
                stderr=null,
                start_new_session=True,
            )
    except OSError:  # (a home that is gone, say): the job it was started beside has started; the next starts cold
        return None


# --- the supervisor's side -------------------------------------------------------------------
class Forked:
    """A forked worker, waited on like a `subprocess.Popen`."""

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)


def forks(argv: Sequence[str]) -> bool:
    """Whether `popen(argv)` forks: this process came from a server, and `argv` is `python -m MODULE ...` of this
    interpreter."""
    return _forked and len(argv) >= 3 and argv[0] == sys.executable and argv[1] == "-m"


def popen(argv: Sequence[str]):
    """Start the worker `argv`: forked when `forks(argv)`, else a subprocess."""
    if not forks(argv):
        return subprocess.Popen(argv)
    _flush()
    pid = os.fork()
    if pid:
        return Forked(pid)
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the supervisor's handlers are not the worker's
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _fresh_process_state()
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    _run_module(argv[2], argv[3:])  # never returns


# --- the server ------------------------------------------------------------------------------
def serve(name: str, idle_s: float) -> int:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        listener.bind("\0" + name)  # the name is the lock: a second server for it stops here
    except OSError:
        return 0
    listener.listen(16)  # a job that connects while the imports run waits 2 s, then starts cold
    for entry in PRELOAD:
        module, _, names = entry.partition(":")
        try:
            imported = __import__(module, fromlist=["_"])
            for attr in filter(None, names.split(",")):
                getattr(imported, attr)
        except Exception:  # a library not installed here (peft, say): its jobs import what they need
            pass
    torch = sys.modules.get("torch")
    if torch is not None:
        if torch.cuda.is_initialized():
            return 1  # a forked process could not use CUDA
        global _default_threads
        _default_threads = torch.get_num_threads()  # a cold job's, when it is given no OMP_NUM_THREADS
    signal.signal(signal.SIGCHLD, _reap)
    listener.settimeout(idle_s)
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            return 0
        except InterruptedError:
            continue
        with conn:
            if _peer_uid(conn) != os.getuid():
                continue
            try:
                conn.settimeout(10.0)
                conn.sendall(READY)
                message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 1)
            except OSError:
                continue
            request = _request(message) if len(fds) == 1 else None
            if request is None:  # unreadable, or not a supervisor: nothing starts
                for fd in fds:
                    os.close(fd)
                continue
            _flush()
            if os.fork() == 0:
                listener.close()
                _child(conn, request, fds[0])  # never returns
            os.close(fds[0])


def _request(message: bytes) -> dict | None:
    """The request in `message` when a server carries it out: a supervisor command, its environment, its folder."""
    try:
        request = json.loads(message)
        ok = request["argv"][:4] == SUPERVISOR and isinstance(request["env"], dict) and isinstance(request["cwd"], str)
    except (ValueError, KeyError, TypeError):
        return None
    return request if ok else None


def _child(conn: socket.socket, request: dict, log_fd: int) -> None:
    global _forked
    _forked = True
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # its own session and process group, as start_new_session=True gives a cold one
        os.chdir(request["cwd"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(null)
        os.close(log_fd)
        os.environ.clear()
        os.environ.update(request["env"])
        _fresh_process_state()
        conn.sendall(json.dumps({"pid": os.getpid()}).encode())
        conn.close()
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    _run_module(request["argv"][2], request["argv"][3:])


def _fresh_process_state() -> None:
    """What a cold start would have had: random seeds of its own, and the thread share the job was given (the
    OpenMP pool reads OMP_NUM_THREADS when it is loaded, which was in the server)."""
    import random

    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        threads = os.environ.get("OMP_NUM_THREADS", "")
        torch.set_num_threads(int(threads) if threads.isdigit() and int(threads) > 0 else _default_threads)


def _run_module(module: str, args: Sequence[str]) -> None:
    """`python -m module args...` in this process, then exit as that interpreter would have."""
    sys.argv = [module, *args]
    sys.path[0] = os.getcwd()  # what `python -m` puts first
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        traceback.print_exc()
        code = 130
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    _exit(code)


def _exit(code: int) -> None:
    """The interpreter's own way out: wait for its non-daemon threads, run the exit handlers, flush."""
    try:
        threading._shutdown()
    except Exception:
        pass
    try:
        atexit._run_exitfuncs()
    except Exception:
        pass
    _flush()
    os._exit(code & 0xFF)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _reap(signum, frame) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            return


def _peer_uid(conn: socket.socket) -> int:
    _, uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid


def _find_spec(module: str):
    import importlib.util

    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


def _mtime(spec_or_path) -> float:
    path = getattr(spec_or_path, "origin", spec_or_path)
    try:
        return os.stat(path).st_mtime if path else 0.0
    except (OSError, TypeError):
        return 0.0


def main(argv: Sequence[str]) -> int | str:
    if len(argv) != 1:
        return "usage: python -m labkit.warm NAME"
    return serve(argv[0], Settings.from_env().warm_idle_s)


if __name__ == "__main__":
    from labkit import warm  # the module, not this __main__ copy: a forked supervisor must see its `_forked`

    sys.exit(warm.main(sys.argv[1:]))
