"""The deployment files (issue 12 item 7) parse and run real commands: compose.yaml (PyYAML), Dockerfile
(its instructions, read by a small parser), and the systemd units in docs/deploy.md (configparser). Each
command a service or unit runs is parsed by the real click command (or the module's argparse parser for
`python -m`; options and their types checked) and its `--help` runs in a subprocess. No docker daemon is
involved. Redis takes a password (issue 23 item 3): compose's own redis-server arguments run on a real
redis-server, which refuses a client without it and answers every service's URL. Issue 21: the database
password has no default either; the example crawl file is read by `python -m jobs.cron`; the systemd
worker template gives every instance a port of its own; the example alert rules use only metrics qqscan
exports; docs/batch.md's quick start runs as pasted."""

from __future__ import annotations

import configparser
import importlib
import importlib.util
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from redis import Redis
from redis.exceptions import AuthenticationError

from tests.redis_server import free_port, start_redis

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OUR_IMAGE = "qqscan:latest"


def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with comments dropped and backslash continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, args = full.partition(" ")
        out.append((word.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return out


def unit_files() -> dict[str, configparser.ConfigParser]:
    """The ```ini blocks of docs/deploy.md that are systemd units, by the path in their first comment."""
    text = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    units = {}
    for block in re.findall(r"```ini\n(.*?)```", text, re.S):
        first = block.splitlines()[0]
        m = re.match(r"# (/etc/systemd/system/\S+\.service)", first)
        if not m:
            continue
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # systemd keys are case-sensitive
        parser.read_string(block)
        units[m.group(1)] = parser
    return units


def check_module_command(argv: list[str]) -> None:
    """`python -m MODULE ARGS`: the module exists, its `parser()` takes ARGS, and its `--help` runs."""
    assert argv[1:2] == ["-m"] and len(argv) > 2, f"{argv}: only `python -m MODULE` is run"
    module = argv[2]
    assert importlib.util.find_spec(module) is not None, f"{argv}: no module {module}"
    try:
        importlib.import_module(module).parser().parse_args(argv[3:])
    except SystemExit:
        pytest.fail(f"{argv}: {module} does not take {argv[3:]}")
    r = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "usage:" in r.stdout, (argv, r.stderr)


def check_command(argv: list[str]) -> None:
    """argv is a real `qqscan`, `rq` or `python -m` command: click (argparse) parses its options (types,
    choices), and its `--help` runs."""
    prog = Path(argv[0]).name
    if prog in ("python", "python3"):
        check_module_command(argv)
        return
    if prog == "qqscan":
        from qqscan.cli import cli as group
    elif prog == "rq":
        from rq.cli import main as group
    else:
        pytest.fail(f"{argv}: not a qqscan or rq command")
    cmd: click.Command = group
    rest = argv[1:]
    path = [prog]
    with click.Context(group, info_name=prog) as ctx:
        while isinstance(cmd, click.Group):
            assert rest, f"{argv}: names no subcommand"
            sub = cmd.get_command(ctx, rest[0])
            assert sub is not None, f"{argv}: {rest[0]!r} is not a {' '.join(path)} subcommand"
            path.append(rest.pop(0))
            cmd = sub
        try:
            cmd.make_context(" ".join(path), list(rest), parent=ctx)
        except click.UsageError as exc:
            pytest.fail(f"{argv}: {exc.format_message()}")
    r = subprocess.run(
        [str(BIN / prog), *path[1:], "--help"], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert r.returncode == 0 and "Usage:" in r.stdout, (argv, r.stderr)
    assert path[1:] != ["cron"], (
        f"{argv}: rq cron queues pickled jobs the workers refuse; python -m jobs.cron"
    )


def expand(value: str) -> str:
    """Compose's ${VAR:-default} as the default; systemd's %i/%H as a sample instance."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return value.replace("%i", "1").replace("%H", "box")


def unit_argv(exec_start: str, instance: str = "1") -> list[str]:
    """The argv a unit's ExecStart runs for `instance`: systemd's %i/%H filled in and its $$ read as $;
    a `/bin/sh -c 'exec ...'` wrapper is run by a real sh, which prints the argv it would exec."""
    argv = shlex.split(exec_start.replace("%i", instance).replace("%H", "box").replace("$$", "$"))
    if argv[:2] != ["/bin/sh", "-c"]:
        return argv
    assert len(argv) == 3 and argv[2].startswith("exec "), f"{exec_start}: sh -c 'exec ...' expected"
    shown = subprocess.run(
        ["sh", "-c", "printf '%s\\n' " + argv[2].removeprefix("exec ")],
        capture_output=True, text=True, check=True, timeout=10,
    )  # fmt: skip
    return shown.stdout.splitlines()


class ComposeStops(Exception):
    """What `docker compose` does on ${VAR:?message} with VAR unset or empty: stop, saying the message."""


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation of one value: ${VAR}, ${VAR:-default}, ${VAR:?message} and $$."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise ComposeStops(f"required variable {name} is missing a value: {arg}")
        return arg if op == ":-" else ""

    value = re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(:[-?])?([^}]*)\}", one, value)
    return value.replace("$$", "$")


def test_compose_services_run_real_commands_on_our_image():
    services = compose()["services"]
    ours = {name: s for name, s in services.items() if s.get("image") == OUR_IMAGE}
    assert set(ours) >= {"worker", "review", "cron"}, sorted(services)
    assert {"redis", "postgres"} <= set(services)
    for name, service in ours.items():
        assert service.get("build") == ".", name
        command = service["command"]
        assert isinstance(command, list), f"{name}: exec form, so SIGTERM reaches the process"
        check_command([expand(str(a)) for a in command])
        test = (service.get("healthcheck") or {}).get("test") or []
        if test[1:2] == ["qqscan"]:
            check_command(test[1:])


def test_compose_redis_has_aof_and_settings_are_real():
    services = compose()["services"]
    redis_cmd = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_cmd and "--appendfsync everysec" in redis_cmd
    assert services["worker"]["stop_grace_period"] and services["worker"]["deploy"]["replicas"] >= 1
    from ground.settings import SETTINGS

    for name, service in services.items():
        for key in service.get("environment") or {}:
            if key.startswith("QQSCAN_"):
                assert key in SETTINGS, f"{name}: {key} is not a setting (ground/settings.py)"
    worker_url = services["worker"]["environment"]["QQSCAN_DATABASE_URL"]
    assert expand(worker_url).startswith("postgresql+psycopg://")


def test_compose_redis_needs_its_password_and_every_service_has_it(tmp_path):
    """No default password anywhere (compose stops with a message when REDIS_PASSWORD is unset), and with
    compose's own redis-server arguments a real server refuses a client without it, answers each of our
    services' URLs, and passes its healthcheck."""
    text = (REPO / "compose.yaml").read_text(encoding="utf-8")
    uses = re.findall(r"\$\{REDIS_PASSWORD([^}]*)\}", text)
    assert uses and all(u.startswith(":?") for u in uses), uses
    services = compose()["services"]
    redis = services["redis"]
    with pytest.raises(ComposeStops, match="REDIS_PASSWORD is missing a value: set REDIS_PASSWORD"):
        [interpolate(a, {}) for a in redis["command"]]

    env = {"REDIS_PASSWORD": "0123456789abcdef" * 4}
    args = [interpolate(a, env) for a in redis["command"]]
    assert args[0] == "redis-server" and "--requirepass" in args
    server = start_redis(aof_dir=tmp_path / "redis", args=tuple(args[1:]))  # on a loopback port of ours
    try:
        with pytest.raises(AuthenticationError):
            Redis(port=server.port).ping()
        ours = {n: s for n, s in services.items() if s.get("image") == OUR_IMAGE}
        for name, service in ours.items():
            url = interpolate(service["environment"]["QQSCAN_REDIS_URL"], env)
            assert "@redis:6379/" in url, (name, url)
            assert Redis.from_url(url.replace("@redis:6379/", f"@127.0.0.1:{server.port}/")).ping(), name
            assert "RQ_REDIS_URL" not in service["environment"], name
        shell, check = redis["healthcheck"]["test"]
        assert shell == "CMD-SHELL"
        probe = ["sh", "-c", check.replace("redis-cli", f"redis-cli -p {server.port}")]
        bare = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
        auth = interpolate(redis["environment"]["REDISCLI_AUTH"], env)
        assert subprocess.run(probe, env={**bare, "REDISCLI_AUTH": auth}, timeout=30).returncode == 0
        assert subprocess.run(probe, env=bare, capture_output=True, timeout=30).returncode != 0
    finally:
        server.stop()


def test_dockerfile_installs_like_setup_sh_and_checks_the_engine():
    steps = dockerfile()
    known = {"FROM", "RUN", "COPY", "ENV", "WORKDIR", "USER", "EXPOSE", "STOPSIGNAL", "CMD", "ARG", "LABEL"}
    assert {word for word, _ in steps} <= known
    assert steps[0][0] == "FROM" and re.fullmatch(r"python:3\.11-slim(-\w+)?", steps[0][1]), steps[0]
    runs = " ".join(args for word, args in steps if word == "RUN")
    # the pins setup.sh installs after the project: same versions here
    for pin in re.findall(r"\S+==\S+", (REPO / "setup.sh").read_text(encoding="utf-8")):
        assert pin in runs, f"{pin} from setup.sh is not installed by the Dockerfile"
    doctor = [i for i, (word, args) in enumerate(steps) if word == "RUN" and "qqscan doctor" in args]
    assert doctor, "the engine is not built at image build time"
    users = [i for i, (word, _) in enumerate(steps) if word == "USER"]
    assert users and users[0] < doctor[0], "doctor runs as the user the containers run as"
    copied = {Path(args.split()[0]).parts[0] for word, args in steps if word == "COPY"}
    for src in copied:
        assert (REPO / src).exists(), f"COPY {src}: not in the repository"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.split(".")[0] for p in pyproject["tool"]["setuptools"]["packages"]}
    assert packages <= copied, f"packages not copied into the image: {packages - copied}"
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".venv" in ignored and not (copied & set(ignored))
    cmd = next(args for word, args in steps if word == "CMD")
    check_command(yaml.safe_load(cmd))  # JSON exec form


def test_systemd_units_in_docs_run_real_commands():
    text = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    env_file = re.search(r"```ini\n# /etc/qqscan/env.*?```", text, re.S)
    assert env_file, "docs/deploy.md: no /etc/qqscan/env block"
    (redis_url,) = re.findall(r"^QQSCAN_REDIS_URL=(\S+)$", env_file.group(0), re.M)
    assert re.match(r"rediss?://[^@/]*:[^@/]+@", redis_url), (
        f"the units' Redis URL has no password: {redis_url}"
    )
    units = unit_files()
    assert {"/etc/systemd/system/qqscan-worker@.service", "/etc/systemd/system/qqscan-review.service",
            "/etc/systemd/system/qqscan-cron.service"} <= set(units)  # fmt: skip
    for path, unit in units.items():
        service = unit["Service"]
        argv = unit_argv(service["ExecStart"])
        assert argv[0].startswith("/opt/qqscan/.venv/bin/"), (path, argv[0])
        check_command([Path(argv[0]).name, *argv[1:]])
        assert service.get("Restart") == "always", path
        assert unit["Install"]["WantedBy"] == "multi-user.target", path


def test_systemd_worker_instances_each_get_their_own_metrics_port():
    """9100 + the instance number, for instances past 9 too (`910%i` made @10's port 91010)."""
    (worker,) = [u for p, u in unit_files().items() if p.endswith("/qqscan-worker@.service")]
    ports = {}
    for n in range(1, 21):
        argv = unit_argv(worker["Service"]["ExecStart"], str(n))
        ports[n] = int(argv[argv.index("--metrics-port") + 1])
        assert argv[argv.index("--name") + 1] == f"box-{n}"
    assert ports == {n: 9100 + n for n in range(1, 21)}, ports


def test_compose_database_password_has_no_default():
    """Compose stops when POSTGRES_PASSWORD is unset (no `qqscan` fallback), and given one, the database
    and every service's URL carry it."""
    text = (REPO / "compose.yaml").read_text(encoding="utf-8")
    uses = re.findall(r"\$\{POSTGRES_PASSWORD([^}]*)\}", text)
    assert uses and all(u.startswith(":?") for u in uses), uses
    services = compose()["services"]
    ours = {n: s for n, s in services.items() if s.get("image") == OUR_IMAGE}
    with pytest.raises(ComposeStops, match="POSTGRES_PASSWORD is missing a value: set POSTGRES_PASSWORD"):
        interpolate(services["postgres"]["environment"]["POSTGRES_PASSWORD"], {})
    for service in ours.values():
        with pytest.raises(ComposeStops, match="POSTGRES_PASSWORD"):
            interpolate(service["environment"]["QQSCAN_DATABASE_URL"], {})
    from sqlalchemy.engine import make_url

    password = "0123456789abcdef"
    env = {"POSTGRES_PASSWORD": password}
    assert interpolate(services["postgres"]["environment"]["POSTGRES_PASSWORD"], env) == password
    for name, service in ours.items():
        url = make_url(interpolate(service["environment"]["QQSCAN_DATABASE_URL"], env))
        assert (url.password, url.host, url.username) == (password, "postgres", "qqscan"), name


def test_the_example_crawl_file_is_what_compose_and_python_m_jobs_cron_read(tmp_path):
    """deploy/crawl.example.toml: `python -m jobs.cron` (the cron service's command) registers each of its
    targets; compose mounts ./crawl.toml without creating it (a missing file is an error, not an empty
    folder the scheduler loops on) at the path QQSCAN_CRAWL_FILE names."""
    example = REPO / "deploy" / "crawl.example.toml"
    targets = tomllib.loads(example.read_text(encoding="utf-8"))["target"]
    assert len(targets) >= 2 and any("cron" in t for t in targets) and any("interval" in t for t in targets)

    cron = compose()["services"]["cron"]
    (mount,) = cron["volumes"]
    assert mount["type"] == "bind" and mount["source"] == "./crawl.toml" and mount["read_only"] is True
    assert mount["bind"]["create_host_path"] is False
    assert cron["environment"]["QQSCAN_CRAWL_FILE"] == mount["target"]
    docs = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert "cp deploy/crawl.example.toml crawl.toml" in docs

    server = start_redis()  # on a loopback port of ours
    env = {**os.environ, "QQSCAN_CRAWL_FILE": str(example), "QQSCAN_REDIS_URL": server.url}
    log = tmp_path / "cron.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *cron["command"][1:]], env=env, cwd=tmp_path, stdout=out, stderr=out
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                if log.read_text(errors="replace").count("registered crawl ") == len(targets):
                    break
                time.sleep(0.1)
            text = log.read_text(errors="replace")
            assert proc.poll() is None, f"python -m jobs.cron exited {proc.returncode}:\n{text}"
        finally:
            proc.terminate()
            proc.wait(30)
            server.stop()
    for t in targets:
        assert f"registered crawl {t['url']} " in text, text


# --- metrics: scrape configuration and alert rules (issue 21) ------------------------------------------

PROMQL_WORDS = {  # PromQL keywords and functions that can appear without a parenthesis after them
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless",
}  # fmt: skip
PROMETHEUS_OWN = {"up"}  # series Prometheus writes for every target itself


def exported_series() -> set[str]:
    """Every series name a worker's /metrics can carry: the families of worker.metrics (registered at
    import, scraped on the default registry) and those of its scrape-time collectors, with the sample
    suffixes of their types."""
    from prometheus_client import REGISTRY

    from worker import metrics

    families = list(REGISTRY.collect())
    for collector in (metrics.QueueDepth, metrics.WorkerBusy, metrics.BuildInfo, metrics.ReviewBacklog):
        families += collector.describe()
    suffixes = {
        "counter": ("_total",), "gauge": ("",), "info": ("_info",), "summary": ("_count", "_sum", ""),
        "histogram": ("_bucket", "_count", "_sum"),
    }  # fmt: skip
    return {f.name + sfx for f in families for sfx in suffixes.get(f.type, ("",))}


def promql_series(expr: str) -> set[str]:
    """The series names a PromQL expression selects (label matchers, ranges, strings, numbers, grouping
    label lists and function names left out)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings (label values)
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        if expr[m.end() :].lstrip().startswith("(") or m.group(0) in PROMQL_WORDS:
            continue  # a function call or a keyword
        if m.start() > 0 and expr[m.start() - 1].isdigit():
            continue  # a unit of a number (1e3) or of a duration
        names.add(m.group(0))
    return names


def test_promql_series_finds_the_metrics_of_an_expression():
    assert promql_series('sum by (queue) (rate(a_total{x="b c"}[5m])) / ignoring(y) b > 2 * 3600') == {
        "a_total", "b",
    }  # fmt: skip
    assert promql_series('absent(up{job="qqscan-worker"} == 1)') == {"up"}


def test_alert_rules_use_only_exported_metrics_and_the_scrape_job_name():
    """deploy/alerts.yml: three rules (backlog age, no worker, failure ratio), each with what an alert needs,
    using only series a worker exports (or Prometheus' own `up`) and the scrape job deploy/prometheus.yml
    defines; compose's Prometheus mounts both where prometheus.yml expects them."""
    rules_doc = yaml.safe_load((REPO / "deploy" / "alerts.yml").read_text(encoding="utf-8"))
    rules = [r for g in rules_doc["groups"] for r in g["rules"]]
    names = {"QqscanReviewBacklogOld", "QqscanNoWorker", "QqscanFailureRatioHigh"}
    assert {r["alert"] for r in rules} == names
    exported = exported_series() | PROMETHEUS_OWN
    assert {"qqscan_review_pending", "qqscan_worker_busy", "qqscan_build_info"} <= exported
    prom = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    (job,) = prom["scrape_configs"]
    assert job["job_name"] == "qqscan-worker"
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["type"] == "A" and sd["port"] == 9100  # each replica a target
    assert "9100" in [str(p) for p in compose()["services"]["worker"]["expose"]]
    for rule in rules:
        used = promql_series(rule["expr"])
        assert used and used <= exported, (rule["alert"], used - exported)
        assert rule.get("for") and rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        for job_name in re.findall(r'job="([^"]*)"', rule["expr"]):
            assert job_name == job["job_name"], rule["alert"]

    service = compose()["services"]["prometheus"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"] if v.startswith("./")}
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus.yml"
    assert {mounts[f] for f in prom["rule_files"]} == {"./deploy/alerts.yml"}
    for path in mounts.values():
        assert (REPO / path).is_file(), path


PROMTOOL_TESTS = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'qqscan_review_pending_oldest_seconds{{instance="w1"}}'
        values: '3600+0x20 90000+60x30'
      - series: 'up{{job="qqscan-worker", instance="w1"}}'
        values: '1x10 0x20'
      - series: 'qqscan_jobs_total{{outcome="clean", instance="w1"}}'
        values: '0+10x100'
      - series: 'qqscan_jobs_total{{outcome="failed", instance="w1"}}'
        values: '0+1x40 40+5x60'
      - series: 'qqscan_jobs_total{{outcome="retrying", instance="w1"}}'
        values: '0+50x100'
    alert_rule_test:
      - {{eval_time: 20m, alertname: QqscanReviewBacklogOld, exp_alerts: []}}
      - eval_time: 40m
        alertname: QqscanReviewBacklogOld
        exp_alerts:
          - exp_labels: {{severity: warning}}
      - {{eval_time: 12m, alertname: QqscanNoWorker, exp_alerts: []}}
      - eval_time: 20m
        alertname: QqscanNoWorker
        exp_alerts:
          - exp_labels: {{severity: critical}}
      - {{eval_time: 75m, alertname: QqscanFailureRatioHigh, exp_alerts: []}}
      - eval_time: 90m
        alertname: QqscanFailureRatioHigh
        exp_alerts:
          - exp_labels: {{severity: warning}}
"""


def test_alert_rules_pass_promtool_when_it_is_installed(tmp_path):
    """`promtool check rules` (annotation templates included), and unit tests of the three rules (their
    expressions, `for` and labels; the annotations' wording is left out) on made-up series: a backlog that
    passes a day, a worker that goes away, failures that rise from 1 in 11 to 1 in 3 finished jobs (retries
    not counted; past 20% of a 30-minute rate window at about 52 min, so firing from about 82 min).
    Skipped without promtool (Debian: the `prometheus` package)."""
    promtool = os.environ.get("QQSCAN_PROMTOOL") or shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool not installed (apt-get install prometheus); the YAML test above still ran")
    rules = REPO / "deploy" / "alerts.yml"
    r = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = yaml.safe_load(rules.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    bare = tmp_path / "alerts.yml"
    bare.write_text(yaml.safe_dump(doc), encoding="utf-8")
    tests = tmp_path / "alerts_test.yml"
    tests.write_text(PROMTOOL_TESTS.format(rules=bare), encoding="utf-8")
    r = subprocess.run([promtool, "test", "rules", str(tests)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


# --- docs/batch.md's quick start, pasted (issue 21 item 5) ----------------------------------------------


def quick_start_block() -> str:
    text = (REPO / "docs" / "batch.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    return block


def test_batch_quick_start_runs_as_pasted(tmp_path):
    """Every command of the quick start, in bash with `set -e` (so each one must succeed), in a fresh home:
    only the Redis port differs (a free one, not 6379). The worker it starts in the background is ended
    with the shell's process group, the daemonised Redis with redis-cli."""
    if not shutil.which("redis-server") or not shutil.which("openssl"):
        pytest.skip("redis-server and openssl are needed (apt-get install redis-server openssl)")
    block = quick_start_block()
    port = free_port()
    assert block.count("--requirepass") == 1 and block.count("localhost:6379") == 1, block
    pasted = block.replace("redis-server --daemonize yes", f"redis-server --port {port} --daemonize yes")
    pasted = pasted.replace("localhost:6379", f"localhost:{port}")
    home = tmp_path / "home"
    home.mkdir()
    stop_redis = f'REDISCLI_AUTH="${{REDIS_PASSWORD:-}}" redis-cli -p {port} shutdown nosave >/dev/null 2>&1'
    script = f"set -euo pipefail\ntrap '{stop_redis} || true' EXIT\n" + pasted
    env = {
        "HOME": str(home),
        "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "QQSCAN_ALLOW_PRIVATE_NETWORKS": "0",
    }
    proc = subprocess.Popen(
        ["bash", "-c", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True, text=True,
    )  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=300)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the background worker and its scheduler
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, out[-4000:]
    state = home / "qqscan"
    assert (state / "qqscan.sqlite3").is_file() and (state / "results.jsonl").is_file()
    assert (state / "urls.txt").read_text().split() == [
        "https://img.example.com/c.jpg", "https://img.example.com/d.jpg",
    ]  # fmt: skip
    assert (state / "appendonlydir").is_dir()  # Redis wrote its AOF where the block said
    assert "Traceback" not in out, out[-4000:]
