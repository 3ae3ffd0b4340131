"""Real-time prediction: batchscore's predict route vs `mlflow models serve`, one row per request.

Both servers run as their own processes on 127.0.0.1 with one worker each and serve the same
fitted estimator (the demo iris model, StandardScaler + LogisticRegression):

  batchscore  `batchscore --config … serve --workers 1` (uvicorn, Starlette; SQLite in a temp
              folder), POST /api/models/iris/predict with a bearer token, one JSON object
  mlflow      `mlflow models serve --env-manager local -w 1` in its own virtualenv, on the
              model exported with mlflow.sklearn.save_model; POST /invocations with
              {"dataframe_records": [row]}

The load generator is this process (asyncio; never a server's process). Every one of the 150
iris rows goes to both servers first (httpx): each must answer 200 with the label the
estimator gives in-process. Then, in each of R rounds (the servers' order alternating), per
concurrency C, N requests cycling through the rows after a warm-up, each answer checked the
same way; pooled over the rounds: requests/s, p50 and p99 latency, the CPU each server process
used per request and the client's own CPU share. The timed requests go over keep-alive
HTTP/1.1 connections written directly on asyncio streams: on two cores httpx needs about as
much CPU per request as the servers and would cap both (--client httpx to see it).

The MLflow virtualenv is bench/.mlflow-venv (made on first run: mlflow-skinny plus this venv's
scikit-learn, skops, NumPy, SciPy and pandas versions) unless --mlflow-python names another.

    .venv/bin/python bench/predict.py [--requests 2000] [--rounds 3] [--concurrency 1 32]
        [--warmup 200] [--mlflow-python PATH] [--mlflow-spec mlflow-skinny] [--client raw|httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import httpx2
import numpy as np
import pandas as pd
from sklearn.datasets import load_iris
from sqlalchemy import Connection

from batchscore.config import Secret, Settings
from batchscore.db import migrate
from batchscore.db.engine import in_transaction, make_engine
from batchscore.db.users import create_user, issue_token
from batchscore.model.registry import load_model
from batchscore.model.train import train_demo_model

MODEL = "iris"
FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
MLFLOW_VENV = Path(__file__).resolve().parent / ".mlflow-venv"
# Pinned to this venv's versions, so both servers run the same estimator code.
SAME_AS_HERE = ("scikit-learn", "skops", "numpy", "scipy", "pandas")

# Runs in the MLflow virtualenv: load our skops artifact (written by this run, so its types
# are trusted), save it in MLflow's sklearn format with a signature, print the versions.
EXPORT = """
import json, sys
import fastapi, mlflow, mlflow.sklearn, pandas as pd, skops.io, uvicorn
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
artifact, target, features = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
estimator = skops.io.load(artifact, trusted=skops.io.get_untrusted_types(file=artifact))
rows = pd.DataFrame(load_iris().data, columns=features)
named = hasattr(estimator, "feature_names_in_")  # else fitted on bare arrays
labels = estimator.predict(rows if named else rows.to_numpy())
mlflow.sklearn.save_model(
    estimator, target, signature=infer_signature(rows, labels),
    pip_requirements=[f"scikit-learn=={__import__('sklearn').__version__}"],
)
print(json.dumps({"mlflow": mlflow.__version__, "uvicorn": uvicorn.__version__,
                  "fastapi": fastapi.__version__}))
"""


@dataclass
class Server:
    name: str
    url: str  #: the predict endpoint
    headers: dict[str, str]
    bodies: list[bytes]  #: one per iris row
    process: subprocess.Popen[bytes]
    log: Path

    def failed(self, what: str) -> SystemExit:
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        return SystemExit(f"{self.name}: {what}\n--- end of its log:\n{tail}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's process tree so far (Linux /proc)."""
        return tree_cpu_seconds(self.process.pid)


