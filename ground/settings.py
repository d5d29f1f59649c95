"""Every `QQSCAN_*` setting, declared once: name, default, type, help and the component that reads it.

A process reads its settings once, at its edge (the CLI, a worker, the web app, `python -m jobs.cron`):
`Settings.load()` takes the optional TOML config file (`--config` / `QQSCAN_CONFIG`, keys are the names
below), then the environment, then the command's flags, each over the one before. The frozen `Settings`
is passed down; `settings["QQSCAN_MAX_BYTES"]` is the parsed value (the default when unset or empty) and
raises SettingError naming the variable on a bad value. Nothing below the edges reads `os.environ`; a
library call given no settings uses the table's defaults (`DEFAULTS`).

This module is the ground every layer stands on (tests/test_layers.py), so it stays standard-library only.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ground.errors import UsageError

MiB = 1024 * 1024
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingError(UsageError, ValueError):
    """A setting's value cannot be parsed, or the config file is unreadable; the message names it."""


def _int(raw: str) -> int:
    return int(raw.replace("_", ""))


def _float(raw: str) -> float:
    return float(raw.replace("_", ""))


def _bool(raw: str) -> bool:
    low = raw.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError("must be 1/0 (true/false, yes/no, on/off)")


def _words(raw: str) -> tuple[str, ...]:
    """A list separated by commas and/or whitespace."""
    return tuple(w for w in raw.replace(",", " ").split() if w)


def _ints(raw: str) -> tuple[int, ...]:
    return tuple(_int(w) for w in _words(raw))


_WHY = {
    "int": "is not a whole number",
    "float": "is not a number",
    "ints": "is not a list of whole numbers",
}

PARSERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": _int,
    "float": _float,
    "bool": _bool,
    "list": _words,
    "ints": _ints,
    "path": str,
    "url": str,
}


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any  # the parsed default; None = unset (the reader decides, e.g. "number of cores")
    type: str  # a key of PARSERS
    help: str
    component: str  # ocr, detectors, fetch, store, queues, worker, cron, review, cli
    choices: tuple[str, ...] = ()
    default_text: str = ""  # how docs/settings.md and --help show the default where repr(default) misleads
    minimum: float | None = None  # numbers: the smallest value that works (a 0 s heartbeat would spin)

    def parse(self, raw: str) -> Any:
        raw = raw.strip()
        if raw == "":
            return self.default
        try:
            value = PARSERS[self.type](raw)
        except ValueError as exc:
            why = str(exc) if self.type == "bool" else _WHY.get(self.type, f"is not a valid {self.type}")
            raise SettingError(f"{self.name}={raw!r} {why}") from None
        if self.minimum is not None and value < self.minimum:
            raise SettingError(f"{self.name}={raw!r} must be at least {self.minimum:g}")
        if self.choices and str(value).lower() not in self.choices:
            raise SettingError(f"{self.name}={raw!r}: choose one of {', '.join(self.choices)}")
        return value.lower() if self.choices else value

    @property
    def shown_default(self) -> str:
        if self.default_text:
            return self.default_text
        if self.default is None:
            return "—"
        if isinstance(self.default, bool):
            return "1" if self.default else "0"
        if isinstance(self.default, tuple):
            return ",".join(str(x) for x in self.default)
        return str(self.default)


def _s(name: str, default: Any, type: str, component: str, help: str, **kw: Any) -> Setting:
    return Setting(f"QQSCAN_{name}", default, type, help, component, **kw)


