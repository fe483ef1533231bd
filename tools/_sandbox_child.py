"""Entry script of the ``run_python`` sandbox child process (stdlib only).

Started by :mod:`tools.sandbox` as ``python -I -S _sandbox_child.py CONFIG``
with the throwaway work directory as its cwd. Before any model-written code
runs it, in this order:

1. reads the code from ``CONFIG["code_file"]`` and deletes that file;
2. moves into a new network namespace (``unshare(CLONE_NEWNET)``, falling
   back to a user+network namespace) where the kernel allows it;
3. sets resource limits (CPU, address space, processes, file size, open
   files, core size);
4. imports the stdlib modules the code may use (after step 5 the stdlib may
   be unreadable, e.g. a Python installed under ``/root``);
5. drops to an unprivileged uid/gid when started as root;
6. installs an audit hook (:pep:`578`) that ends the process with
   :data:`EXIT_VIOLATION` on the first forbidden operation: sockets,
   processes (fork/exec/spawn/system/kill), ctypes, new audit hooks, tracing,
   code-object construction, gc introspection, threads, writes outside the work
   dir, reads, listings and metadata (stat, lstat, access, readlink, statvfs,
   pathconf) outside the work dir and the stdlib, ...
7. routes the metadata calls, which raise no audit event of their own, through
   the hook (:func:`_route_metadata_calls`): the originals are reachable only
   from the hook.

The hook is built so that the code cannot tamper with it: it is reachable from
no module, and every builtin it uses is bound in its closure, so patching
``builtins``, ``os`` or ``os.path`` does not change its decisions.

Protocol with the parent: a line ``isolation\\t<name>`` on the status fd for
every layer that applied, then ``ready`` just before the code runs (the code
can write to the status fd too, so the parent reads the isolation report only
up to ``ready``); on a violation ``violation\\t<event>\\t<detail>`` and
exit status :data:`EXIT_VIOLATION`; on ``MemoryError`` exit status
:data:`EXIT_MEMORY`; an uncaught exception prints a traceback on stderr and
exits 1; ``SystemExit`` keeps its code.
"""

import contextlib
import json
import os
import sys
from collections.abc import Callable

EXIT_VIOLATION = 86
EXIT_MEMORY = 87
EXIT_SETUP = 88

#: Modules imported before the hook is installed (the documented ones first).
PRELOAD = (
    "datetime", "math", "decimal", "fractions", "statistics", "re", "json", "csv",
    "calendar", "collections", "itertools", "functools", "operator", "string",
    "textwrap", "random", "zoneinfo", "_strptime", "heapq", "bisect", "copy",
    "pprint", "dataclasses", "enum", "typing", "unicodedata", "io", "time",
    "pathlib", "hashlib", "base64", "struct", "array", "numbers",
    "traceback", "linecache", "encodings.latin_1", "encodings.cp1252",
    "encodings.ascii", "encodings.utf_16",
)  # fmt: skip

#: Audit events refused outright (exact name or prefix ending in ".").
DENY_EVENTS = (
    "socket.", "subprocess.", "os.system", "os.exec", "os.fork", "os.forkpty",
    "os.posix_spawn", "os.spawn", "os.kill", "os.killpg", "os.symlink", "os.link",
    "os.chmod", "os.chown", "os.chflags", "os.lchmod", "os.lchown", "os.setxattr",
    "os.removexattr", "os.chroot", "os.mknod", "os.mkfifo", "pty.", "ctypes.",
    "sys.addaudithook", "sys.settrace", "sys.setprofile", "sys._current_frames",
    "sys._current_exceptions", "code.__new__", "marshal.", "gc.", "_thread.",
    "resource.", "cpython.PyInterpreterState_New", "cpython.run_", "mmap.",
    "sqlite3.", "urllib.", "http.", "ftplib.", "smtplib.", "imaplib.", "poplib.",
    "nntplib.", "telnetlib.", "webbrowser.", "syslog.", "fcntl.", "msvcrt.",
    "winreg.", "shutil.chown", "shutil.make_archive", "shutil.unpack_archive",
    "os.add_dll_directory", "sys.unraisablehook", "function.__new__",
    "signal.pthread_kill", "signal.siginterrupt",
)  # fmt: skip

