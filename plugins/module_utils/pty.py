# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a command that asks for a secret on its terminal, and answer on a pseudo-terminal.

``ctr`` takes registry credentials only as ``--user user[:password]``; with the
user alone it asks for the password on the console (and panics without one).
Giving it a pseudo-terminal as stdin and typing the password there keeps the
password out of every process's argv and environment.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import termios
import time

PROMPT_TIMEOUT = 30.0


def _echo_off(fd):
    """True once the program disabled echo on the terminal: it is reading a password now."""
    try:
        return not termios.tcgetattr(fd)[3] & termios.ECHO
    except termios.error:
        return False


def run_with_tty_secret(argv, secret, env=None, timeout=None):
    """Run ``argv`` with a pseudo-terminal as stdin; type ``secret`` when echo goes off.

    Returns (rc, stdout, stderr) as text. stdout and stderr are pipes, so the
    secret typed on the terminal never reaches them (echo is off when it is typed).
    """
    master, slave = os.openpty()
    try:
        # run_command cannot give the child a terminal as stdin.
        proc = subprocess.Popen(argv, stdin=slave, stdout=subprocess.PIPE,  # pylint: disable=ansible-bad-function
                                stderr=subprocess.PIPE, env=env, close_fds=True)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    os.close(slave)
    try:
        deadline = time.monotonic() + PROMPT_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            if _echo_off(master):
                os.write(master, (secret + '\n').encode('utf-8'))
                break
            time.sleep(0.01)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            return -9, out.decode('utf-8', 'replace'), 'the command did not finish within %s seconds' % timeout
    finally:
        os.close(master)
    return proc.returncode, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace')
