#!/usr/bin/env python3
"""Local infrastructure for ICR without Docker: a real Kafka 4.x broker and a MongoDB stand-in.

    python deploy/local/infra.py up|down|status|env|reset [--profile dev|test]

Both run as plain JVMs from Maven Central jars (deploy/local/*/pom.xml); see
docs/local-infra.md. Stdlib only, so it works before `uv sync` and in CI.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import string
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HOST = "127.0.0.1"  # loopback only: nothing here is meant to be reachable from outside
CACHE = Path(os.environ.get("ICR_CACHE_DIR") or Path.home() / ".cache" / "icr")
# Where each profile keeps its data, logs and pid files; a second platform needs its own.
STATE = Path(os.environ.get("ICR_STATE_DIR") or REPO / ".local")
STOP_TIMEOUT = 20.0
BANNER = "\n=== infra.py start"
MIN_JAVA = 17  # Kafka 4.x brokers and mongo-java-server 1.4x both need Java 17
PROFILES = {
    # dev keeps its data across down/up; test starts empty every time a service is started.
    "dev": {"kafka": 9092, "mongo": 27017, "mongo_disk": True, "wipe": False},
    "test": {"kafka": 19092, "mongo": 27018, "mongo_disk": False, "wipe": True},
}


class InfraError(Exception):
    """A failure the user can act on; printed as `infra: ERROR: ...` with exit code 1."""


def say(msg: str) -> None:
    print(f"infra: {msg}", flush=True)


def tail(path: Path, n: int = 25) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return f"({path} does not exist)"
    return f"--- last {len(lines)} lines of {path} ---\n" + "\n".join(lines)


def round_trip(port: int, request: bytes, framing: str) -> bytes:
    """Send one length-prefixed request; return the response after its length prefix.
    Kafka's prefix excludes itself (framing ">i"), MongoDB's includes its own 4 bytes ("<i")."""
    with socket.create_connection((HOST, port), timeout=2) as s:
        s.sendall(request)
        buf, want = b"", 4
        while len(buf) < want:
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("connection closed")
            buf += chunk
            if len(buf) >= 4:
                want = struct.unpack_from(framing, buf)[0] + (4 if framing == ">i" else 0)
    return buf[4:want]


class Service:
    """What both services share: folders, jar cache, pid file, detached start, readiness, stop."""

    name = ""
    version_tag = ""  # the POM property holding the version that names the jar cache folder
    timeout = 60.0

    def __init__(self, profile: str) -> None:
        self.profile, self.conf = profile, PROFILES[profile]
        self.dir = STATE / profile / self.name
        self.pidfile = self.dir / f"{self.name}.pid"
        self.out = self.dir / f"{self.name}.out"  # the JVM's stdout/stderr
        env = f"ICR_{self.name.upper()}"
        self.port = int(os.environ.get(f"{env}_PORT") or self.conf[self.name])
        self.timeout = float(os.environ.get(f"{env}_TIMEOUT") or self.timeout)
        # Tags the JVM's command line so a recycled pid is never mistaken for ours.
        self.marker = f"-Dicr.infra={self.dir}"
        self.pom = HERE / self.name / "pom.xml"
        m = re.search(rf"<{self.version_tag}>(.+?)<", self.pom.read_text())
        self.version = m.group(1) if m else "unknown"
        self.started = time.monotonic()

    # Hooks for the two services.
    def ports(self) -> list[int]:
        return [self.port]

    def prepare(self, java: str, jars: Path) -> None:
        """Write config files / format storage just before the process starts."""

    def command(self, java: str, jars: Path) -> list[str]:
        raise NotImplementedError

    def probe(self) -> str | None:
        """One real protocol round trip; a short description when ready, else None."""
        raise NotImplementedError

    def logs(self) -> list[Path]:
        return [self.out]

    def pid(self) -> int | None:
        """The pid in our pid file if that process is alive (not a zombie) and really ours."""
        try:
            pid = int(self.pidfile.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, IndexError):
            return None
        return pid if self.marker in cmdline.split("\0") and state != "Z" else None

    def jars(self) -> Path:
        """Fetch the classpath with Maven once per POM content; later starts reuse the cache."""
        digest = hashlib.sha256(self.pom.read_bytes()).hexdigest()[:16]
        target = CACHE / "jars" / f"{self.name}-{self.version}"
        done = target / ".complete"
        if done.exists() and done.read_text().strip() == digest:
            return target
        if not shutil.which("mvn"):
            raise InfraError(
                "Maven (`mvn`) is not on PATH; it fetches the jars once. Install it "
                "(e.g. `apt-get install maven`) and retry."
            )
        say(f"fetching {self.name} {self.version} jars with Maven into {target} ...")
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = "mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime"
        cmd_args = [*cmd.split(), "-f", str(self.pom), f"-DoutputDirectory={tmp}"]
        try:
            res = subprocess.run(cmd_args, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired as e:
            raise InfraError(
                "Maven ran 15 minutes without finishing; check access to Maven "
                "Central (proxy/mirror in ~/.m2/settings.xml) and retry."
            ) from e
        if res.returncode != 0 or not any(tmp.glob("*.jar")):
            shutil.rmtree(tmp, ignore_errors=True)
            text = re.sub(r"\x1b\[[0-9;]*m", "", res.stdout + res.stderr)  # Maven's colours
            text = text.split("[ERROR] To see the full stack trace")[0]
            out = "\n".join(
                line for line in text.splitlines()[-20:] if line.removeprefix("[ERROR]").strip()
            )
            raise InfraError(
                f"Maven could not fetch the {self.name} jars (exit "
                f"{res.returncode}); check access to Maven Central and retry.\n{out}"
            )
        shutil.rmtree(target, ignore_errors=True)  # a cache made from an older POM
        tmp.rename(target)
        done.write_text(digest + "\n")
        return target

    def check_port_free(self, port: int) -> None:
        """Refuse to start on a port someone else holds: our JVM would die on bind, or worse,
        the readiness probe would succeed against the other process."""
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with contextlib.suppress(OSError):
                s.bind((HOST, port))
                return
        who = ""
        if shutil.which("ss"):
            ss = subprocess.run(
                ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True
            )
            m = re.search(r'users:\(\("([^"]+)",pid=(\d+)', ss.stdout)
            who = f" ({m.group(1)}, pid {m.group(2)})" if m else ""
        raise InfraError(
            f"{self.name}: {HOST}:{port} is already in use by a process this script "
            f"did not start{who}. Stop it, or choose another port with "
            f"ICR_{self.name.upper()}_PORT=..."
        )

    def preflight(self) -> Path | None:
        """Before any JVM starts: ports free and jars cached. None if already running."""
        if self.pid() is not None:
            return None
        self.pidfile.unlink(missing_ok=True)
        for port in self.ports():
            self.check_port_free(port)
        return self.jars()

    def start(self, java: str, jars: Path | None) -> subprocess.Popen[bytes] | None:
        """Launch detached (None if already running); the caller then waits for readiness."""
        if jars is None:
            return None
        if self.conf["wipe"]:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prepare(java, jars)
        with open(self.out, "ab") as log:
            log.write(f"{BANNER} {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
            log.flush()
            # A session of its own: the JVM outlives this script, ignores the terminal's
            # Ctrl-C, and `down` can signal its whole process group.
            proc = subprocess.Popen(
                self.command(java, jars),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.dir,
                start_new_session=True,
            )
        self.pidfile.write_text(f"{proc.pid}\n")
        # What `env` reports while this instance runs, whatever ports the caller's shell has.
        (self.dir / "address").write_text(f"{HOST}:{self.port}\n")
        self.started = time.monotonic()
        say(f"{self.name} starting (pid {proc.pid}), logs in {self.dir}")
        return proc

    def running_ok(self, proc: subprocess.Popen[bytes] | None) -> bool:
        """For a service that was already running: True if it answers, else wait for it."""
        if proc is not None:
            return False
        if desc := self.probe():
            say(f"{self.name} already running (pid {self.pid()}, {desc})")
            return True
        say(f"{self.name} is running (pid {self.pid()}) but not answering yet; waiting")
        self.started = time.monotonic()
        return False

    def ready_step(self, proc: subprocess.Popen[bytes] | None) -> bool:
        """One readiness check: True once ready; raises if the process died or timed out."""
        if (proc.poll() is not None) if proc else (self.pid() is None):
            self.pidfile.unlink(missing_ok=True)
            logs = "\n".join(tail(p) for p in self.logs())
            raise InfraError(f"{self.name} exited during start-up; see its logs.\n{logs}")
        if desc := self.probe():
            say(f"{self.name} ready in {time.monotonic() - self.started:.1f}s ({desc})")
            return True
        if time.monotonic() > self.started + self.timeout:
            logs = "\n".join(tail(p) for p in self.logs())
            raise InfraError(
                f"{self.name} not ready after {self.timeout:.0f}s; left running for "
                f"inspection (stop it with `down`).\n{logs}"
            )
        return False

    def down(self) -> None:
        if (pid := self.pid()) is None:
            self.pidfile.unlink(missing_ok=True)
            return say(f"{self.name} not running")
        # SIGTERM first: Kafka flushes and closes its logs, Mongo commits the H2 file.
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
            deadline = time.monotonic() + wait
            while self.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.2)
            if self.pid() is None:
                break
            say(f"{self.name} (pid {pid}) still running after {sig.name}")
        else:
            raise InfraError(f"could not stop {self.name} pid {pid}; kill it by hand")
        self.pidfile.unlink(missing_ok=True)
        say(f"{self.name} stopped (pid {pid})")

    def address(self) -> str:
        """host:port of the running instance, else of the one `up` would start."""
        if self.pid() is not None:
            with contextlib.suppress(OSError):
                return (self.dir / "address").read_text().strip()
        return f"{HOST}:{self.port}"

    def status(self) -> str:
        if (pid := self.pid()) is None:
            return f"{self.name}: stopped (port {self.port})"
        return f"{self.name}: pid {pid}, " + (self.probe() or f"NOT answering on {self.port}")


class Kafka(Service):
    name, version_tag, timeout = "kafka", "kafka.version", 90.0

    def __init__(self, profile: str) -> None:
        super().__init__(profile)
        self.cport = int(os.environ.get("ICR_KAFKA_CONTROLLER_PORT") or self.port + 1)
        self.data = self.dir / "data"

    def ports(self) -> list[int]:
        return [self.port, self.cport]

    def logs(self) -> list[Path]:
        return [self.out, self.dir / "server.log"]

    def prepare(self, java: str, jars: Path) -> None:
        formatted = (self.data / "meta.properties").exists()
        values = {"host": HOST, "port": self.port, "cport": self.cport}
        for name in ("server.properties", "log4j2.properties"):
            template = string.Template((HERE / "kafka" / f"{name}.in").read_text())
            text = template.substitute(values, data=self.data, dir=self.dir)
            (self.dir / name).write_text(text)
        if formatted:
            return  # dev data from an earlier start; skipping the format saves a JVM start
        # A cluster id is a random UUID in Kafka's URL-safe base64 (what `random-uuid` prints).
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        # `=` form: an id may start with "-", which argparse would take for an option.
        fmt = ["format", f"--cluster-id={cluster_id}", "-c", str(self.dir / "server.properties")]
        cmd = [*self.jvm(java, jars), "kafka.tools.StorageTool", *fmt, "--standalone"]
        try:
            res = subprocess.run(
                [*cmd, "--ignore-formatted"], capture_output=True, text=True, timeout=120
            )
        except subprocess.TimeoutExpired as e:
            raise InfraError(
                "Kafka storage format took over 120s; is the machine overloaded?"
            ) from e
        self.out.write_text(res.stdout + res.stderr)
        if res.returncode != 0:
            raise InfraError(
                f"Kafka storage format failed (exit {res.returncode}).\n"
                + (res.stdout + res.stderr).strip()[-2000:]
            )

    def jvm(self, java: str, jars: Path) -> list[str]:
        # Every test isolates itself with topics of its own, so one test run leaves thousands of
        # partitions on the broker; 512m ran out of heap past about 13,000 of them.
        heap = os.environ.get("ICR_KAFKA_HEAP", "2g")
        flags = (
            f"-Xmx{heap} -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError"
        )
        log4j = f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}"
        return [java, self.marker, *flags.split(), log4j, "-cp", f"{jars}/*"]

    def command(self, java: str, jars: Path) -> list[str]:
        return [*self.jvm(java, jars), "kafka.Kafka", str(self.dir / "server.properties")]

    def probe(self) -> str | None:
        """A Metadata (v4) request: ready once the broker lists itself, i.e. it has registered
        with its controller and is unfenced, not merely when the port accepts connections."""
        client = b"icr-infra"
        req = struct.pack(">hhih", 3, 4, 7, len(client)) + client + struct.pack(">i?", 0, False)
        try:
            resp = round_trip(self.port, struct.pack(">i", len(req)) + req, ">i")
            corr, _throttle, brokers = struct.unpack_from(">iii", resp)
        except (OSError, struct.error):
            return None
        ok = corr == 7 and brokers > 0
        return f"Kafka {self.version} on {HOST}:{self.port}, {brokers} broker(s)" if ok else None


class Mongo(Service):
    name, version_tag, timeout = "mongo", "mongo-java-server.version", 45.0

    def prepare(self, java: str, jars: Path) -> None:
        self.classes = self.compile(java, jars)

    def compile(self, java: str, jars: Path) -> Path:
        """Compile the launcher's sources once per content (and jar set) into the cache; later
        starts reuse the classes, so a start costs no compiler run."""
        sources = sorted((HERE / "mongo").glob("*.java"))
        digest = hashlib.sha256(jars.name.encode())
        for src in sources:
            digest.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
        target = CACHE / "classes" / f"mongo-{digest.hexdigest()[:16]}"
        if (target / ".complete").exists():
            return target
        javac = Path(java).resolve().parent / "javac"
        tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        say(f"compiling the Mongo launcher ({len(sources)} sources) into {target} ...")
        cmd = [str(javac), "-nowarn", "-d", str(tmp), "-cp", f"{jars}/*", *map(str, sources)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if res.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise InfraError(
                f"javac could not compile {HERE / 'mongo'} (exit {res.returncode}):\n"
                + (res.stdout + res.stderr).strip()[-3000:]
            )
        (tmp / ".complete").write_text(digest.hexdigest() + "\n")
        try:
            tmp.rename(target)
        except OSError:  # another `up` finished the same compile first
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    def command(self, java: str, jars: Path) -> list[str]:
        disk = self.conf["mongo_disk"]
        store = ["--h2", str(self.dir / "mongo.mv.db")] if disk else ["--memory"]
        oplog = ["--oplog"] if os.environ.get("ICR_MONGO_OPLOG") == "1" else []
        # Per-connection INFO lines would drown the useful ones.
        logging = "-Dorg.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire=warn"
        # The in-memory backend holds every document on the heap: 100k requests (the benchmark)
        # need several GB, so the heap is a knob.
        heap = os.environ.get("ICR_MONGO_HEAP", "1g")
        jvm = [java, self.marker, f"-Xmx{heap}", "-XX:+UseSerialGC", logging, "-cp", f"{jars}/*"]
        jvm[-1] = f"{self.classes}{os.pathsep}{jars}/*"
        return [*jvm, "MongoLauncher", "--host", HOST, "--port", str(self.port), *store, *oplog]

    def probe(self) -> str | None:
        """The launcher's ready line (from this start), then an isMaster round trip."""
        log = self.out.read_text(errors="replace") if self.out.exists() else ""
        if "MongoLauncher ready" not in log[log.rfind(BANNER) :]:
            return None
        # OP_MSG (opcode 2013), flags 0, one body section: BSON {isMaster: 1, $db: "admin"}.
        # isMaster rather than hello: mongo-java-server has no `hello` command.
        elems = b"\x10isMaster\x00\x01\x00\x00\x00\x02$db\x00\x06\x00\x00\x00admin\x00"
        msg = b"\x00\x00\x00\x00\x00" + struct.pack("<i", len(elems) + 5) + elems + b"\x00"
        try:
            header = struct.pack("<iiii", 16 + len(msg), 7, 0, 2013)
            resp = round_trip(self.port, header + msg, "<i")
        except OSError:
            return None
        if b"\x01ok\x00" + struct.pack("<d", 1.0) not in resp:
            return None
        i = resp.find(b"\x10maxWireVersion\x00")
        wire = struct.unpack_from("<i", resp, i + 16)[0] if i >= 0 else "?"
        store = "H2 file" if self.conf["mongo_disk"] else "in-memory"
        return f"mongo-java-server {self.version} on {HOST}:{self.port}, {store}, wire {wire}"


