"""``run_python``: model-written Python in a locked-down child process.

Layers, outermost first (:attr:`SandboxResult.isolation` records which applied):

- a separate interpreter, ``python -I -S`` (isolated mode: no environment
  variables, no user site, no script directory; no site-packages: only the
  stdlib is needed), in its own session/process group with an environment of
  only ``PATH``, ``LANG``, ``HOME`` and ``TMPDIR`` (the work directory);
- a throwaway work directory (its cwd), removed afterwards whatever happened,
  with a disk quota: each file is capped by ``RLIMIT_FSIZE`` and the whole
  directory (bytes and entries) is measured every :data:`_DISK_POLL_S` while
  the code runs and once after; over the quota, the process group is killed;
- a wall-clock deadline: the whole process group is killed when it passes;
- stdout/stderr read at most ``max_output_bytes`` each: one byte more kills
  the process group;
- inside the child (see :mod:`tools._sandbox_child`): a new network namespace
  where the kernel allows it; rlimits on CPU time, address space (memory),
  processes, file size and open files; when the service runs as root, a drop
  to an unprivileged uid (``nobody``), which also makes ``RLIMIT_NPROC`` and
  file permissions apply; and an audit hook that ends the process on the
  first forbidden operation (sockets, fork/exec/spawn/system/kill, ctypes,
  threads, tracing, code objects, ``marshal``, writes outside the work
  directory, reads, listings and ``stat``-like calls outside it and the stdlib).

The isolation report (:attr:`SandboxResult.isolation`) is what the child
wrote on its status pipe *before* its ``ready`` line: the code itself can
write to that pipe, so nothing after ``ready`` counts as a layer.

Outcomes: a finished run, whatever its exit status, is a :class:`SandboxResult`;
the wall or CPU limit raises :class:`~core.errors.SandboxTimeoutError`; memory,
output size and forbidden operations raise
:class:`~core.errors.SandboxViolationError` naming the limit or operation.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field

from core.errors import SandboxTimeoutError, SandboxViolationError, ToolError
from tools import _sandbox_child as child
from tools.base import ToolResult

__all__ = ["RunPythonArgs", "RunPythonTool", "SandboxLimits", "SandboxResult", "run_sandboxed"]

logger = logging.getLogger(__name__)

_CHILD_SCRIPT = Path(child.__file__).resolve()
_CODE_FILE = ".sandbox-code.py"
_MIB = 1024 * 1024
#: How often the work directory's size is measured while the code runs.
_DISK_POLL_S = 0.05


class SandboxLimits(BaseModel):
    """Resource limits of one sandboxed run."""

    model_config = ConfigDict(frozen=True)

    #: CPU seconds (RLIMIT_CPU); the kernel kills the process one second later.
    cpu_seconds: int = Field(default=5, ge=1)
    #: Wall-clock seconds from start to exit, interpreter start-up included.
    wall_seconds: float = Field(default=10.0, gt=0)
    #: Address-space limit (RLIMIT_AS) in bytes; the interpreter itself needs ~40 MiB.
    memory_bytes: int = Field(default=512 * _MIB, ge=64 * _MIB)
    #: Most bytes read from stdout and from stderr; more is a violation.
    max_output_bytes: int = Field(default=64 * 1024, ge=1)
    #: Longest accepted code, in characters.
    max_code_chars: int = Field(default=100_000, ge=1)
    #: Largest file the code may write (RLIMIT_FSIZE).
    max_file_bytes: int = Field(default=16 * _MIB, ge=0)
    #: Most bytes all files of the work directory may hold together.
    max_disk_bytes: int = Field(default=64 * _MIB, ge=0)
    #: Most files and folders the work directory may hold.
    max_disk_entries: int = Field(default=2000, ge=1)
    #: RLIMIT_NPROC of the child: processes its uid may own before a fork
    #: fails. Only enforced for non-root uids, hence ``run_as_uid``.
    max_processes: int = Field(default=0, ge=0)
    #: uid/gid the child switches to when the service runs as root; None keeps root.
    run_as_uid: int | None = 65534
    run_as_gid: int | None = 65534
    #: Try a private network namespace (the audit hook refuses sockets anyway).
    network_namespace: bool = True


class SandboxResult(BaseModel):
    """A run that finished on its own (any exit status)."""

    stdout: str
    stderr: str
    exit_code: int
    duration_s: float
    #: Layers that applied, e.g. ``["netns", "rlimits", "uid=65534", "audit-hook"]``.
    isolation: list[str] = Field(default_factory=list)


def _read_roots() -> list[str]:
    """Directories the code may read besides its work dir: stdlib and tz data."""
    roots = [os.path.realpath(os.path.dirname(os.__file__))]
    zoneinfo = "/usr/share/zoneinfo"
    if os.path.isdir(zoneinfo):
        roots.append(os.path.realpath(zoneinfo))
    return roots


def _disk_usage(root: str, max_entries: int) -> tuple[int, int]:
    """(bytes, entries) under ``root``, not following links; a file counts
    its size or its allocated blocks, whichever is larger. Stops counting
    entries past ``max_entries`` + 1 (that is already over)."""
    total = entries = 0
    pending = [root]
    while pending and entries <= max_entries:
        try:
            with os.scandir(pending.pop()) as it:
                for entry in it:
                    entries += 1
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += max(st.st_size, getattr(st, "st_blocks", 0) * 512)
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
        except OSError:
            continue
    return total, entries


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class _Run:
    """Bookkeeping of one child process: output, status lines, how it ended."""

    def __init__(
        self, proc: subprocess.Popen[bytes], status_fd: int, limits: SandboxLimits, workdir: str
    ):
        self.proc = proc
        self.limits = limits
        self.status_fd = status_fd
        self.workdir = workdir
        self.out = {"stdout": bytearray(), "stderr": bytearray(), "status": bytearray()}
        self.killed_for: str | None = None  # "wall" | "output:<stream>" | "disk"
        self._disk_checked = 0.0

    def over_quota(self) -> bool:
        """Measure the work directory now; True when it is over the quota."""
        self._disk_checked = time.monotonic()
        size, entries = _disk_usage(self.workdir, self.limits.max_disk_entries)
        return size > self.limits.max_disk_bytes or entries > self.limits.max_disk_entries

    def check_disk(self) -> bool:
        """At most every :data:`_DISK_POLL_S`: kill the group when over the
        quota. True when killed."""
        if time.monotonic() - self._disk_checked < _DISK_POLL_S or not self.over_quota():
            return False
        self.kill("disk")
        return True

    def collect(self, deadline: float) -> None:
        """Read all streams until EOF, the deadline, or an output overflow."""
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        cap = {"stdout": self.limits.max_output_bytes, "stderr": self.limits.max_output_bytes}
        cap["status"] = 64 * 1024
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout.fileno(), selectors.EVENT_READ, "stdout")
            sel.register(self.proc.stderr.fileno(), selectors.EVENT_READ, "stderr")
            sel.register(self.status_fd, selectors.EVENT_READ, "status")
            while sel.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.kill("wall")
                    return
                if self.check_disk():
                    return
                for key, _ in sel.select(timeout=min(remaining, _DISK_POLL_S)):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        sel.unregister(key.fd)
                        continue
                    buf = self.out[key.data]
                    room = cap[key.data] - len(buf)
                    buf += chunk[: max(room, 0)]
                    if len(chunk) > room:
                        if key.data == "status":
                            sel.unregister(key.fd)  # ignore junk written to the status fd
                            continue
                        self.kill("output:" + key.data)
                        return
        # Streams closed; the process may still be running (it can close them).
        while True:
            try:
                done = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if done is not None:
                return
            if time.monotonic() >= deadline:
                self.kill("wall")
                return
            if self.check_disk():
                return
            time.sleep(0.01)

    def kill(self, reason: str) -> None:
        self.killed_for = reason
        _kill_group(self.proc.pid)

    def status_lines(self) -> list[list[str]]:
        text = self.out["status"].decode("utf-8", "replace")
        return [line.split("\t") for line in text.splitlines() if line]

    def isolation(self) -> list[str]:
        """The layers the child reported before its ``ready`` line (after it,
        the sandboxed code could have written the lines itself)."""
        layers = []
        for fields in self.status_lines():
            if fields == ["ready"]:
                break
            if fields[0] == "isolation" and len(fields) > 1:
                layers.append(fields[1])
        return layers


def _spawn(workdir: str, status_w: int, limits: SandboxLimits) -> subprocess.Popen[bytes]:
    config = {
        "status_fd": status_w,
        "code_file": os.path.join(workdir, _CODE_FILE),
        "cpu_seconds": limits.cpu_seconds,
        "memory_bytes": limits.memory_bytes,
        "max_processes": limits.max_processes,
        "max_file_bytes": min(limits.max_file_bytes, limits.max_disk_bytes),
        "run_as_uid": limits.run_as_uid,
        "run_as_gid": limits.run_as_gid if limits.run_as_gid is not None else limits.run_as_uid,
        "network_namespace": limits.network_namespace,
        "read_roots": _read_roots(),
    }
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir}
    try:
        return subprocess.Popen(
            [sys.executable, "-I", "-S", str(_CHILD_SCRIPT), json.dumps(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(status_w,),
            cwd=workdir,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        raise ToolError(f"run_python: could not start the sandbox process: {exc}") from exc


def _outcome(run: _Run, duration: float) -> SandboxResult:
    """Map how the child ended to a result or a sandbox error."""
    limits, rc = run.limits, run.proc.returncode
    lines = run.status_lines()
    violation = next((f for f in lines if f[0] == "violation" and len(f) > 2), None)
    setup_error = next((f for f in lines if f[0] == "setup_error" and len(f) > 1), None)
    if run.killed_for == "wall":
        raise SandboxTimeoutError(
            f"run_python: wall-clock limit of {limits.wall_seconds:g} s exceeded; the code was stopped"
        )
    if run.killed_for == "disk" or (run.killed_for is None and run.over_quota()):
        raise SandboxViolationError(
            f"run_python: disk quota of the work directory exceeded "
            f"({limits.max_disk_bytes // _MIB} MiB, {limits.max_disk_entries} files); "
            "write less (keep results in memory and print them)"
        )
    if run.killed_for and run.killed_for.startswith("output:"):
        stream = run.killed_for.split(":", 1)[1]
        raise SandboxViolationError(
            f"run_python: output limit of {limits.max_output_bytes} bytes on {stream} exceeded; "
            "print less (summarise or slice the data)"
        )
    if rc == child.EXIT_VIOLATION and violation is not None:
        raise SandboxViolationError(
            f"run_python: forbidden operation {violation[1]}: {violation[2]}; "
            "the sandbox allows computation and files in the current directory only"
        )
    if rc == child.EXIT_MEMORY:
        raise SandboxViolationError(
            f"run_python: memory limit of {limits.memory_bytes // _MIB} MiB exceeded"
        )
    if rc == child.EXIT_SETUP and setup_error is not None:
        raise ToolError(f"run_python: sandbox setup failed: {setup_error[1]}")
    if rc == -signal.SIGXCPU or (rc == -signal.SIGKILL and run.killed_for is None):
        raise SandboxTimeoutError(
            f"run_python: CPU time limit of {limits.cpu_seconds} s exceeded; the code was stopped"
        )
    if rc is not None and rc < 0:
        name = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else str(-rc)
        raise SandboxViolationError(
            f"run_python: the process was killed by {name} "
            f"(most likely the memory limit of {limits.memory_bytes // _MIB} MiB)"
        )
    return SandboxResult(
        stdout=run.out["stdout"].decode("utf-8", "replace"),
        stderr=run.out["stderr"].decode("utf-8", "replace"),
        exit_code=rc if rc is not None else -1,
        duration_s=duration,
        isolation=run.isolation(),
    )


def run_sandboxed(code: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run ``code`` in the sandbox and wait for it (blocking; at most ``wall_seconds``).

    Returns a :class:`SandboxResult` for a run that ended on its own, whatever
    its exit status (an exception in the code is exit status 1 with the
    traceback on stderr). Raises ``SandboxTimeoutError`` (wall or CPU limit),
    ``SandboxViolationError`` (memory, output size, forbidden operation) or
    ``ToolError`` (code too long, sandbox could not start). The work directory
    and every process of the run are gone when this returns or raises.
    """
    limits = limits or SandboxLimits()
    if len(code) > limits.max_code_chars:
        raise ToolError(
            f"run_python: code is {len(code)} characters; the limit is {limits.max_code_chars}"
        )
    start = time.monotonic()
    workdir = os.path.realpath(tempfile.mkdtemp(prefix="dossier-sandbox-"))
    status_r, status_w = os.pipe()
    proc: subprocess.Popen[bytes] | None = None
    try:
        with open(os.path.join(workdir, _CODE_FILE), "w", encoding="utf-8") as fh:
            fh.write(code)
        if os.geteuid() == 0 and limits.run_as_uid is not None:
            gid = limits.run_as_gid if limits.run_as_gid is not None else limits.run_as_uid
            os.chown(workdir, limits.run_as_uid, gid)
        proc = _spawn(workdir, status_w, limits)
        os.close(status_w)
        status_w = -1
        run = _Run(proc, status_r, limits, workdir)
        run.collect(start + limits.wall_seconds)
        _kill_group(proc.pid)  # leader not reaped yet: sweeps any stragglers safely
        proc.wait()
        duration = time.monotonic() - start
        logger.info(
            "sandbox.run rc=%s killed=%s ms=%d", proc.returncode, run.killed_for, duration * 1000
        )
        return _outcome(run, duration)
    finally:
        if proc is not None:
            if proc.returncode is None:
                _kill_group(proc.pid)
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        for fd in (status_r, status_w):
            if fd >= 0:
                os.close(fd)
        shutil.rmtree(workdir, ignore_errors=True)
        if os.path.exists(workdir):
            logger.warning("sandbox.cleanup_failed workdir=%s", workdir)