_TABLE = [
    # OCR engine
    _s("ENGINE", "onnx", "str", "ocr", "OCR engine: `onnx` (PP-OCRv6 small) or `paddle` (PaddleOCR, PP-OCRv5 "
       "mobile); also `scan`/`worker --engine`", choices=("onnx", "paddle")),
    _s("ONNX_RUNTIME", "openvino", "str", "ocr", "runtime of the `onnx` engine: `openvino` or `onnxruntime` "
       "(same files, same processing)", choices=("openvino", "onnxruntime")),
    _s("OV_PRECISION", "auto", "str", "ocr", "OpenVINO precision: `auto` = `bf16` where the CPU has it "
       "natively (AVX512-BF16/AMX), else `f32`", choices=("auto", "f32", "bf16")),
    _s("ONNX_DET_MODEL", None, "path", "ocr", "another `.onnx` detector for the `onnx` engine",
       default_text="rapidocr wheel's PP-OCRv6 small"),
    _s("ONNX_REC_MODEL", None, "path", "ocr", "another `.onnx` recogniser for the `onnx` engine (it carries "
       "its character list in its metadata)", default_text="rapidocr wheel's PP-OCRv6 small"),
    _s("MODELS_DIR", None, "path", "ocr", "`paddle` engine: folder holding `PP-OCRv5_mobile_det/` and "
       "`PP-OCRv5_mobile_rec/` (PaddleX 3 format)"),
    _s("DET_MODEL_DIR", None, "path", "ocr", "`paddle` engine: any other detector folder, e.g. PP-OCRv5 "
       "server", default_text="bundled PP-OCRv5 mobile"),
    _s("REC_MODEL_DIR", None, "path", "ocr", "`paddle` engine: any other recogniser folder",
       default_text="bundled PP-OCRv5 mobile"),
    _s("CPU_THREADS", 0, "int", "ocr", "the engine's intra-op threads (0 = number of cores)",
       default_text="number of cores"),
    _s("DET_SCALE", None, "float", "ocr", "detector input size relative to the image or tile (recognition "
       "always reads full resolution)", default_text="0.6 (`onnx`), 0.8 (`paddle`)"),
    _s("ENHANCE", (), "list", "ocr", "extra OCR passes: `tophat`, `clahe` (see below); also `scan --enhance`",
       default_text="none"),
    _s("PADDLE_LOG", "WARNING", "str", "ocr", "log level of the `paddle` engine's libraries"),
    _s("MAX_BYTES", 40 * MiB, "int", "ocr", "largest image accepted (file or fetched body), bytes",
       default_text="40 MiB", minimum=1),
    _s("MAX_PIXELS", 60_000_000, "int", "ocr", "largest frame, pixels (checked from the header before "
       "decoding)", default_text="60 MPix", minimum=1),
    _s("MAX_FRAMES", 8, "int", "ocr", "frames read from an animation, chosen by what they show and how long "
       "(every different picture when they fit; over it, the longest-shown and most different, a quarter at "
       "random)", minimum=1),
    _s("MAX_ANIMATION_FRAMES", 1000, "int", "ocr", "frames an animation may have (each is stepped through "
       "to choose the ones read); more is an error", minimum=1),
    # Detectors
    _s("RULES", None, "path", "detectors", "a rules TOML file overriding (or with `replace = true`, "
       "replacing) the shipped vocabulary"),
    _s("SOLICITATION_FLAGS", True, "bool", "detectors", "a solicitation alone (asking to be contacted "
       "off-platform, no number) flags an image"),
    _s("DETECT_SECONDS", 30.0, "float", "detectors", "time limit of contact detection on one image's text; "
       "past it the image gets an error (detection is linear in the text, so only pages of extreme text "
       "volume reach it)", minimum=0.1),
    # Fetching URLs
    _s("ALLOW_PRIVATE_NETWORKS", False, "bool", "fetch", "`1` lets URLs reach loopback/private addresses "
       "(refused by default, on every redirect hop); cloud-metadata (169.254.169.254, fd00:ec2::254, "
       "100.100.100.200, ...) and link-local (169.254.0.0/16, fe80::/10) addresses stay refused, also inside "
       "IPv4-mapped/6to4/NAT64 forms"),
    _s("ALLOW_HOSTS", (), "list", "fetch", "comma list of `host`, `ip`, `ip:port` or `[v6]:port` let through "
       "the guard; the only way to open a metadata or link-local address, and for those only an entry naming "
       "the IP counts"),
    _s("FETCH_CONNECT_TIMEOUT", 5.0, "float", "fetch", "seconds to connect"),
    _s("FETCH_READ_TIMEOUT", 15.0, "float", "fetch", "seconds to wait for the next bytes"),
    _s("FETCH_DEADLINE", 60.0, "float", "fetch", "seconds for a whole fetch (every hop), against slow-drip "
       "servers"),
    _s("FETCH_MAX_REDIRECTS", 3, "int", "fetch", "redirects followed"),
    _s("FETCH_RATE", 5.0, "float", "fetch", "requests per second per host (0 = no limit)"),
    _s("FETCH_BURST", 10, "int", "fetch", "burst of requests per host above the rate"),
    _s("FETCH_CA_BUNDLE", None, "path", "fetch", "CA file for https (intranet CAs)",
       default_text="certifi's bundle"),
    _s("PAGE_MAX_IMAGES", 500, "int", "fetch", "image URLs taken from one listing page, in page order "
       "(`scan` and `crawl` report how many more it had)", minimum=1),
    _s("FETCH_USER_AGENT", "qqscan/0.1 (self-hosted image scanner)", "str", "fetch", "User-Agent header"),
    # Results store
    _s("DATABASE_URL", None, "url", "store", "results store: `sqlite:///PATH` (the folder must exist) or "
       "`postgresql://...`", default_text="sqlite:///$XDG_DATA_HOME/qqscan/qqscan.sqlite3"),
    # Queues (RQ)
    _s("REDIS_URL", "redis://localhost:6379/0", "url", "queues", "Redis for the queues; `RQ_REDIS_URL` is "
       "read when this is unset, like rq's CLI"),
    _s("SCAN_QUEUE", "scan", "str", "queues", "queue for image scans"),
    _s("CRAWL_QUEUE", "crawl", "str", "queues", "queue for listing-page crawls"),
    _s("JOB_TIMEOUT", 300, "int", "queues", "seconds a scan job may run before RQ times it out"),
    _s("RETRY_MAX", 4, "int", "queues", "retries of a transient fetch failure (timeout, 5xx, 429)"),
    _s("RETRY_INTERVALS", (30, 120, 600, 1800), "ints", "queues",
       "seconds between those retries, comma list"),
    _s("RECONCILE_INTERVAL", 300, "int", "queues", "seconds between reconciler runs queued by the scheduler "
       "(0 = none)"),
    _s("RECONCILE_MAX", 5, "int", "queues", "re-queues of one request before it is stored as failed"),
    # Worker runtime
    _s("WORKER_MAX_JOBS", None, "int", "worker",
       "a worker exits after N jobs (recycle); `worker --max-jobs`"),
    _s("WORKER_MAX_RSS_MB", None, "float", "worker", "a worker exits after a job leaves RSS above M MiB; "
       "`worker --max-rss-mb`"),
    _s("WATCHDOG_GRACE", 30.0, "float", "worker", "seconds past a job's timeout before the watchdog kills "
       "the work horse", minimum=0),
    _s("MAINTENANCE_INTERVAL", 30, "int", "worker", "seconds between an idle worker's maintenance wake-ups",
       minimum=1),
    _s("JOB_HEARTBEAT", 15, "int", "worker", "seconds between a busy worker's heartbeats (its entry expires "
       "after 3 missed)", minimum=1),
    _s("REDIS_RETRY_CAP", 10.0, "float", "worker", "most seconds between reconnect attempts while Redis is "
       "down", minimum=0.1),
    _s("METRICS_PORT", 0, "int", "worker", "Prometheus endpoint port of a worker (0 = off); "
       "`worker --metrics-port`", minimum=0),
    _s("METRICS_HOST", "127.0.0.1", "str", "worker", "address the metrics endpoint binds"),
    _s("LOG_FORMAT", "text", "str", "worker", "a worker's log lines: `text` (ISO-8601 time, level, logger, "
       "message) or `json` (one object per line, for log shippers); `worker --log-format`",
       choices=("text", "json")),
    # Scheduled crawls (rq cron jobs.cron)
    _s("CRAWL_FILE", None, "path", "cron", "a TOML file with one `[[target]]` table per page to crawl"),
    _s("CRAWL_URLS", (), "list", "cron", "page URLs to crawl on the default schedule (commas or spaces)"),
    _s("CRAWL_CRON", None, "str", "cron", "default crawl schedule as a cron expression (local time)"),
    _s("CRAWL_INTERVAL", 3600, "int", "cron", "default crawl schedule in seconds, when no cron expression"),
    # Review and CLI
    _s("REVIEW_TOKEN", None, "str", "review", "a personal token (`qqscan users token NAME`) proving the "
       "`--as` account of terminal decisions without typing its password (scripts); revoked by logging the "
       "account out everywhere"),
    _s("REVIEWER", None, "str", "review", "the account terminal decisions are made as "
       "(`qqscan review decide --as`)"),
    _s("REVIEW_PROXY_HOPS", 0, "int", "review", "reverse proxies in front of `qqscan review serve` whose "
       "X-Forwarded-For gives the client address (login limits, audit, sessions); 0 = none, the socket's "
       "peer is the client. Set it only when the app is reachable through those proxies alone", minimum=0),
    _s("KNOWN_CONTACT_AUTO_CONFIRM", False, "bool", "review", "confirming a contact as a seller's (web app "
       "or `qqscan contacts decide`) also confirms, as they are stored, later images that carry it (decided "
       "by `rule known-contact`, audited as auto_confirm); off: they only go first in the queue, badged"),
    _s("CONFIG", None, "path", "cli", "a TOML file of settings (keys are these names); the environment "
       "overrides it; also `qqscan --config`"),
]

