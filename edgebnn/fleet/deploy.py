"""A Flower deployment on this host, as `edgebnn fleet train` runs it: one `flower-superlink`,
one `flower-supernode` per board (each with the board's port and shard in its node config) and
`flwr run` of the fleet app (edgebnn/fleet/app), all on 127.0.0.1 with free ports and a private
FLWR_HOME, and torn down on exit. The same processes, one per machine, are the deployment
docs/fleet.md describes; nothing here replaces Flower's server, scheduling or transport.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

from edgebnn.device.qemu import _free_port
from edgebnn.fleet.aggregate import FleetError

APP = Path(__file__).resolve().parent / "app"
#: seconds the SuperLink and SuperNodes get to start listening
START_TIMEOUT = 60.0


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    if path.is_file():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise FleetError(f"{name} not found: install Flower (`pip install flwr==1.42.0`, "
                         "tools/setup.sh does)")
    return found


def _toml_value(value) -> str:
    """A str, bool, int or float as a TOML value (a JSON string is a valid TOML string)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def config_arg(values: dict) -> str:
    """Flower's `k=v k=v` config syntax (TOML values)."""
    return " ".join(f"{k}={_toml_value(v)}" for k, v in values.items())


class LocalFederation:
    """SuperLink + SuperNodes on 127.0.0.1 (module docstring); `nodes` is one node config per
    SuperNode. Logs go to `work`/*.log (named in errors)."""

    def __init__(self, work: Path, nodes: Sequence[dict]) -> None:
        self.work = Path(work)
        self.nodes = list(nodes)
        self.procs: list[tuple[str, subprocess.Popen]] = []
        # Flower starts its own helpers (flower-superexec, flwr-serverapp, …) from PATH
        bin_dir = str(Path(sys.executable).parent)
        self.env = dict(os.environ, FLWR_HOME=str(self.work / "flwr-home"), PYTHONUNBUFFERED="1",
                        PATH=os.pathsep.join([bin_dir, os.environ.get("PATH", "")]))
        self.port = 0

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.work / f"{name}.log", "wb")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=self.env, cwd=self.work,
                                start_new_session=True)
        log.close()
        self.procs.append((name, proc))
        return proc

    def __enter__(self) -> "LocalFederation":
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        (self.work / "flwr-home").mkdir(parents=True, exist_ok=True)
        self.port = _free_port()    # Flower 1.42 serves every SuperLink API over one HTTP port
        (self.work / "flwr-home" / "config.toml").write_text(
            f'[superlink]\ndefault = "fleet"\n\n[superlink.fleet]\n'
            f'address = "127.0.0.1:{self.port}"\ninsecure = true\n')
        self._spawn("superlink", [
            _tool("flower-superlink"), "--insecure", "--disable-runtime-dependency-installation",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--database", str(self.work / "state.db")])
        self._wait_listening(self.port, "superlink")
        for i, node in enumerate(self.nodes):
            self._spawn(f"supernode-{i}", [
                _tool("flower-supernode"), "--insecure",
                "--superlink", f"127.0.0.1:{self.port}",
                "--host", "127.0.0.1", "--port", str(_free_port()),
                "--node-config", config_arg(node)])

    def _wait_listening(self, port: int, name: str) -> None:
        import socket

        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        raise FleetError(f"{name} did not listen on 127.0.0.1:{port} within {START_TIMEOUT} s "
                         f"(log: {self.work / (name + '.log')})")

    def check_alive(self) -> None:
        """FleetError naming the first Flower process that exited, with its log's tail."""
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.work / f"{name}.log").read_text(errors="replace")[-600:]
                raise FleetError(f"{name} exited with status {proc.returncode}:\n{tail}")

    def run(self, run_config: dict) -> None:
        """`flwr run` of the fleet app with `run_config` (it returns once the run is
        submitted; the ServerApp's events say how it goes)."""
        r = subprocess.run([_tool("flwr"), "run", str(APP), "fleet", "--run-config",
                            config_arg(run_config)], env=self.env, cwd=self.work,
                           capture_output=True, text=True, timeout=120)
        (self.work / "flwr-run.log").write_text(r.stdout + r.stderr)
        if r.returncode != 0:
            raise FleetError(f"flwr run failed ({r.returncode}):\n{(r.stdout + r.stderr)[-800:]}")

    def close(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, 15)
                except ProcessLookupError:
                    pass
        for _, proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(timeout=5)
        self.procs.clear()


def events(out: Path, timeout: float, federation: Optional[LocalFederation] = None,
           on_wait: Optional[Callable[[], None]] = None) -> Iterator[dict]:
    """The ServerApp's events (serverapp.py) as they are written, up to `done`; FleetError on
    `failed`, when a Flower process exits, or after `timeout` s without a new event."""
    from edgebnn.fleet.serverapp import EVENTS

    path, seen, last = out / EVENTS, 0, time.monotonic()
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        for line in lines[seen:]:
            event = json.loads(line)
            yield event
            if event["event"] == "done":
                return
            if event["event"] == "failed":
                raise FleetError(f"the fleet's ServerApp failed: {event['reason']}")
        if len(lines) > seen:
            seen, last = len(lines), time.monotonic()
        if federation is not None:
            federation.check_alive()
        if on_wait is not None:
            on_wait()
        if time.monotonic() - last > timeout:
            raise FleetError(f"no progress from the fleet for {timeout:.0f} s (logs in "
                             f"{out.parent})")
        time.sleep(0.2)