@dataclass
class Phase:
    server: str
    concurrency: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    server_cpu_s: float
    client_cpu_s: float
    resets: int  #: requests whose connection broke (not timed, not counted as answered)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def quantile(self, q: int) -> float:
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its descendants (`mlflow models serve` runs uvicorn as a child)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        children = " ".join(p.read_text() for p in Path(f"/proc/{pid}/task").glob("*/children"))
    except OSError:  # gone
        return 0.0
    utime, stime = stat.rpartition(")")[2].split()[11:13]
    own = (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")
    return own + sum(tree_cpu_seconds(int(child)) for child in children.split())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def iris_rows() -> list[dict[str, float]]:
    data = np.asarray(load_iris().data, dtype=np.float64)
    return [dict(zip(FEATURES, (float(v) for v in row), strict=True)) for row in data]


def mlflow_python(given: Path | None, spec: str) -> Path:
    """The MLflow virtualenv's python: `given`, else bench/.mlflow-venv (made or updated here)."""
    if given is not None:
        return given
    wanted = [spec, *(f"{name}=={version(name)}" for name in SAME_AS_HERE)]
    python, marker = MLFLOW_VENV / "bin" / "python", MLFLOW_VENV / ".bench-requirements"
    if not python.exists():
        print(f"Creating {MLFLOW_VENV} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
    if not marker.exists() or marker.read_text().split() != wanted:
        print(f"Installing {' '.join(wanted)} into {MLFLOW_VENV} …", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *wanted], check=True)
        marker.write_text("\n".join(wanted) + "\n")
    return python


def prepare_batchscore(root: Path) -> tuple[Path, str]:
    """Database, demo model and an API token in `root`; the config file and the token."""
    url = f"sqlite:///{root / 'bench.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    settings = Settings(
        database_url=Secret(url),
        input_dir=str(root / "input"),
        output_dir=str(root / "output"),
        model_dir=root / "models",
    )
    train_demo_model(settings.model_dir)

    def user_and_token(conn: Connection) -> str:
        user = create_user(conn, username="bench", password_hash="-", is_admin=False)
        return issue_token(conn, user_id=user.id, name="bench")[1]

    token = in_transaction(engine, user_and_token)
    engine.dispose()
    config = root / "ConfigFile.properties"
    config.write_text(
        f"DB_URL={url}\nINPUT_DIR=input\nOUTPUT_DIR=output\nMODEL_DIR=models\n"
        "HTTP_HOST=127.0.0.1\nHTTP_WORKERS=1\n"
    )
    return config, token


def export_to_mlflow(python: Path, model_dir: Path, target: Path) -> dict[str, str]:
    """Our iris artifact, saved in MLflow format by the MLflow venv; its package versions."""
    artifact = next((model_dir / MODEL).glob("*/model.skops"))
    done = subprocess.run(
        [str(python), "-c", EXPORT, str(artifact), str(target), json.dumps(FEATURES)],
        check=True,
        stdout=subprocess.PIPE,
        env=mlflow_environ(python),
    )
    versions: dict[str, str] = json.loads(done.stdout.decode().splitlines()[-1])
    return versions


def mlflow_environ(python: Path) -> dict[str, str]:
    """`mlflow models serve` starts `uvicorn` from PATH: put its venv first. No telemetry."""
    path = f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}


@contextmanager
def served(
    command: list[str], workers: list[str], ready: str, log: Path, environ: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Start a server on a free port in its own session (so its whole process group can be
    stopped), logging to `log`; yield it and its base URL once `ready` answers 200."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port), *workers],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environ,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(process, base + ready, log)
        yield process, base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args!r} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx2.get(url, timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} was not ready within 180 s:\n{log.read_text()[-3000:]}")


async def check_labels(servers: list[Server], expected: list[str]) -> None:
    """Every row to every server, one at a time: 200 and the in-process label, or stop."""
    async with httpx2.AsyncClient(timeout=60) as client:
        for server in servers:
            for i, body in enumerate(server.bodies):
                response = await client.post(server.url, content=body, headers=server.headers)
                if response.status_code != 200:
                    raise server.failed(f"{response.status_code} {response.text}")
                label = label_of(response.content)
                if label != expected[i]:
                    raise SystemExit(f"{server.name}: row {i} is {label!r}, not {expected[i]!r}")


def label_of(content: bytes) -> object:
    """The label in either server's answer: {"prediction": …} or {"predictions": [… ]}."""
    answer = json.loads(content)
    return answer["prediction"] if "prediction" in answer else answer["predictions"][0]


Post = Callable[[bytes], Awaitable[tuple[int, bytes]]]  #: body → status, response body