#: Modules that may not be imported at all (checked on the top-level name too).
DENY_IMPORTS = frozenset(
    {
        "ctypes", "_ctypes", "_posixsubprocess", "subprocess", "multiprocessing",
        "_multiprocessing", "socket", "_socket", "ssl", "_ssl", "pty", "tty",
        "termios", "_xxsubinterpreters", "_xxinterpchannels", "_xxinterpqueues",
        "concurrent", "asyncio", "threading", "resource", "fcntl", "mmap",
        "_posixshmem", "sqlite3", "_sqlite3", "urllib", "http", "ftplib",
        "smtplib", "imaplib", "poplib", "telnetlib", "webbrowser", "xmlrpc",
        "socketserver", "selectors", "select", "faulthandler",
        "tracemalloc", "importlib.util", "runpy", "pdb", "bdb", "code",
    }
)  # fmt: skip

#: Events whose string/bytes arguments are paths that must stay in the work dir.
WRITE_PATH_EVENTS = frozenset(
    {
        "os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.truncate", "os.utime",
        "shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.copytree",
        "shutil.rmtree", "shutil.move", "tempfile.mkstemp", "tempfile.mkdtemp",
        "os.chdir",
    }
)  # fmt: skip

#: Events whose path arguments must be readable locations.
READ_PATH_EVENTS = frozenset(
    {"os.listdir", "os.scandir", "os.walk", "os.fwalk", "glob.glob", "glob.glob/2",
     "os.getxattr", "os.listxattr"}
)  # fmt: skip

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

#: Path functions that raise no audit event; the hook performs them
#: (event ``sandbox.meta``) after checking the path like a read.
METADATA_CALLS = ("stat", "lstat", "access", "readlink", "statvfs", "pathconf")


def _status(fd: int, *fields: str) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, ("\t".join(fields) + "\n").encode("utf-8", "replace"))


