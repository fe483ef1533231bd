"""The ``run_python`` sandbox and the Tool seam, against real child processes.

Every hostile snippet must end in a sandbox error quickly, leave no process
or work directory behind, and leave the sandbox usable for the next run.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from core.errors import SandboxTimeoutError, SandboxViolationError, ToolError
from tools.base import Tool, ToolResult, call_tool, tool_schema
from tools.sandbox import RunPythonTool, SandboxLimits, SandboxResult, run_sandboxed

# Small limits keep hostile cases fast; the wall limit leaves room for a busy CI box.
_MIB = 1024 * 1024
LIMITS = SandboxLimits(cpu_seconds=2, wall_seconds=6, memory_bytes=256 * 1024 * 1024)


def sandbox_processes() -> set[int]:
    """PIDs of this test process's live sandbox children."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if b"_sandbox_child.py" in cmdline and ppid == os.getpid():
            pids.add(int(entry.name))
    return pids


@pytest.fixture(autouse=True)
def leaves_nothing_behind():
    """After every test: no sandbox process left, and a normal run still works."""
    yield
    assert not sandbox_processes()
    assert run_sandboxed("print(6 * 7)", LIMITS).stdout == "42\n"


def run(code: str, limits: SandboxLimits = LIMITS) -> SandboxResult:
    return run_sandboxed(code, limits)


# -- normal code ---------------------------------------------------------------


def test_prints_result() -> None:
    result = run("print(sum(range(10)))")
    assert result.stdout.strip() == "45"
    assert result.exit_code == 0
    assert result.stderr == ""
    assert "audit-hook" in result.isolation
    assert "rlimits" in result.isolation


def test_date_math() -> None:
    code = "import datetime\nprint((datetime.date(2024, 3, 1) - datetime.date(2024, 1, 1)).days)"
    assert run(code).stdout.strip() == "60"


def test_documented_modules_are_available() -> None:
    code = (
        "import datetime, math, decimal, fractions, statistics, re, json, csv, io\n"
        "from decimal import Decimal\n"
        "rows = list(csv.reader(io.StringIO('a,1.10\\nb,2.20\\n')))\n"
        "total = sum(Decimal(v) for _, v in rows)\n"
        "print(total, fractions.Fraction(1, 3) * 3, statistics.median([1, 5, 9]),"
        " math.isqrt(17), json.dumps({'k': re.sub('a', 'b', 'aa')}))"
    )
    assert run(code).stdout.strip() == '3.30 1 5 4 {"k": "bb"}'


def test_file_in_work_dir_round_trips_and_work_dir_is_removed() -> None:
    code = (
        "import os\n"
        "from pathlib import Path\n"
        "with open('table.csv', 'w') as f: f.write('x,y\\n1,2\\n')\n"
        "Path('notes.txt').write_text('kept')\n"
        "print(open('table.csv').read().splitlines()[1], Path('notes.txt').read_text())\n"
        "print(os.getcwd())"
    )
    result = run(code)
    first, cwd = result.stdout.splitlines()
    assert first == "1,2 kept"
    assert Path(cwd).name.startswith("dossier-sandbox-")
    assert not Path(cwd).exists()


def test_work_dir_is_removed_after_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(SandboxViolationError):
        run("open('a.txt', 'w').write('x')\nopen('/etc/shadow')")
    limits = LIMITS.model_copy(update={"wall_seconds": 1.0})
    with pytest.raises(SandboxTimeoutError):
        run("open('a.txt', 'w').write('x')\nimport time\ntime.sleep(60)", limits)
    assert run("open('a.txt', 'w').write('x')\nprint('ok')").stdout == "ok\n"
    assert list(tmp_path.iterdir()) == []


def test_exception_in_code_is_a_result_with_traceback() -> None:
    result = run("print('before')\n1 / 0")
    assert result.exit_code == 1
    assert result.stdout == "before\n"
    assert "ZeroDivisionError" in result.stderr
    assert '"<sandbox>", line 2' in result.stderr
    assert "_sandbox_child" not in result.stderr  # only the model's own frames


def test_syntax_error_is_reported() -> None:
    result = run("print(")
    assert result.exit_code == 1
    assert "SyntaxError" in result.stderr


