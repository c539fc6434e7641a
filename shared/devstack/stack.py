"""The whole platform in one process: moto, resources from template.yaml, gateway, pollers, schedules.

Typical test use::

    with LocalStack(port=0) as stack:
        requests.get(f"{stack.url}/v2/sites", headers={"X-Api-Key": key})

While a stack runs, ``os.environ`` holds fake credentials, ``AWS_ENDPOINT_URL`` (the moto
server) and the functions' variables; ``stop()`` restores the previous environment.

Caveat: ``moto_mode="thread"`` (default) runs moto's ThreadedMotoServer in this process, sharing
moto's global backends. ``moto.mock_aws`` resets those backends when it starts and stops, so a
stack must not be alive while ``mock_aws`` tests run in the same process. Use
``moto_mode="process"`` to run moto in a child process when both must coexist.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import boto3

from .gateway import LocalGateway
from .lambdas import FAKE_CREDENTIALS, LocalFunction, apply_environment, load_all, runtime_environment
from .poller import SqsPoller
from .resources import create_resources
from .runtime_schedules import SchedulerEmulator
from .scheduler import Schedule
from .template import REGION, PhysicalResource, Template

log = logging.getLogger("devstack.stack")

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = ".devstack"
STATE_FILE = "state.json"


def find_template(start: Path | None = None) -> Path:
    """``template.yaml`` in ``start`` (default: cwd) or a parent, else the one of this repo."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "template.yaml"
        if candidate.is_file():
            return candidate
    return REPO_ROOT / "template.yaml"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _MotoProcess:
    """moto's server in a child process (isolated from in-process ``mock_aws``)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port or free_port(host)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.proc.returncode} (port {self.port} in use?)")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto server did not start within 30 s")

    def get_host_and_port(self) -> tuple[str, int]:
        return self.host, self.port

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


class LocalStack:
    """Start with ``start()`` or ``with``; ``url`` is the gateway, ``endpoint_url`` is moto."""

    def __init__(
        self,
        template: str | Path | None = None,
        *,
        parameters: Mapping[str, str] | None = None,
        stack_name: str = "telemetry-local",
        host: str = "127.0.0.1",
        port: int = 0,
        moto_port: int | None = None,
        moto_mode: Literal["thread", "process"] = "thread",
        pollers: bool = True,
        schedules: bool = True,
        speedup: float = 1.0,
        state_file: str | Path | None = None,
        state_dir: str | Path | None = None,
        strict: bool = False,
    ) -> None:
        self.template_path = Path(template) if template else find_template()
        self.parameters = dict(parameters or {})
        self.stack_name = stack_name
        self.host = host
        self.port = port
        self.moto_port = moto_port if moto_port is not None else int(os.environ.get("MOTO_PORT") or 0)
        self.moto_mode = moto_mode
        self.run_pollers = pollers
        self.run_schedules = schedules
        self.speedup = speedup
        self.state_file = Path(state_file) if state_file else None
        # With a state dir the state lands in ``<state_dir>/<bound port>/``: stacks on different
        # ports beside one template each keep their own (``telemetry-dev key --port``).
        self.state_dir = Path(state_dir) if state_dir else None
        self.strict = strict

        self.template: Template | None = None
        self.endpoint_url = ""
        self.session: boto3.session.Session | None = None
        self.resources: dict[str, PhysicalResource] = {}
        self.functions: dict[str, LocalFunction] = {}
        self.environment: dict[str, str] = {}
        self.gateway: LocalGateway | None = None
        self.pollers: list[SqsPoller] = []
        self.schedules: list[Schedule] = []
        self.scheduler: SchedulerEmulator | None = None
        #: extra lines `telemetry-dev run` prints under the gateway's address (e.g. the provider fakes)
        self.banner: list[str] = []
        self._moto: Any = None
        self._saved_env: dict[str, str] | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_moto(self) -> None:
        # MOTO_HOST=0.0.0.0 lets `sam local` containers reach moto (host.docker.internal); the
        # default keeps it on loopback.
        bind = os.environ.get("MOTO_HOST") or "127.0.0.1"
        if self.moto_mode == "process":
            self._moto = _MotoProcess(bind, self.moto_port)
        else:
            from moto.server import ThreadedMotoServer

            # Every request of the pollers' long polls would be logged otherwise.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            self._moto = ThreadedMotoServer(ip_address=bind, port=self.moto_port, verbose=False)
        self._moto.start()
        _, port = self._moto.get_host_and_port()
        self.endpoint_url = f"http://127.0.0.1:{port}"

    def _start(self) -> None:
        self._saved_env = dict(os.environ)
        self._start_moto()
        os.environ.update(runtime_environment(self.endpoint_url))
        self.session = boto3.session.Session(
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )
        template = Template.load(self.template_path, parameters=self.parameters, stack_name=self.stack_name)
        self.template = template
        self.resources = create_resources(template, self.session, endpoint_url=self.endpoint_url)
        specs = template.functions()
        self.environment = apply_environment(specs, endpoint_url=self.endpoint_url)
        _forget_cached_composition()
        self.functions = load_all(template, strict=self.strict)
        self.gateway = LocalGateway(template, self.functions, host=self.host, port=self.port).start()
        if self.run_pollers:
            for ev in template.sqs_events():
                self._start_poller(ev.function_id, ev)
        if self.run_schedules:
            for sched in template.schedule_events():
                fn = self.functions.get(sched.function_id)
                if fn is not None:
                    self.schedules.append(Schedule(sched, fn, speedup=self.speedup).start())
            # schedules created at run time (one per integration), from what moto's Scheduler stores
            self.scheduler = SchedulerEmulator(
                self.client("scheduler"), self.client("sqs"), invoke=self._invoke_named, speedup=self.speedup
            ).start()
        if self.state_dir is not None and self.state_file is None:
            self.state_file = state_file_for(self.state_dir, self.gateway.port)
        if self.state_file is not None:
            self._write_state()
        log.info("local stack up: gateway %s, moto %s", self.url, self.endpoint_url)

    def _start_poller(self, function_id: str, ev: Any) -> None:
        fn = self.functions.get(function_id)
        queue = self.resources.get(ev.queue_id)
        if not ev.enabled or fn is None or queue is None or self.session is None:
            log.warning(
                "SQS mapping %s.%s not started (disabled, function not loaded or queue missing)",
                function_id,
                ev.event_name,
            )
            return
        poller = SqsPoller(
            ev,
            fn,
            queue_url=queue.ref,
            queue_arn=queue.attributes["Arn"],
            session=self.session,
            endpoint_url=self.endpoint_url,
        )
        self.pollers.append(poller.start())

    def stop(self) -> None:
        """Stop schedules, pollers, gateway and moto; restore the environment. Idempotent."""
        for sched in self.schedules:
            sched.stop()
        self.schedules = []
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        for poller in self.pollers:
            poller._stop.set()  # signal all first so they wind down in parallel
        for poller in self.pollers:
            poller.stop()
        self.pollers = []
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        if self._moto is not None:
            try:
                self._moto.stop()
            except Exception:  # pragma: no cover - best effort on shutdown
                log.exception("stopping moto failed")
            self._moto = None
        if self.state_file is not None:
            self._remove_state()
        if self._saved_env is not None:
            os.environ.clear()
            os.environ.update(self._saved_env)
            self._saved_env = None
        # Last, once no poller or request thread of this stack runs: one that called the root
        # between an earlier clear and its own stop would leave a container that still points at
        # this (now dead) moto, for whatever runs next in the process.
        _forget_cached_composition()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers for tests and the CLI

    @property
    def url(self) -> str:
        if self.gateway is None:
            raise RuntimeError("stack is not running")
        return self.gateway.url

    def client(self, service: str) -> Any:
        """A boto3 client against the local moto server."""
        if self.session is None:
            raise RuntimeError("stack is not running")
        return self.session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def invoke(self, logical_id: str, event: Any) -> Any:
        return self.functions[logical_id].invoke(event)

    def _invoke_named(self, name: str, event: Any) -> None:
        """Invoke a function by the name a schedule's target ARN carries (logical or physical)."""
        for logical_id, fn in self.functions.items():
            if name in (logical_id, fn.spec.function_name):
                fn.invoke(event)
                return
        log.warning("no local function named %s", name)

    def physical(self, logical_id: str) -> str:
        """Table name / queue URL of a template resource."""
        return self.resources[logical_id].ref

    def state(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "port": self.gateway.port if self.gateway else self.port,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "stack_name": self.stack_name,
            "template": str(self.template_path),
            "region": REGION,
            "endpoint_url": self.endpoint_url,
            "gateway_url": self.url,
            "resources": {lid: res.to_json() for lid, res in self.resources.items()},
            "environment": {k: v for k, v in self.environment.items() if k not in FAKE_CREDENTIALS},
        }

    def _write_state(self) -> None:
        assert self.state_file is not None
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.state_file)
        sam_env = json.dumps(self.sam_env_vars(), indent=2) + "\n"
        (self.state_file.parent / SAM_ENV_FILE).write_text(sam_env, encoding="utf-8")
        if self.state_dir is not None:
            # the last stack started: `sam local invoke ... --env-vars .devstack/sam-env.json`
            (self.state_dir / SAM_ENV_FILE).write_text(sam_env, encoding="utf-8")

    def sam_env_vars(self) -> dict[str, Any]:
        """An ``--env-vars`` file for ``sam local invoke``/``start-api`` against this moto server.

        SAM resolves ``!Ref DefinitionsTable`` to the logical id, not to the table moto holds,
        and its containers reach the host as ``host.docker.internal``; this file gives every
        function its own variables with the physical names, and that endpoint. ``Parameters``
        (what SAM applies to every function) holds their union, for tools that read only it;
        each ``<LogicalId>`` section (which SAM applies to that function, over ``Parameters``)
        holds exactly what that function declares. SAM overrides only declared variables:
        ``AWS_ENDPOINT_URL`` is declared when the ``EndpointUrl`` parameter is non-empty
        (``--config-env local_start_api``).
        """
        port = self.endpoint_url.rsplit(":", 1)[1] if self.endpoint_url else "5000"
        runtime = {
            "AWS_ENDPOINT_URL": f"http://host.docker.internal:{port}",
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "AWS_DEFAULT_REGION": REGION,
        }
        common = {k: v for k, v in (self.environment or {}).items() if not k.startswith("AWS_")}
        out: dict[str, Any] = {"Parameters": {**common, **runtime}}
        for logical_id, fn in sorted(self.functions.items()):
            own = {k: v for k, v in fn.spec.environment.items() if not k.startswith("AWS_")}
            out[logical_id] = {**own, "AWS_ENDPOINT_URL": runtime["AWS_ENDPOINT_URL"]}
        return out

    def _remove_state(self) -> None:
        assert self.state_file is not None
        try:
            current = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if current.get("pid") == os.getpid():  # never remove another process's state
            self.state_file.unlink(missing_ok=True)
            (self.state_file.parent / SAM_ENV_FILE).unlink(missing_ok=True)
            latest = self.state_dir / SAM_ENV_FILE if self.state_dir is not None else None
            with contextlib.suppress(OSError, ValueError):  # only if no stack started since wrote it
                if latest is not None and json.loads(latest.read_text(encoding="utf-8")) == self.sam_env_vars():
                    latest.unlink()
            if self.state_dir is not None:
                with contextlib.suppress(OSError):  # the per-port folder, when empty
                    self.state_file.parent.rmdir()