def _isolate_network(status_fd: int) -> None:
    """Enter a fresh network namespace (no interfaces but a down loopback)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        clone_newnet, clone_newuser = 0x40000000, 0x10000000
        if libc.unshare(clone_newnet) == 0:
            _status(status_fd, "isolation", "netns")
        elif libc.unshare(clone_newuser | clone_newnet) == 0:
            _status(status_fd, "isolation", "userns+netns")
    except Exception:  # the audit hook still refuses sockets
        pass
    for name in ("ctypes", "_ctypes", "ctypes._endian"):
        sys.modules.pop(name, None)


def _set_limits(cfg: dict, status_fd: int) -> None:
    import resource

    cpu = int(cfg["cpu_seconds"])
    limits = [
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_AS, (cfg["memory_bytes"], cfg["memory_bytes"])),
        (resource.RLIMIT_NPROC, (cfg["max_processes"], cfg["max_processes"])),
        (resource.RLIMIT_FSIZE, (cfg["max_file_bytes"], cfg["max_file_bytes"])),
        (resource.RLIMIT_NOFILE, (64, 64)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    for which, value in limits:
        resource.setrlimit(which, value)
    _status(status_fd, "isolation", "rlimits")
    import signal

    # A write past RLIMIT_FSIZE then fails with OSError(EFBIG) instead of a kill.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _drop_privileges(cfg: dict, status_fd: int) -> None:
    uid = cfg.get("run_as_uid")
    if uid is None or os.geteuid() != 0:
        return
    gid = cfg.get("run_as_gid", uid)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    _status(status_fd, "isolation", f"uid={uid}")


def _prime_linecache() -> None:
    """Cache this script's lines (mtime None: never re-checked), so a traceback
    through its frames (an import that fails) needs no stat or read of the
    script, which the hook refuses."""
    import linecache

    path = os.path.abspath(__file__)
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines(True)
    linecache.cache[path] = (sum(map(len, lines)), None, lines, path)


def _disable_bytecode_cache() -> None:
    """Make later imports compile from source instead of unmarshalling ``.pyc``.

    ``marshal`` can build arbitrary (memory-unsafe) bytecode, so the hook
    refuses every ``marshal.*`` event; without this, every import of a module
    not preloaded would trip it. Undoing this patch only leads to that refusal.
    """
    import _frozen_importlib_external as bootstrap_external

    def no_cache(path: str, debug_override: object = None, *, optimization: object = None) -> str:
        raise NotImplementedError("bytecode cache disabled in the sandbox")

    bootstrap_external.cache_from_source = no_cache
    sys.dont_write_bytecode = True


def _audit_python_imports() -> None:
    """Raise the ``import`` audit event on importlib's pure-Python path too.

    ``importlib.import_module`` reaches ``_find_and_load`` without the event
    the ``import`` statement raises; the wrapper adds it, so the hook's module
    denylist holds for both. The original is reachable only from the wrapper.
    """
    import _frozen_importlib as bootstrap

    find_and_load = bootstrap._find_and_load
    audit = sys.audit

    def audited_find_and_load(name: str, import_: object) -> object:
        audit("import", name, None, None, None, None)
        return find_and_load(name, import_)

    bootstrap._find_and_load = audited_find_and_load


def _disable_threads() -> None:
    """Replace thread start-up with a stub that trips the hook.

    Python 3.11 raises no audit event for new threads (``RLIMIT_NPROC`` stops
    them only for non-root uids); the originals stay reachable from nowhere.
    """
    import _thread

    audit = sys.audit

    def start_new_thread(*args: object, **kwargs: object) -> int:
        audit("_thread.start_new_thread")
        raise RuntimeError("threads are not available in the sandbox")

    _thread.start_new_thread = start_new_thread
    _thread.start_new = start_new_thread


def _make_hook(workdir: str, read_roots: tuple[str, ...], status_fd: int) -> Callable[..., None]:
    """Build the audit hook.

    Everything the hook uses at run time is a closure variable bound here, or
    a method of an exact ``str``/``bytes``/``list`` (which cannot be patched):
    no global or builtin name is looked up when it runs, hence no ``any()``
    or ``contextlib`` below.
    """
    _type, _str, _bytes, _int, _bool, _list = type, str, bytes, int, bool, list
    _OSError = OSError
    _lstat, _readlink, _getcwd = os.lstat, os.readlink, os.getcwd
    _stat, _access, _statvfs, _pathconf = os.stat, os.access, os.statvfs, os.pathconf
    _write, _exit = os.write, os._exit
    _write_flags = _WRITE_FLAGS
    _deny_events = DENY_EVENTS
    _deny_imports = DENY_IMPORTS
    _write_events, _read_events = WRITE_PATH_EVENTS, READ_PATH_EVENTS
    _exit_code = EXIT_VIOLATION
    _workdir = workdir
    _read_roots = (workdir, *read_roots)
    _write_roots = (workdir,)

    def violation(event, detail):
        msg = ("violation\t" + event + "\t" + detail + "\n").encode("utf-8", "replace")
        try:  # noqa: SIM105 - no global lookups in the hook
            _write(status_fd, msg)
        except _OSError:
            pass
        _exit(_exit_code)

    def resolve(path):
        """Absolute, symlink-free form of ``path`` (exact str) or None."""
        if not path.startswith("/"):
            path = _getcwd() + "/" + path
        pending = path.split("/")
        pending.reverse()
        resolved = []
        hops = 0
        while pending:
            part = pending.pop()
            if part == "" or part == ".":
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = "/" + "/".join([*resolved, part])
            try:
                mode = _lstat(candidate).st_mode
            except _OSError:
                resolved.append(part)
                continue
            if (mode & 0o170000) == 0o120000:
                hops += 1
                if hops > 40:
                    return None
                target = _readlink(candidate).split("/")
                if target and target[0] == "":
                    resolved = []
                target.reverse()
                pending.extend(target)
            else:
                resolved.append(part)
        return "/" + "/".join(resolved)

    def as_path(value):
        # Exact types only: a subclass could run its own code inside the hook.
        t = _type(value)
        if t is _str:
            return value
        if t is _bytes:
            return value.decode("utf-8", "surrogateescape")
        return None

    def inside(path, roots):
        for root in roots:  # noqa: SIM110 - any() would be a builtin lookup
            if path == root or path.startswith(root + "/"):
                return True
        return False

    def above(path, roots):
        """``path`` is a folder on the way to a root (``/``, ``/tmp``)."""
        for root in roots:  # noqa: SIM110 - any() would be a builtin lookup
            if path == "/" or root.startswith(path + "/"):
                return True
        return False

    def check_path(event, value, roots, what, ancestors=False):
        if value is None:
            value = "."
        if _type(value) is _int:
            return  # an fd the process already holds
        text = as_path(value)
        if text is None:
            violation(event, what + " of a non-string path")
        full = resolve(text)
        if full is None or not (inside(full, roots) or (ancestors and above(full, roots))):
            violation(event, what + " outside the sandbox: " + text[:200])

    def metadata(args):
        """``sandbox.meta`` (name, path, arg, box): check, call, result in box.
        Exact types only, so no code of the caller runs in here."""
        if len(args) != 4:
            violation("sandbox.meta", "malformed call")
        name, path, arg, box = args[0], args[1], args[2], args[3]
        if _type(name) is not _str or _type(box) is not _list or len(box) != 0:
            violation("sandbox.meta", "malformed call")
        if _type(arg) is not _int and _type(arg) is not _bool and _type(arg) is not _str:
            violation("sandbox.meta", "malformed call")
        # Metadata of the folders above the work dir and the stdlib (what
        # os.path.realpath walks through) reveals nothing; the rest is a read.
        check_path("os." + name, path, _read_roots, name, ancestors=True)
        if name == "stat":
            box.append(_stat(path, follow_symlinks=arg is True))
        elif name == "lstat":
            box.append(_lstat(path))
        elif name == "access" and _type(arg) is _int:
            box.append(_access(path, arg))
        elif name == "readlink":
            box.append(_readlink(path))
        elif name == "statvfs":
            box.append(_statvfs(path))
        elif name == "pathconf" and _type(arg) is not _bool:
            box.append(_pathconf(path, arg))
        else:
            violation("sandbox.meta", "malformed call")

    def hook(event, args):
        if _type(event) is not _str:  # sys.audit() with a str subclass
            violation("sys.audit", "event name that is not a plain str")
        if event == "open":
            path, mode, flags = args[0], args[1], args[2]
            writing = (_type(flags) is _int and (flags & _write_flags) != 0) or (
                _type(mode) is _str and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)
            )
            if writing:
                check_path(event, path, _write_roots, "write")
            else:
                check_path(event, path, _read_roots, "read")
            return
        if event == "sandbox.meta":
            metadata(args)
            return
        if event == "import":
            name = args[0]
            if _type(name) is not _str:
                violation(event, "import of a non-string name")
            if name in _deny_imports or name.split(".")[0] in _deny_imports:
                violation(event, "import of " + name)
            return
        for denied in _deny_events:
            if event == denied or (denied.endswith(".") and event.startswith(denied)):
                violation(event, "not allowed in the sandbox")
        if event in _write_events:
            for arg in args:
                if _type(arg) is _str or _type(arg) is _bytes:
                    check_path(event, arg, _write_roots, "change")
        elif event in _read_events and args:
            check_path(event, args[0], _read_roots, "listing")

    return hook


def _route_metadata_calls() -> None:
    """Replace ``os.stat`` & co. (:data:`METADATA_CALLS`) in ``os``, ``posix``
    and the ``os.supports_*`` sets by wrappers that raise ``sandbox.meta``:
    the hook checks the path and makes the call. A wrapper holds no original
    (its closure is readable by the code); only the hook does. Called after
    the hook is installed, and after it captured the originals."""
    import posix

    audit, fspath, _type, _int, _str = sys.audit, os.fspath, type, int, str
    originals = {name: getattr(os, name) for name in METADATA_CALLS}

    def unavailable(name: str) -> OSError:
        return OSError(38, f"{name}() with dir_fd, effective_ids or follow_symlinks=False "
                           "is not available in the sandbox")  # fmt: skip

    def call(name: str, path: object, arg: object) -> object:
        box: list[object] = []
        audit("sandbox.meta", name, path if _type(path) is _int else fspath(path), arg, box)
        return box[0]

    def stat(path, *, dir_fd=None, follow_symlinks=True):  # type: ignore[no-untyped-def]
        if dir_fd is not None:
            raise unavailable("stat")
        return call("stat", path, bool(follow_symlinks))

    def lstat(path, *, dir_fd=None):  # type: ignore[no-untyped-def]
        if dir_fd is not None:
            raise unavailable("lstat")
        return call("lstat", path, False)

    def access(path, mode, *, dir_fd=None, effective_ids=False, follow_symlinks=True):  # type: ignore[no-untyped-def]
        if dir_fd is not None or effective_ids or not follow_symlinks:
            raise unavailable("access")
        return call("access", path, int(mode))

    def readlink(path, *, dir_fd=None):  # type: ignore[no-untyped-def]
        if dir_fd is not None:
            raise unavailable("readlink")
        return call("readlink", path, False)

    def statvfs(path):  # type: ignore[no-untyped-def]
        return call("statvfs", path, False)

    def pathconf(path, name):  # type: ignore[no-untyped-def]
        return call("pathconf", path, str(name) if isinstance(name, _str) else int(name))

    wrappers = {"stat": stat, "lstat": lstat, "access": access, "readlink": readlink,
                "statvfs": statvfs, "pathconf": pathconf}  # fmt: skip
    for name, wrapper in wrappers.items():
        setattr(os, name, wrapper)
        setattr(posix, name, wrapper)
    # What the wrappers support: an fd for a path; stat's follow_symlinks.
    for group in (os.supports_dir_fd, os.supports_fd, os.supports_follow_symlinks,
                  os.supports_effective_ids):  # fmt: skip
        for original in originals.values():
            group.discard(original)
    os.supports_fd.update((stat, statvfs, pathconf))
    os.supports_follow_symlinks.add(stat)


def _run(code: str) -> int:
    import linecache
    import traceback

    filename = "<sandbox>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    try:
        compiled = compile(code, filename, "exec", dont_inherit=True)
    except SyntaxError:
        traceback.print_exc(limit=0)
        return 1
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compiled, namespace)
    except MemoryError:
        return EXIT_MEMORY
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code & 0xFF
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException as exc:
        # Drop this runner's frame so the model sees only its own code.
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        return 1
    return 0


def main() -> None:
    cfg = json.loads(sys.argv[1])
    status_fd = int(cfg["status_fd"])
    try:
        with open(cfg["code_file"], encoding="utf-8") as fh:
            code = fh.read()
        os.unlink(cfg["code_file"])
        if cfg.get("network_namespace", True):
            _isolate_network(status_fd)
        _set_limits(cfg, status_fd)
        # Imported before the uid drop: the stdlib may be unreadable to ``nobody``.
        for name in PRELOAD:
            __import__(name)
        _prime_linecache()
        _disable_bytecode_cache()
        _disable_threads()
        _audit_python_imports()
        _drop_privileges(cfg, status_fd)
        hook = _make_hook(os.getcwd(), tuple(cfg["read_roots"]), status_fd)
    except MemoryError:
        os._exit(EXIT_MEMORY)
    except Exception as exc:
        _status(status_fd, "setup_error", f"{type(exc).__name__}: {exc}")
        os._exit(EXIT_SETUP)
    sys.addaudithook(hook)
    _status(status_fd, "isolation", "audit-hook")
    del hook
    try:
        _route_metadata_calls()
    except Exception as exc:
        _status(status_fd, "setup_error", f"{type(exc).__name__}: {exc}")
        os._exit(EXIT_SETUP)
    # The isolation report ends here: the code could write to the fd itself.
    _status(status_fd, "ready")
    # The code must not reach this module's globals (its helpers, the config).
    sys.modules.pop("__main__", None)
    sys.argv = ["<sandbox>"]
    try:
        rc = _run(code)
    except MemoryError:
        rc = EXIT_MEMORY
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    os._exit(rc)


if __name__ == "__main__":
    main()
