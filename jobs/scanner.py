"""The core object: a `Scanner` holds one process's settings and builds, each on first use, what scanning
needs from them: the OCR engine (one per process and configuration, ocr.engine.get_engine), the detector
(the shipped rules and QQSCAN_RULES), decode limits, enhancement steps, fetch settings and the results
store. `qqscan scan`, the RQ jobs (jobs.tasks), the review web app and the tests use it; nothing below it
reads the environment. Building a Scanner builds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from ground.settings import DEFAULTS, Settings

if TYPE_CHECKING:
    from detectors.allowlist import Allowed
    from detectors.engine import TextDetector
    from fetch.settings import FetchSettings
    from jobs.pipeline import ScanResult
    from ocr.decode import DecodeLimits
    from ocr.engine import EngineConfig, OcrEngine
    from store.results import Store


class Scanner:
    def __init__(self, settings: Settings = DEFAULTS) -> None:
        self.settings = settings

    @cached_property
    def engine_config(self) -> EngineConfig:
        from ocr.engine import EngineConfig

        return EngineConfig.from_settings(self.settings)  # EngineError names a bad setting

    @property
    def engine(self) -> OcrEngine:
        """Not kept on the Scanner: a forked child (an RQ work horse) must build its own."""
        from ocr.engine import get_engine

        return get_engine(self.engine_config)

    @cached_property
    def detector(self) -> TextDetector:
        import detectors

        return detectors.detector(self.settings["QQSCAN_RULES"])

    @property
    def rules_version(self) -> str:
        return self.detector.version

    @cached_property
    def limits(self) -> DecodeLimits:
        from ocr.decode import DecodeLimits

        return DecodeLimits.from_settings(self.settings)

    @cached_property
    def enhance(self) -> list[str]:
        from ocr.enhance import enhance_steps

        return enhance_steps(self.settings)

    @cached_property
    def fetch(self) -> FetchSettings:
        from fetch.settings import FetchSettings

        return FetchSettings.from_settings(self.settings)

    @cached_property
    def database_url(self) -> str:
        from store.database import database_url

        return database_url(self.settings)

    def store(self) -> Store:
        """The results store of QQSCAN_DATABASE_URL (one per process and URL)."""
        from store.results import get_store

        return get_store(self.database_url)

    def warm_up(self) -> OcrEngine:
        """Build the engine and the detector now, so the first image pays for neither."""
        engine = self.engine
        _ = self.detector
        return engine

    def scan(
        self,
        data: bytes,
        source: str,
        *,
        allow: Sequence[Allowed] = (),
        shop_id: str | None = None,
        keep_evidence: bool = False,
        sha256: str | None = None,
    ) -> ScanResult:
        """One image's bytes through the pipeline (jobs.pipeline.scan_bytes) under these settings."""
        from jobs.pipeline import scan_bytes

        return scan_bytes(
            data,
            source,
            engine=self.engine,
            limits=self.limits,
            enhance=self.enhance,
            allow=allow,
            shop_id=shop_id,
            keep_evidence=keep_evidence,
            sha256=sha256,
            using=self.detector,
            detect_seconds=self.settings["QQSCAN_DETECT_SECONDS"],
            solicitation_flags=bool(self.settings["QQSCAN_SOLICITATION_FLAGS"]),
        )