def test_environment_is_empty() -> None:
    os.environ["DOSSIER_SECRET_FOR_TEST"] = "leak"
    try:
        result = run("import os\nprint(sorted(os.environ))")
    finally:
        del os.environ["DOSSIER_SECRET_FOR_TEST"]
    assert result.stdout.strip() == "['HOME', 'LANG', 'PATH', 'TMPDIR']"


def test_code_too_long_is_refused() -> None:
    with pytest.raises(ToolError, match="limit is 10"):
        run_sandboxed("print(1)  # " + "x" * 20, LIMITS.model_copy(update={"max_code_chars": 10}))


# -- limits --------------------------------------------------------------------


def test_infinite_loop_times_out() -> None:
    limits = LIMITS.model_copy(update={"cpu_seconds": 1, "wall_seconds": 2.0})
    start = time.monotonic()
    # CPU or wall limit, whichever comes first on a busy machine.
    with pytest.raises(SandboxTimeoutError, match=r"(CPU time|wall-clock) limit"):
        run("while True:\n    pass", limits)
    assert time.monotonic() - start < limits.wall_seconds + 1.5


def test_sleeping_code_hits_wall_limit() -> None:
    limits = LIMITS.model_copy(update={"wall_seconds": 1.5})
    start = time.monotonic()
    with pytest.raises(SandboxTimeoutError, match=r"wall-clock limit of 1\.5 s"):
        run("import time\ntime.sleep(60)", limits)
    assert time.monotonic() - start < 4


@pytest.mark.parametrize(
    "code",
    [
        "x = bytearray(10**10)",
        "x = [0] * 10**10",
        "x = []\nwhile True:\n    x.append(' ' * 10**6)",
    ],
    ids=["bytearray", "list-multiply", "growing-list"],
)
def test_memory_bomb_is_stopped(code: str) -> None:
    with pytest.raises(SandboxViolationError, match="memory limit of 256 MiB"):
        run(code)


def test_huge_output_is_stopped() -> None:
    with pytest.raises(SandboxViolationError, match="output limit of 65536 bytes on stdout"):
        run("print('x' * 10**8)")


def test_huge_stderr_is_stopped() -> None:
    with pytest.raises(SandboxViolationError, match=r"output limit .* on stderr"):
        run("import sys\nwhile True:\n    sys.stderr.write('y' * 4096)")


def test_large_file_in_work_dir_is_capped() -> None:
    limits = LIMITS.model_copy(update={"max_file_bytes": 1024 * 1024})
    code = (
        "try:\n"
        "    open('big.bin', 'wb').write(b'0' * 4 * 1024 * 1024)\n"
        "except OSError as e:\n"
        "    print('refused', e.errno)\n"
    )
    assert run(code, limits).stdout.strip() == "refused 27"  # EFBIG


# -- forbidden operations -------------------------------------------------------


def test_fork_bomb_is_stopped() -> None:
    before = sandbox_processes()
    with pytest.raises(SandboxViolationError, match=r"os\.fork"):
        run("import os\nwhile True:\n    os.fork()")
    assert sandbox_processes() <= before


@pytest.mark.parametrize(
    ("code", "operation"),
    [
        ("import subprocess\nsubprocess.run(['id'])", "subprocess"),
        ("import os\nos.system('id')", "os.system"),
        ("import os\nos.execv('/bin/sh', ['sh'])", "os.exec"),
        ("import os\nos.posix_spawn('/bin/true', ['true'], {})", "os.posix_spawn"),
        ("import os\nos.kill(1, 9)", "os.kill"),
        ("import _posixsubprocess", "_posixsubprocess"),
        ("import threading\nthreading.Thread(target=print).start()", "threading"),
        ("import _thread\n_thread.start_new_thread(print, ())", "_thread"),
    ],
)
def test_process_creation_is_refused(code: str, operation: str) -> None:
    with pytest.raises(SandboxViolationError, match=re.escape(operation)):
        run(code)


def test_reading_secrets_is_refused() -> None:
    for path in ("/etc/shadow", "/proc/self/environ", "/proc/1/environ", "/etc/passwd"):
        with pytest.raises(SandboxViolationError, match=f"read outside the sandbox: {path}"):
            run(f"print(open({path!r}).read())")