def find_java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    where = f"JAVA_HOME={home} has no bin/java" if home else "`java` is not on PATH"
    if not java or not Path(java).exists():
        raise InfraError(
            f"Java {MIN_JAVA}+ is needed but {where}: install a JDK "
            f"(e.g. `apt-get install openjdk-{MIN_JAVA}-jdk-headless`) or fix JAVA_HOME."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    m = re.search(r'version "(?:1\.)?(\d+)', out)
    major = int(m.group(1)) if m else 0
    if major < MIN_JAVA:
        raise InfraError(
            f"Java {MIN_JAVA}+ is needed, found {major or 'unknown'} at {java}; "
            f"install a newer JDK or point JAVA_HOME at one."
        )
    # The Mongo launcher's sources are compiled (once, cached), which needs the JDK's compiler.
    if not (Path(java).resolve().parent / "javac").exists():
        raise InfraError(
            f"{java} is a JRE (no javac beside it); the Mongo launcher needs a JDK, "
            f"e.g. `apt-get install openjdk-{MIN_JAVA}-jdk-headless`."
        )
    return java


_DEFAULT_PORT = {"kafka": 9092, "mongo": 27017}


def _addresses(svc: Service, value: str) -> set[str]:
    """host:port of each server in a bootstrap list or a mongodb:// URL (loopback as HOST)."""
    hosts = value.split("://", 1)[1] if "://" in value else value
    hosts = re.split(r"[/?]", hosts.rsplit("@", 1)[-1], maxsplit=1)[0]
    out = set()
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "")
        host = HOST if host in ("localhost", "127.0.0.1", "::1", "[::1]") else host
        out.add(f"{host}:{port or _DEFAULT_PORT[svc.name]}")
    return out


