"""``[supervision]``: when a case turns yellow, and whether warnings are published."""

from __future__ import annotations

from dataclasses import dataclass

from hub.config import Config, ConfigError

__all__ = ["SupervisionSettings", "supervision_settings"]


@dataclass(frozen=True, slots=True)
class SupervisionSettings:
    """Electronic supervision (电子监察) settings.

    Attributes:
        warn_ratio: The share of its limit a case has used when it turns yellow (0.8:
            a 5-working-day case is yellow on its 4th working day).
        publish_warnings: Publish ``supervision.warning`` when a case turns yellow
            (``supervision.overdue`` is always published when it turns red).
    """

    warn_ratio: float = 0.8
    publish_warnings: bool = True


def supervision_settings(config: Config) -> SupervisionSettings:
    """``[supervision]`` of ``config``, checked.

    Raises:
        ConfigError: An unknown key, or a value of the wrong kind or range.
    """
    file = config.file
    section = config.table("supervision", ("warn_ratio", "publish_warnings"))
    ratio = section.get("warn_ratio", 0.8)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio < 1:
        raise ConfigError(
            file, "supervision.warn_ratio", "must be a number between 0 and 1 (e.g. 0.8)"
        )
    publish = section.get("publish_warnings", True)
    if not isinstance(publish, bool):
        raise ConfigError(file, "supervision.publish_warnings", "must be true or false")
    return SupervisionSettings(warn_ratio=float(ratio), publish_warnings=publish)
