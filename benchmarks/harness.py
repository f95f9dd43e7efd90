"""Processes and measurements: start/stop servers pinned to a core, read their CPU and memory, run wrk.

Every process started here goes into `Registry`; `Registry.stop_all()` (called from bench.py's
finally block and signal handlers) ends each by its own process group, which it got from
start_new_session=True, and nothing else.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
SUT_CORE = "0"
LOAD_CORE = "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- /proc -------------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces; it is in parentheses
    return raw[raw.rindex(")") + 2 :].split()


def tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLK_TCK


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def system_cpu_seconds() -> tuple[float, float]:
    """(user + nice + system, steal) CPU time of the whole machine, from /proc/stat.

    Interrupt and softirq time are left out: loopback traffic is processed there and is charged
    to no process, so it would look like someone else's load.
    """
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (values[0] + values[1] + values[2]) / CLK_TCK, values[7] / CLK_TCK


def children_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- processes -----------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def pids(self) -> list[int]:
        return tree(self.popen.pid)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Group:
    """Several processes measured as one system under test (Etalage's workers and their Redis)."""

    procs: list[Proc]

    def pids(self) -> list[int]:
        return [pid for proc in self.procs for pid in proc.pids()]

    def alive(self) -> bool:
        return all(proc.alive() for proc in self.procs)


@dataclass
class Registry:
    logs: Path
    procs: list[Proc] = field(default_factory=list)

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, core: str | None = SUT_CORE, cwd: Path | None = None
    ) -> Proc:
        if core is not None:
            argv = ["taskset", "-c", core, *argv]
        log = self.logs / f"{name}.log"
        handle = open(log, "ab")
        popen = subprocess.Popen(
            argv,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
        handle.close()
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, timeout: float = 10.0) -> None:
        if proc.popen.poll() is None:
            try:
                os.killpg(proc.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.popen.wait(5)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc)


# --- HTTP checks -----------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