SETTINGS: dict[str, Setting] = {s.name: s for s in _TABLE}

def _lookup(name: str) -> Setting:
    try:
        return SETTINGS[name]
    except KeyError:
        raise KeyError(f"{name} is not in the settings table (ground/settings.py)") from None


# rq's own variable for its Redis, read when QQSCAN_REDIS_URL is unset (as rq's CLI does).
_RQ_REDIS_URL = "RQ_REDIS_URL"


@dataclass(frozen=True)
class Settings:
    """Every setting's value for one process, read once at its edge (the CLI, the worker, the web app) and
    passed down; nothing below reads the environment. `raw` holds the config file's and the environment's
    text (the environment wins), `flags` the values command-line flags gave (they win over both).

    A value is parsed when asked for, so a bad value fails where it is used, with that component's error,
    and not in a command that never reads it. Plain dicts inside: it pickles (scan --jobs workers)."""

    raw: dict[str, str] = field(default_factory=dict)
    flags: dict[str, Any] = field(default_factory=dict)
    # where per-user data goes ($XDG_DATA_HOME): the default results store lives under it
    data_home: str = field(default_factory=lambda: str(Path.home() / ".local" / "share"))

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        config_file: str | Path | None = None,
        flags: Mapping[str, Any] | None = None,
    ) -> Settings:
        """The config file (`config_file`, else QQSCAN_CONFIG), then the environment, then `flags`.
        A bad config file raises SettingError now: it is one file the user named."""
        environ = os.environ if environ is None else environ
        raw: dict[str, str] = {}
        path = config_file or (environ.get("QQSCAN_CONFIG") or "").strip()
        if path:
            raw.update(read_config_file(path))
        raw.update({k: v for k, v in environ.items() if k in SETTINGS and v.strip() != ""})
        raw.update(_from_files(environ, raw))
        if "QQSCAN_REDIS_URL" not in raw and (environ.get(_RQ_REDIS_URL) or "").strip():
            raw["QQSCAN_REDIS_URL"] = environ[_RQ_REDIS_URL]
        given = {k: v for k, v in (flags or {}).items() if v is not None}
        data_home = (environ.get("XDG_DATA_HOME") or "").strip()
        return cls(raw, given, data_home) if data_home else cls(raw, given)

    def __getitem__(self, name: str) -> Any:
        """The parsed value: a flag's, else the file's or environment's, else the table's default."""
        spec = _lookup(name)
        if name in self.flags:
            return self.flags[name]
        raw = self.raw.get(name)
        return spec.default if raw is None else spec.parse(raw)

    def is_set(self, name: str) -> bool:
        """Whether a flag, the config file or the environment gave `name` (not the table's default)."""
        _lookup(name)
        return name in self.flags or name in self.raw

    def with_flags(self, **flags: Any) -> Settings:
        """These settings with command-line values on top (a None value is not given)."""
        given = {k: v for k, v in flags.items() if v is not None and _lookup(k)}
        return Settings(dict(self.raw), {**self.flags, **given}, self.data_home)