def test_reading_the_service_tree_is_refused() -> None:
    repo_file = str(Path(__file__).resolve())
    with pytest.raises(SandboxViolationError, match="read outside the sandbox"):
        run(f"print(open({repo_file!r}).read())")
    with pytest.raises(SandboxViolationError, match="listing outside the sandbox"):
        run("import os\nprint(os.listdir('/'))")


def test_writing_outside_work_dir_is_refused() -> None:
    target = Path("/tmp/evil.txt")
    assert not target.exists()
    with pytest.raises(
        SandboxViolationError, match=re.escape("write outside the sandbox: /tmp/evil.txt")
    ):
        run("open('/tmp/evil.txt', 'w').write('pwned')")
    with pytest.raises(SandboxViolationError, match="write outside the sandbox"):
        run("open('../evil.txt', 'w').write('pwned')")
    with pytest.raises(SandboxViolationError, match=r"os\.symlink"):
        run("import os\nos.symlink('/tmp', 'escape')\nopen('escape/evil.txt', 'w').write('x')")
    with pytest.raises(SandboxViolationError, match=r"os\.remove"):
        run("import os\nos.remove('/tmp/anything')")
    assert not target.exists()


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import os\nprint(os.stat('/etc/passwd').st_size)", "stat outside the sandbox: /etc/passwd"),
        ("import os\nprint(os.lstat('/etc/shadow'))", "lstat outside the sandbox: /etc/shadow"),
        ("import os\nprint(os.path.exists('/etc/shadow'))", "stat outside the sandbox"),
        ("import pathlib\nprint(pathlib.Path('/etc/hosts').stat())", "stat outside the sandbox"),
        ("import posix\nprint(posix.stat('/etc/passwd'))", "stat outside the sandbox"),
        ("import os\nprint(os.access('/etc/shadow', os.R_OK))", "access outside the sandbox"),
        ("import os\nprint(os.readlink('/proc/self/exe'))", "readlink outside the sandbox"),
        ("import os\nprint(os.statvfs('/etc'))", "statvfs outside the sandbox"),
        ("import os\nprint(os.pathconf('/etc/passwd', 'PC_NAME_MAX'))", "pathconf outside"),
        ("import os\nprint(os.scandir('/etc'))", "listing outside the sandbox: /etc"),
        ("import os\nprint(os.listdir('..'))", "listing outside the sandbox: .."),
        # the originals are reachable from nowhere: not the os.supports_* sets,
        # not the wrappers' closures, not a hand-made event
        ("import os\nfor f in os.supports_fd:\n    f.__name__ == 'stat' and f('/etc/passwd')",
         "stat outside the sandbox"),
        ("import os\nfor c in os.stat.__closure__:\n    print(c.cell_contents)\n"
         "os.stat.__closure__[0].cell_contents('stat', '/etc/passwd', True)",
         "stat outside the sandbox"),
        ("import sys\nbox = []\nsys.audit('sandbox.meta', 'stat', '/etc/passwd', True, box)",
         "stat outside the sandbox"),
    ],
    ids=["stat", "lstat", "exists", "pathlib", "posix", "access", "readlink", "statvfs",
         "pathconf", "scandir", "listdir-up", "supports-set", "closure", "audit-event"],
)  # fmt: skip
def test_metadata_outside_work_dir_is_refused(code: str, message: str) -> None:
    with pytest.raises(SandboxViolationError, match=re.escape(message)):
        run(code)
    # the hook refuses them on its own too (root, no uid drop)
    limits = LIMITS.model_copy(update={"run_as_uid": None, "network_namespace": False})
    with pytest.raises(SandboxViolationError, match=re.escape(message)):
        run(code, limits)


def test_metadata_inside_work_dir_works() -> None:
    code = (
        "import os, pathlib\n"
        "open('a.txt', 'w').write('hello')\n"
        "os.mkdir('sub')\n"
        "print(os.path.getsize('a.txt'), os.path.isdir('sub'), os.path.exists('nope'),\n"
        "      pathlib.Path('a.txt').resolve() == pathlib.Path(os.getcwd(), 'a.txt'),\n"
        "      os.access('a.txt', os.R_OK), os.stat(os.open('a.txt', os.O_RDONLY)).st_size,\n"
        "      sorted(e.name for e in os.scandir('.')))"
    )
    assert run(code).stdout.strip() == "5 True False True True 5 ['a.txt', 'sub']"


