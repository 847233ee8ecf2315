"""Log URIs and the log writer: the program run as containerd's shim runs it (output on fds 3 and 4, the
readiness pipe on fd 5, the URI's query as KEY VALUE arguments)."""

import fcntl
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import readiness, task_logs
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput

OPTIONS = dict(max_size="1m", max_files=2, writer_path="/var/lib/ctrops-containerd/bin/log-writer")


def test_uri_round_trip():
    assert task_logs.log_uri(None, OPTIONS) is None
    assert task_logs.log_uri("/var/log/web.log") == "file:///var/log/web.log"
    uri = task_logs.log_uri("/var/log/my web.log", OPTIONS)
    assert uri == ("binary:///var/lib/ctrops-containerd/bin/log-writer?path=/var/log/my%20web.log"
                   "&max_size=1048576&max_files=2")
    assert task_logs.path_of(uri) == "/var/log/my web.log"
    assert task_logs.writer_of(uri) == OPTIONS["writer_path"]
    assert task_logs.path_of("file:///var/log/web.log") == "/var/log/web.log"
    assert task_logs.writer_of("file:///var/log/web.log") is None and task_logs.path_of(None) is None


@pytest.mark.parametrize("params, message", [
    (dict(log_path=None, log_options=OPTIONS), "log_options rotate the file given in log_path: set log_path too."),
    (dict(log_path="/l", log_options=dict(OPTIONS, max_size="lots")),
     "log_options.max_size 'lots' is not a size of at least 4k: write it as 10m, 512k or a number of bytes."),
    (dict(log_path="/l", log_options=dict(OPTIONS, max_size="100")),
     "log_options.max_size '100' is not a size of at least 4k: write it as 10m, 512k or a number of bytes."),
    (dict(log_path="/l", log_options=dict(OPTIONS, max_files=0)), "log_options.max_files is 0: keep at least 1 file."),
])
def test_bad_options_are_one_sentence(params, message):
    with pytest.raises(InvalidInput) as raised:
        task_logs.validate_params(params)
    assert str(raised.value) == message


def run_writer(tmp_path, chunks, max_size, max_files, terminate=False, pause=0):
    """The writer as a shim starts it; ``chunks`` written to its stdout, the last one to its stderr."""
    program = tmp_path / "log-writer"
    program.write_text(task_logs.writer_text())
    program.chmod(0o755)
    log = tmp_path / "task.log"
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ready_r, ready_w = os.pipe()
    argv = [str(program), "max_files", str(max_files), "path", str(log), "max_size", str(max_size)]

    def as_the_shim():  # stdout, stderr and readiness on 3, 4 and 5 (through high numbers: no overlap)
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 20) for fd in (out_r, err_r, ready_w)]
        for number, fd in enumerate(high, 3):
            os.dup2(fd, number)

    writer = subprocess.Popen(argv, pass_fds=(3, 4, 5), env={}, preexec_fn=as_the_shim)
    for fd in (out_r, err_r, ready_w):
        os.close(fd)
    assert os.read(ready_r, 1) == b"", "the writer did not close its readiness descriptor"
    os.close(ready_r)
    for index, chunk in enumerate(chunks):
        os.write(err_w if index == len(chunks) - 1 else out_w, chunk)
        time.sleep(pause)
    if terminate:
        time.sleep(0.2)
        writer.terminate()  # as the shim does after closing its ends; what was written is still kept
    os.close(out_w)
    os.close(err_w)
    assert writer.wait(timeout=10) == 0
    return log


def test_writer_rotates_and_keeps_max_files(tmp_path):
    lines = [b"line %05d %s\n" % (n, b"x" * 90) for n in range(3000)] + [b"from stderr\n"]  # 300 kB
    log = run_writer(tmp_path, lines, max_size=65536, max_files=3)
    files = sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("task.log"))
    assert files == ["task.log", "task.log.1", "task.log.2"], files
    assert all(os.path.getsize(tmp_path / name) < 65536 + 65536 for name in files)
    assert oct(os.stat(log).st_mode & 0o777) == "0o640"
    kept = b"".join((tmp_path / name).read_bytes() for name in ("task.log.2", "task.log.1", "task.log"))
    # Each stream keeps its order (stderr's line lands where the writer read it, as with file:// logs).
    assert b"from stderr\n" in kept and b"".join(lines[:-1]).endswith(kept.replace(b"from stderr\n", b""))
    # The newest lines come across the rotated file when the newest file is short of them.
    newest = log.read_bytes().count(b"\n")
    assert readiness.log_tail(str(log), newest + 5) == kept.decode().splitlines()[-(newest + 5):]


def test_writer_with_one_file_empties_it_and_keeps_output_on_sigterm(tmp_path):
    log = run_writer(tmp_path, [b"a" * 3000 + b"\n"] * 3 + [b"last\n"], max_size=8192, max_files=1, terminate=True,
                     pause=0.05)
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("task.log")) == ["task.log"]
    assert log.read_bytes().endswith(b"last\n") and log.stat().st_size < 8192


def test_writer_text_runs_this_interpreter():
    assert task_logs.writer_text().startswith("#!%s -S\n" % sys.executable)