class RunPythonArgs(BaseModel):
    code: str = Field(
        description="A complete Python 3 program. Print every result you need with print()."
    )


class RunPythonTool:
    """The ``run_python`` tool: exact arithmetic, date math and table work."""

    name = "run_python"
    description = (
        "Run a short Python 3 program in a sandbox and return what it prints to stdout. "
        "Use it for arithmetic, sums of amounts, percentages, date differences and "
        "deadlines, and small tables. Available: datetime, math, decimal, fractions, "
        "statistics, re, json, csv, calendar, collections, itertools. No network, no "
        "subprocesses, no files outside the current directory; a few seconds of CPU. "
        "Only printed output is returned, so print() the results."
    )
    input_model: type[BaseModel] = RunPythonArgs

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()

    async def run(self, args: BaseModel) -> ToolResult:
        """Run ``args.code``; sandbox errors raise (``call_tool`` reports them)."""
        code = RunPythonArgs.model_validate(args, from_attributes=True).code
        result = await anyio.to_thread.run_sync(run_sandboxed, code, self.limits)
        data = {
            "exit_code": result.exit_code,
            "duration_s": round(result.duration_s, 3),
            "isolation": result.isolation,
        }
        if result.exit_code != 0:
            parts = [f"The program failed (exit status {result.exit_code})."]
            if result.stderr.strip():
                parts.append(result.stderr.strip())
            if result.stdout.strip():
                parts.append("stdout before the failure:\n" + result.stdout.strip())
            return ToolResult(content="\n".join(parts), data=data, is_error=True)
        content = result.stdout if result.stdout.strip() else "(no output: print() the results)"
        return ToolResult(content=content, data=data)