def test_disk_quota_of_the_work_directory() -> None:
    limits = LIMITS.model_copy(update={"max_file_bytes": _MIB, "max_disk_bytes": 4 * _MIB})
    many_files = (
        "block = b'0' * (1 << 20)\n"
        "for i in range(64):\n"
        "    open(f'part{i}.bin', 'wb').write(block)\n"
        "print('wrote 64 MiB')"
    )
    with pytest.raises(
        SandboxViolationError, match=re.escape("disk quota of the work directory exceeded (4 MiB")
    ):
        run(many_files, limits)
    # the quota holds while the code runs, not only when it has ended
    slow = "import time\n" + many_files.replace("block)", "block); time.sleep(0.01)")
    started = time.monotonic()
    with pytest.raises(SandboxViolationError, match="disk quota"):
        run(slow, limits)
    assert time.monotonic() - started < 3  # 64 writes x 10 ms would be ~0.7 s more
    with pytest.raises(SandboxViolationError, match="2000 files"):
        run("for i in range(5000):\n    open(f'e{i}', 'w').close()")
    assert run("open('ok.txt', 'w').write('x' * 1000)\nprint('ok')", limits).stdout == "ok\n"


def test_isolation_report_cannot_be_forged() -> None:
    honest = run("print('hi')").isolation
    assert "audit-hook" in honest
    forged = run(
        "import os\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(fd, b'isolation\\tforged-netns\\nready\\nisolation\\tforged\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "print('done')"
    )
    assert forged.stdout == "done\n"
    assert forged.isolation == honest


@pytest.mark.parametrize(
    "code",
    [
        "import socket\nsocket.create_connection(('127.0.0.1', 80))",
        "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', 53))",
        "import _socket\n_socket.socket()",
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1/')",
    ],
    ids=["tcp", "udp", "_socket", "urllib"],
)
def test_network_is_refused(code: str) -> None:
    with pytest.raises(SandboxViolationError, match="forbidden operation"):
        run(code)


def test_importlib_cannot_load_network_modules() -> None:
    with pytest.raises(SandboxViolationError, match="import of _socket"):
        run("import importlib\nimportlib.import_module('_socket')")


@pytest.mark.parametrize(
    "code",
    [
        "__import__('ctypes')",
        "import importlib\nimportlib.import_module('ctypes')",
        'exec("import ctypes")',
        "import sys\nsys.addaudithook(lambda *a: None)",
        "import sys\nsys.settrace(lambda *a: None)",
        "import sys\nsys.setprofile(lambda *a: None)",
        "import gc\ngc.get_objects()",
        "import marshal\nmarshal.loads(b'\\xe3')",
        "(lambda: 0).__code__.replace(co_code=b'')",
        # Patching what the hook might rely on must not change its decisions.
        "import builtins, os, os.path\n"
        "builtins.type = lambda *a: str\n"
        "os.path.realpath = lambda p: '/tmp/ok'\n"
        "os.getcwd = lambda: '/'\n"
        "open('/etc/shadow').read()",
        # A str subclass could run its own code inside the hook.
        "class P(str):\n    def startswith(self, *a): return True\nopen(P('/etc/shadow')).read()",
        # Catching the refusal does not let the code go on probing.
        "try:\n    open('/etc/shadow')\nexcept BaseException:\n    pass\nprint('escaped')",
    ],
    ids=[
        "ctypes-import",
        "ctypes-importlib",
        "ctypes-exec",
        "addaudithook",
        "settrace",
        "setprofile",
        "gc",
        "marshal",
        "code-replace",
        "patched-builtins",
        "str-subclass",
        "caught-refusal",
    ],
)
def test_hook_cannot_be_escaped(code: str) -> None:
    with pytest.raises(SandboxViolationError, match="forbidden operation"):
        run(code)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("print(open('/etc/shadow').read())", "read outside the sandbox: /etc/shadow"),
        ("open('/tmp/evil.txt', 'w').write('x')", "write outside the sandbox: /tmp/evil.txt"),
        ("import os\nos.fork()", "os.fork"),
        ("import _thread\n_thread.start_new_thread(print, ())", "_thread.start_new_thread"),
        (
            "import sys\nclass E(str):\n    def __eq__(self, o): return False\n"
            "    __hash__ = str.__hash__\nsys.audit(E('open'), '/etc/shadow', 'r', 0)",
            "read outside the sandbox: /etc/shadow",
        ),
    ],
    ids=["shadow", "write", "fork", "thread", "audit-str-subclass"],
)
def test_hook_alone_holds_without_privilege_drop(code: str, message: str) -> None:
    # As root with no uid drop, file permissions and RLIMIT_NPROC do not apply:
    # the audit hook is the only thing refusing these.
    limits = LIMITS.model_copy(update={"run_as_uid": None, "network_namespace": False})
    with pytest.raises(SandboxViolationError, match=re.escape(message)):
        run(code, limits)
    assert not Path("/tmp/evil.txt").exists()


