"""The console's gettext catalogue: complete, and the compiled file matches its source."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
CATALOGUE = ROOT / "faces" / "console" / "translations" / "zh" / "LC_MESSAGES"


def _translations(catalog: object) -> dict[object, object]:
    def key(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {key(m.id): key(m.string) for m in catalog if m.id}  # type: ignore[attr-defined]


def test_compiled_catalogue_matches_the_po_file() -> None:
    with (CATALOGUE / "messages.po").open("rb") as po, (CATALOGUE / "messages.mo").open("rb") as mo:
        source, compiled = read_po(po), read_mo(mo)
    assert _translations(compiled) == _translations(source), (
        "messages.mo is stale: run `pybabel compile -d faces/console/translations`"
    )


def test_every_console_string_has_a_chinese_translation() -> None:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
    found = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords
        )
    }
    with (CATALOGUE / "messages.po").open("rb") as po:
        catalog = read_po(po)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and (m.string if isinstance(m.string, str) else all(m.string))
    }
    missing = sorted(found - translated)
    assert not missing, f"untranslated (see faces/console/README.md to update): {missing}"
    assert len(found) > 150


def test_every_installed_job_and_channel_has_words_in_the_console() -> None:
    from faces.console.words import JOB_DESCRIPTIONS, WORDS
    from hub.scheduler.catalog import installed_jobs

    jobs = {spec.id for spec in installed_jobs()}
    assert jobs <= set(JOB_DESCRIPTIONS), (
        f"add to words.JOB_DESCRIPTIONS: {jobs - set(JOB_DESCRIPTIONS)}"
    )
    channels = {"rest", "soap", "job", "notify", "poll", "push", "adapter"}
    assert channels <= set(WORDS)