DEFAULTS = Settings()  # the table's defaults: what a library call that is given no settings uses


def _from_files(environ: Mapping[str, str], given: Mapping[str, str]) -> dict[str, str]:
    """`NAME_FILE=path` gives NAME the file's content (Docker/Kubernetes secrets: a URL with a password
    stays out of the environment and `docker inspect`), unless NAME itself is set; one trailing newline is
    dropped. An unreadable file is a SettingError naming the variable."""
    out = {}
    for name in SETTINGS:
        path = (environ.get(f"{name}_FILE") or "").strip()
        if not path or name in given:
            continue
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingError(f"{name}_FILE={path}: {getattr(exc, 'strerror', None) or exc}") from None
        out[name] = text.removesuffix("\n").removesuffix("\r")
    return out


def setting(name: str, env: Mapping[str, str] | None = None) -> Any:
    """The parsed value of `name` from `env` (a mapping of variables; default the environment): for an
    edge that needs one value, and for tests."""
    return Settings.load(env)[name]


def _as_text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (int, float, str)) for v in value):
        return ",".join(str(v) for v in value)
    raise SettingError(f"{name} in the config file: expected a string, number, boolean or list")


def read_config_file(path: str | Path) -> dict[str, str]:
    """The values of a TOML config file whose keys are setting names, as the strings the environment would
    hold. Unknown keys and bad values are errors that name the key; nothing is applied."""
    path = Path(path).expanduser()
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise SettingError(f"config file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingError(f"config file {path} is not valid TOML: {exc}") from None
    values: dict[str, str] = {}
    for key, value in data.items():
        if key not in SETTINGS or key == "QQSCAN_CONFIG":
            raise SettingError(f"config file {path}: unknown setting {key!r} (see docs/settings.md)")
        values[key] = _as_text(key, value)
        SETTINGS[key].parse(values[key])  # a bad value fails now, naming the key
    return values