class RawConnection:
    """One keep-alive HTTP/1.1 connection with the request head prepared once: the load
    generator's default, as it takes a small fraction of httpx's CPU per request (on two
    cores, httpx's share would cap the servers it measures)."""

    def __init__(self, server: Server) -> None:
        url = httpx2.URL(server.url)
        self.host, self.port = url.host, url.port or 80
        headers = "".join(f"{key}: {value}\r\n" for key, value in server.headers.items())
        self.head = (
            f"POST {url.raw_path.decode()} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
            f"{headers}content-length: "
        ).encode()
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        try:
            writer.write(b"%s%d\r\n\r\n%s" % (self.head, len(body), body))
            head = await reader.readuntil(b"\r\n\r\n")
            length = _CONTENT_LENGTH.search(head)
            if length is None:
                raise ValueError(f"no content-length in {head!r}")
            content = await reader.readexactly(int(length[1]))
        except (OSError, asyncio.IncompleteReadError):
            self.close()
            raise
        if _CONNECTION_CLOSE.search(head):
            self.close()
        return int(head[9:12]), content

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CONNECTION_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)


async def load(
    server: Server,
    expected: list[str],
    requests: int,
    concurrency: int,
    warmup: int,
    client: str = "raw",
) -> Phase:
    """`requests` POSTs from `concurrency` connections, each sending its next row when its
    previous answer is in (after `warmup` untimed ones). Any answer but a 200 with the
    expected label stops the run; a broken connection is counted (and the row sent again)."""
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(limits=limits, timeout=60) as shared:

        async def post_httpx(body: bytes) -> tuple[int, bytes]:
            response = await shared.post(server.url, content=body, headers=server.headers)
            return response.status_code, response.content

        connections = [RawConnection(server) for _ in range(concurrency)]
        posts: list[Post] = (
            [c.post for c in connections] if client == "raw" else [post_httpx] * concurrency
        )
        latencies: list[float] = []
        sent = resets = 0

        async def sender(total: int, post: Post) -> None:
            nonlocal sent, resets
            while sent < total:
                row = sent % len(server.bodies)
                sent += 1
                started = time.perf_counter()
                try:
                    status, content = await asyncio.wait_for(post(server.bodies[row]), 60)
                except (OSError, asyncio.IncompleteReadError, TimeoutError, httpx2.TransportError):
                    resets += 1
                    sent -= 1
                    if resets > max(3, requests // 100):
                        raise server.failed(f"{resets} broken connections") from None
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if status != 200 or label_of(content) != expected[row]:
                    raise server.failed(f"{status} {content[:500]!r}")

        try:
            await asyncio.gather(*(sender(warmup, post) for post in posts))
            latencies.clear()
            sent = resets = 0
            server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
            started = time.perf_counter()
            await asyncio.gather(*(sender(requests, post) for post in posts))
            seconds = time.perf_counter() - started
        finally:
            for connection in connections:
                connection.close()
        return Phase(
            server=server.name,
            concurrency=concurrency,
            requests=len(latencies),
            seconds=seconds,
            latencies_ms=latencies,
            server_cpu_s=server.cpu_seconds() - server_cpu,
            client_cpu_s=time.process_time() - client_cpu,
            resets=resets,
        )


def pooled(runs: list[Phase]) -> Phase:
    """Several rounds of one server at one concurrency as one run: latencies pooled,
    requests/s = all requests over all timed seconds."""
    return Phase(
        server=runs[0].server,
        concurrency=runs[0].concurrency,
        requests=sum(r.requests for r in runs),
        seconds=sum(r.seconds for r in runs),
        latencies_ms=[ms for r in runs for ms in r.latencies_ms],
        server_cpu_s=sum(r.server_cpu_s for r in runs),
        client_cpu_s=sum(r.client_cpu_s for r in runs),
        resets=sum(r.resets for r in runs),
    )


def report(phases: list[Phase]) -> None:
    print(
        f"  {'conc':>4}  {'server':<10} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'server CPU/req':>14} {'client CPU':>10} {'resets':>6}   req/s per round"
    )
    totals: dict[tuple[int, str], Phase] = {}
    for concurrency in sorted({p.concurrency for p in phases}):
        for name in ("batchscore", "mlflow"):
            runs = [p for p in phases if p.concurrency == concurrency and p.server == name]
            total = totals[concurrency, name] = pooled(runs)
            rounds = " ".join(f"{r.per_second:,.0f}" for r in runs)
            print(
                f"  {concurrency:>4}  {name:<10} {total.per_second:>7,.0f}"
                f" {total.quantile(50):>7.2f} {total.quantile(99):>7.2f}"
                f" {total.server_cpu_s / total.requests * 1000:>11.2f} ms"
                f" {total.client_cpu_s / total.seconds:>9.0%} {total.resets:>6}   {rounds}"
            )
    print("batchscore / mlflow:")
    for concurrency in sorted({p.concurrency for p in phases}):
        ours, theirs = totals[concurrency, "batchscore"], totals[concurrency, "mlflow"]
        speed = ours.per_second / theirs.per_second
        p99 = ours.quantile(99) / theirs.quantile(99)
        verdict = "met" if speed >= 2 and p99 < 1 else "missed"
        print(
            f"  concurrency {concurrency:>2}: throughput {speed:.2f}x, p99 {p99:.2f}x"
            f"  (target >= 2x throughput with a lower p99: {verdict})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests per run first")
    parser.add_argument("--rounds", type=int, default=3, help="runs per server and concurrency")
    parser.add_argument("--mlflow-python", type=Path, help="a python with mlflow installed")
    parser.add_argument("--mlflow-spec", default="mlflow-skinny", help="what to pip install")
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="load generator: keep-alive HTTP/1.1 on asyncio streams (default), or httpx",
    )
    args = parser.parse_args()
    python = mlflow_python(args.mlflow_python, args.mlflow_spec)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BATCHSCORE_")}
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as folder, ExitStack() as stack:
        root = Path(folder)
        config, token = prepare_batchscore(root)
        versions = export_to_mlflow(python, root / "models", root / "mlflow-model")
        estimator = load_model(root / "models", MODEL).estimator
        rows = iris_rows()
        table = pd.DataFrame(rows, columns=list(FEATURES))
        named = hasattr(estimator, "feature_names_in_")  # else fitted on bare arrays
        labels = [str(v) for v in estimator.predict(table if named else table.to_numpy())]

        batchscore = Path(sys.executable).with_name("batchscore")
        ours, ours_base = stack.enter_context(
            served(
                [str(batchscore), "--config", str(config), "serve", "--host", "127.0.0.1"],
                ["--workers", "1"],
                "/health",
                root / "batchscore.log",
                environ,
            )
        )
        mlflow_serve = [str(python), "-m", "mlflow", "models", "serve", "-h", "127.0.0.1"]
        theirs, mlflow_base = stack.enter_context(
            served(
                [*mlflow_serve, "-m", str(root / "mlflow-model"), "--env-manager", "local"],
                ["-w", "1"],
                "/ping",
                root / "mlflow.log",
                mlflow_environ(python),
            )
        )
        json_type = {"content-type": "application/json"}
        servers = [
            Server(
                "batchscore",
                f"{ours_base}/api/models/{MODEL}/predict",
                {**json_type, "authorization": f"Bearer {token}"},
                [json.dumps(row).encode() for row in rows],
                ours,
                root / "batchscore.log",
            ),
            Server(
                "mlflow",
                f"{mlflow_base}/invocations",
                json_type,
                [json.dumps({"dataframe_records": [row]}).encode() for row in rows],
                theirs,
                root / "mlflow.log",
            ),
        ]
        asyncio.run(check_labels(servers, labels))
        client_name = (
            "keep-alive HTTP/1.1 on asyncio streams"
            if args.client == "raw"
            else f"httpx {version('httpx')}"
        )
        print(
            f"iris: {len(rows)} rows, same label from both servers and in-process for every row\n"
            f"batchscore 0.1.0: uvicorn {version('uvicorn')}, Starlette {version('starlette')}, "
            f"1 worker, SQLite\n"
            f"mlflow {versions['mlflow']}: `mlflow models serve --env-manager local -w 1`, "
            f"uvicorn {versions['uvicorn']}, FastAPI {versions['fastapi']}\n"
            f"{args.rounds} rounds of {args.requests:,} timed single-row requests per server and "
            f"concurrency, each after {args.warmup} warm-up; "
            f"client: {client_name}, asyncio, one process of its own; "
            f"load average {os.getloadavg()[0]:.2f} before",
            flush=True,
        )
        phases = []
        for round_ in range(args.rounds):  # the order alternates, so neither always goes first
            for concurrency in args.concurrency:
                for server in servers if round_ % 2 == 0 else servers[::-1]:
                    phases.append(
                        asyncio.run(
                            load(
                                server, labels, args.requests, concurrency, args.warmup, args.client
                            )
                        )
                    )
        report(phases)
        print(f"load average {os.getloadavg()[0]:.2f} after (2 cores)")


if __name__ == "__main__":
    main()