def serving_pid(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the server's end of the loopback connection from `client_port` (Etalage's
    workers share one listening socket; whichever accepts a connection answers on it)."""
    wanted = f"0100007F:{server_port:04X} 0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if f"{fields[1]} {fields[2]}" == wanted:
            inode = fields[9]
            break
    if inode is None:
        return None
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if f"socket:[{inode}]" in links:
            return pid
    return None


def get_from_each(port: int, path: str, headers: dict[str, str], pids: list[int], wanted: int, tries: int = 64) -> dict[int, Reply]:
    """GET `path` on new connections until `wanted` different processes of `pids` have answered;
    their replies by process id (fewer when the tries run out)."""
    replies: dict[int, Reply] = {}
    for _ in range(tries):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            reply = Reply(response.status, response.getheaders(), response.read())
            pid = serving_pid(port, conn.sock.getsockname()[1], pids) if conn.sock else None
        finally:
            conn.close()
        if pid is not None:
            replies.setdefault(pid, reply)
        if len(replies) >= wanted:
            break
    return replies


def get(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 30.0) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return Reply(response.status, response.getheaders(), body)
    finally:
        conn.close()


def wait_ready(proc: Proc, port: int, path: str, timeout: float = 30.0) -> str | None:
    """None once `path` answers; else why not (the process exited, or time ran out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            return f"exited with status {proc.popen.returncode}: {proc.log_tail(6)}"
        try:
            get(port, path, timeout=2.0)
            return None
        except OSError:
            time.sleep(0.1)
    return f"did not answer on port {port} within {timeout:.0f} s: {proc.log_tail(6)}"


def wait_idle(pids: list[int], limit: float = 90.0, threshold: float = 0.05) -> float:
    """Wait until these processes use less than `threshold` of a core (abandoned requests finish); seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        before = cpu_seconds(pids)
        time.sleep(0.3)
        if cpu_seconds(pids) - before < threshold * 0.3:
            break
    return time.monotonic() - start


# --- wrk -------------------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict:
    result: dict = {"percentiles_ms": {}}
    for line in output.splitlines():
        line = line.strip()
        if m := re.match(r"(50|75|90|99)(?:\.0+)?%\s+(\S+)", line):
            result["percentiles_ms"][m.group(1)] = _ms(m.group(2))
        elif m := re.match(r"(\d+) requests in ([\d.]+)(\w+), (\S+) read", line):
            result["requests"] = int(m.group(1))
            result["elapsed_s"] = _ms(m.group(2) + m.group(3)) / 1e3
        elif m := re.match(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", line):
            result["socket_errors"] = {k: int(v) for k, v in zip(("connect", "read", "write", "timeout"), m.groups())}
        elif m := re.match(r"Non-2xx or 3xx responses: (\d+)", line):
            result["non_2xx"] = int(m.group(1))
        elif m := re.match(r"Requests/sec:\s+([\d.]+)", line):
            result["rps"] = float(m.group(1))
        elif m := re.match(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", line):
            try:
                result["mean_ms"], result["max_ms"] = _ms(m.group(1)), _ms(m.group(3))
            except ValueError:
                pass
    result.setdefault("non_2xx", 0)
    result.setdefault("socket_errors", {"connect": 0, "read": 0, "write": 0, "timeout": 0})
    return result


def wrk_argv(
    port: int, path: str, connections: int, seconds: float, headers: dict[str, str] | None, script: Path | None = None, timeout_s: int = 30
) -> list[str]:
    argv = [
        "taskset",
        "-c",
        LOAD_CORE,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        f"--timeout={timeout_s}s",
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    if script is not None:
        argv += ["-s", str(script)]
    return argv + [f"http://127.0.0.1:{port}{path}"]


def run_wrk(
    port: int,
    path: str,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None,
    sut_pids: list[int],
    aux_pids: list[int],
    script: Path | None = None,
) -> dict:
    """One wrk run; adds the CPU the system under test used, and the CPU that was not ours (noise)."""
    argv = wrk_argv(port, path, connections, seconds, headers, script)
    sut0, aux0, (busy0, steal0), kids0 = cpu_seconds(sut_pids), cpu_seconds(aux_pids), system_cpu_seconds(), children_cpu_seconds()
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    wall = time.monotonic() - started
    sut1, aux1, (busy1, steal1), kids1 = cpu_seconds(sut_pids), cpu_seconds(aux_pids), system_cpu_seconds(), children_cpu_seconds()
    if done.returncode != 0:
        message = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise RuntimeError(f"wrk failed ({done.returncode}): {message[0] if message else ''} ({' '.join(argv)})")
    result = parse_wrk(done.stdout)
    sut_cpu = sut1 - sut0
    ours = sut_cpu + (aux1 - aux0) + (kids1 - kids0)
    result.update(
        argv=" ".join(argv[3:]),
        sut_cpu_s=round(sut_cpu, 3),
        sut_core_util=round(sut_cpu / wall, 3),
        cpu_us_per_req=round(sut_cpu / result["requests"] * 1e6, 1) if result.get("requests") else None,
        # CPU time used on this machine by processes that are not part of the benchmark, per second of run.
        foreign_cpu_per_s=round(max(0.0, (busy1 - busy0) - ours) / wall, 3),
        steal_per_s=round((steal1 - steal0) / wall, 3),
        wall_s=round(wall, 2),
    )
    return result


def summarize(runs: list[dict]) -> dict:
    """Medians over runs."""

    def med(values):
        values = [v for v in values if v is not None]
        return round(statistics.median(values), 4) if values else None

    errors = sum(r["non_2xx"] + sum(r["socket_errors"].values()) for r in runs)
    return {
        "rps": med([r.get("rps") for r in runs]),
        "p50_ms": med([r["percentiles_ms"].get("50") for r in runs]),
        "p90_ms": med([r["percentiles_ms"].get("90") for r in runs]),
        "p99_ms": med([r["percentiles_ms"].get("99") for r in runs]),
        "cpu_us_per_req": med([r.get("cpu_us_per_req") for r in runs]),
        "sut_core_util": med([r.get("sut_core_util") for r in runs]),
        "foreign_cpu_per_s": med([r.get("foreign_cpu_per_s") for r in runs]),
        "steal_per_s": med([r.get("steal_per_s") for r in runs]),
        "requests": sum(r.get("requests", 0) for r in runs),
        "errors": errors,
        "rps_spread": [min(r.get("rps", 0) for r in runs), max(r.get("rps", 0) for r in runs)],
    }