def pointed_elsewhere(svc: Service) -> str | None:
    """The variable's value if the environment points this service at another server than the
    one this script runs (an external one), else None (unset, or the `env` output for ours)."""
    var = {"kafka": "KAFKA_BOOTSTRAP_SERVERS", "mongo": "MONGO_URL"}[svc.name]
    value = os.environ.get(var)
    if not value or svc.address() in _addresses(svc, value):
        return None
    return f"{var}={value}"


def managed(profile: str) -> list[Service]:
    """The services to start: one the environment points elsewhere is used, not started."""
    out: list[Service] = []
    for var, cls in (("KAFKA_BOOTSTRAP_SERVERS", Kafka), ("MONGO_URL", Mongo)):
        if os.environ.get(var):
            say(f"{var} is set ({os.environ[var]}); using that {cls.name}, not starting one")
        else:
            out.append(cls(profile))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("command", choices=["up", "down", "status", "env", "reset"])
    ap.add_argument("--profile", choices=sorted(PROFILES), default="dev")
    args = ap.parse_args()
    kafka, mongo = Kafka(args.profile), Mongo(args.profile)

    if args.command == "env":
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or kafka.address()
        url = os.environ.get("MONGO_URL") or f"mongodb://{mongo.address()}/?directConnection=true"
        print(f"export KAFKA_BOOTSTRAP_SERVERS={bootstrap}\nexport MONGO_URL='{url}'")
        return 0
    if args.command == "status":
        services = managed(args.profile)
        for svc in services:
            print(svc.status())
        return 0 if all(s.pid() and s.probe() for s in services) else 3

    base = STATE / args.profile
    base.mkdir(parents=True, exist_ok=True)
    # One up/down at a time per profile (e.g. two terminals, or tests started in parallel).
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if args.command == "up":
            services = managed(args.profile)
            java = find_java() if services else ""
            jars = [svc.preflight() for svc in services]
            # Start both, then wait: the JVMs boot in parallel.
            procs = [svc.start(java, j) for svc, j in zip(services, jars, strict=True)]
            waiting = [(s, p) for s, p in zip(services, procs, strict=True) if not s.running_ok(p)]
            while waiting:  # poll both, so whichever fails is reported at once
                waiting = [(s, p) for s, p in waiting if not s.ready_step(p)]
                time.sleep(0.25 if waiting else 0)
            if services:
                say(
                    f'ready; in a shell: eval "$(python {Path(__file__).relative_to(REPO)} env '
                    f'--profile {args.profile})"'
                )
            return 0
        # Like `up`, down and reset leave alone a service the environment points elsewhere: an
        # operator using an external Kafka must not stop (or wipe) a local one by the way. The
        # `env` output points at this script's own instances, so after `eval` they do stop.
        for svc in (kafka, mongo):
            if elsewhere := pointed_elsewhere(svc):
                state = f"left running (pid {pid})" if (pid := svc.pid()) else "not running"
                say(
                    f"{elsewhere} points elsewhere: the local {svc.name} is {state}; "
                    f"unset the variable to {args.command} it"
                )
                continue
            svc.down()
            if args.command == "reset":
                shutil.rmtree(svc.dir, ignore_errors=True)
                say(f"wiped {svc.dir}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except InfraError as e:
        print(f"infra: ERROR: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("infra: interrupted; run `down` to stop anything half-started", file=sys.stderr)
        sys.exit(130)
