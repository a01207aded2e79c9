"""Counts that the reports share, each kept with the row references behind it."""

from __future__ import annotations

from typing import Hashable

import pandas as pd

from ..charts import Bar, Segment
from ..decisions import LOCAL_LEVELS, root_theme
from ..model import LEVELS, Vocabulary
from ..templating import LEVEL_COLOURS
from .page import Trace

SHORT_LEVELS = {"communal": "communal", "intercommunal": "intercommunal", "departemental": "départemental",
                "regional": "régional", "operateur": "opérateurs", "agence": "agence"}


def refs(rows: pd.DataFrame) -> list[str]:
    return rows["ref"].tolist()


def groups(rows: pd.DataFrame, key: pd.Series | str) -> list[tuple[Hashable, pd.DataFrame]]:
    """The rows grouped by a key, largest group first (ties by key)."""
    keys = rows[key] if isinstance(key, str) else key
    at = pd.Series(range(len(rows)), index=rows.index).groupby(keys.to_numpy(), sort=False).indices
    found = [(k, rows.iloc[positions]) for k, positions in at.items()]
    return sorted(found, key=lambda kv: (-len(kv[1]), str(kv[0])))


def by_level(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {level: rows[rows["niveau"] == level] for level in LEVELS}


def themes_exploded(rows: pd.DataFrame, vocabulary: Vocabulary) -> pd.DataFrame:
    """One row per demande × top-level thématique (a demande with two themes counts in both)."""
    parents = {word: term.parent for word, term in vocabulary.terms.items()}
    roots = rows["thematiques"].map(lambda words: root_theme(words, parents))
    exploded = rows.assign(theme=roots).explode("theme")
    return exploded[exploded["theme"].notna()]


def level_legend() -> list[tuple[str, str]]:
    return [(SHORT_LEVELS[level], LEVEL_COLOURS[level]) for level in LEVELS]


def level_bar(label: str, rows: pd.DataFrame, trace: Trace, what: str, share: bool = False) -> Bar:
    """A bar stacked by level, each segment linked to its rows; `share` draws percentages."""
    total = len(rows)
    segments = []
    for level, part in by_level(rows).items():
        if len(part):
            value = 100 * len(part) / total if share else len(part)
            tip = f"{label} — {SHORT_LEVELS[level]} : {len(part)} demande{'s' if len(part) > 1 else ''}"
            if share:
                tip += f" ({value:.0f} %)"
            segments.append(Segment(value, LEVEL_COLOURS[level], tip, trace.anchor(refs(part), f"{what} · niveau {level}")))
    return Bar(label, tuple(segments), total_text=f"{total}" if not share else f"{total} dem.")


def level_cells(rows: pd.DataFrame, trace: Trace, what: str) -> list[str]:
    """Per level, the count linked to its rows."""
    return [trace.link(refs(part), f"{what} · niveau {level}") for level, part in by_level(rows).items()]


def local_share(rows: pd.DataFrame) -> float:
    return float(rows["niveau"].isin(LOCAL_LEVELS).mean()) if len(rows) else 0.0


def level_headers() -> list[str]:
    return [SHORT_LEVELS[level] for level in LEVELS]


__all__ = ["refs", "groups", "by_level", "themes_exploded", "level_bar", "level_cells", "local_share",
           "level_headers", "level_legend", "SHORT_LEVELS"]