def test_cannot_reach_the_sandbox_module() -> None:
    result = run("import sys\nprint('__main__' in sys.modules, 'ctypes' in sys.modules)")
    assert result.stdout.strip() == "False False"


# -- the tool and the Tool seam ----------------------------------------------------


class EchoArgs(BaseModel):
    text: str
    times: int = 1


class EchoTool:
    name = "echo"
    description = "Repeat text."
    input_model: type[BaseModel] = EchoArgs

    async def run(self, args: BaseModel) -> ToolResult:
        assert isinstance(args, EchoArgs)
        if args.times < 0:
            raise ToolError("times must be >= 0")
        return ToolResult(content=args.text * args.times)


def test_tools_satisfy_the_protocol() -> None:
    assert isinstance(RunPythonTool(), Tool)
    assert isinstance(EchoTool(), Tool)


def test_tool_schema_is_an_openai_function_spec() -> None:
    spec = tool_schema(RunPythonTool())
    assert spec["type"] == "function"
    fn = spec["function"]
    assert fn["name"] == "run_python"
    assert "datetime" in fn["description"]
    assert fn["parameters"]["type"] == "object"
    assert fn["parameters"]["required"] == ["code"]
    assert fn["parameters"]["properties"]["code"]["type"] == "string"


async def test_call_tool_validates_and_runs() -> None:
    tool = EchoTool()
    assert (await call_tool(tool, '{"text": "ab", "times": 2}')).content == "abab"
    assert (await call_tool(tool, {"text": "z"})).content == "z"


@pytest.mark.parametrize(
    "raw",
    ["{not json", "[1, 2]", '"text"', '{"times": "many"}', {"text": 3}, ""],
    ids=["bad-json", "array", "string", "wrong-type", "dict-wrong-type", "empty"],
)
async def test_call_tool_with_garbage_args_returns_error(raw: str | dict) -> None:
    result = await call_tool(EchoTool(), raw)
    assert result.is_error
    assert result.content.startswith("invalid arguments:")


async def test_call_tool_turns_tool_error_into_result() -> None:
    result = await call_tool(EchoTool(), {"text": "a", "times": -1})
    assert result.is_error
    assert result.content == "times must be >= 0"


async def test_run_python_tool_success() -> None:
    result = await call_tool(RunPythonTool(LIMITS), {"code": "print(sum(range(10)))"})
    assert not result.is_error
    assert result.content.strip() == "45"
    assert result.data["exit_code"] == 0


async def test_run_python_tool_reports_failures_as_messages() -> None:
    tool = RunPythonTool(LIMITS)
    crashed = await call_tool(tool, {"code": "1/0"})
    assert crashed.is_error
    assert "ZeroDivisionError" in crashed.content
    refused = await call_tool(tool, '{"code": "open(\'/etc/shadow\').read()"}')
    assert refused.is_error
    assert "forbidden operation open" in refused.content
    garbage = await call_tool(tool, '{"source": "print(1)"}')
    assert garbage.is_error
    assert garbage.content.startswith("invalid arguments: code")
    silent = await call_tool(tool, {"code": "x = 1"})
    assert not silent.is_error
    assert "print()" in silent.content