#: written beside the state file: `sam local start-api --env-vars .devstack/<port>/sam-env.json`
SAM_ENV_FILE = "sam-env.json"


def default_state_dir(template_path: Path) -> Path:
    return template_path.resolve().parent / STATE_DIR


def state_file_for(state_dir: Path, port: int) -> Path:
    """``.devstack/<port>/state.json``: one per gateway port."""
    return state_dir / str(port) / STATE_FILE


def default_state_file(template_path: Path, port: int) -> Path:
    return state_file_for(default_state_dir(template_path), port)


def _live_state(path: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        os.kill(int(state["pid"]), 0)
    except ProcessLookupError:
        log.warning("%s is stale (process %s is gone); ignoring it", path, state.get("pid"))
        return None
    except (PermissionError, KeyError, ValueError):
        pass
    return state


def running_stacks(template_path: Path) -> dict[int, dict[str, Any]]:
    """The live local stacks of this template, by gateway port."""
    found: dict[int, dict[str, Any]] = {}
    for path in sorted(default_state_dir(template_path).glob(f"*/{STATE_FILE}")):
        if path.parent.name.isdigit() and (state := _live_state(path)) is not None:
            found[int(path.parent.name)] = state
    return found


class StackNotFoundError(Exception):
    """No (or no unambiguous) running local stack for the requested port."""


def find_running_stack(template_path: Path, port: int | None) -> dict[str, Any] | None:
    """The state of the stack on ``port`` (else ``$PORT``); without either, the only one running.

    Raises :class:`StackNotFoundError` when a port is asked for and no stack serves it, or when
    several run and none is named; returns ``None`` when no port is asked for and none runs.
    """
    if port is None and os.environ.get("PORT", "").isdigit():
        port = int(os.environ["PORT"])
    stacks = running_stacks(template_path)
    if port is not None:
        if port not in stacks:
            others = ", ".join(map(str, stacks)) or "none"
            raise StackNotFoundError(f"no local stack on port {port} (running: {others})")
        return stacks[port]
    if len(stacks) > 1:
        raise StackNotFoundError(f"several local stacks run (ports {', '.join(map(str, stacks))}): pass --port")
    return next(iter(stacks.values()), None)


def _forget_cached_composition() -> None:
    """Drop the functions' cached composition root (and the settings it parsed), if loaded.

    The functions run in this process and build their container once from ``os.environ``; the
    stack changes that environment on start and restores it on stop, so the cache must go both
    times. A template whose functions do not use ``telemetry`` has nothing to clear.
    """
    cached = getattr(sys.modules.get("telemetry.bootstrap"), "container", None)
    if cached is not None:  # absent too where a test stands in its own ``telemetry.bootstrap``
        cached.cache_clear()
