"""Which metric names a PromQL expression reads, and which names the suite's code defines (scanned from
its prometheus_client definitions and collectors); tests/e2e/test_metrics_exist_e2e.py checks them
against what running processes really export."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
PROMETHEUS_OWN = {"up"}
FUNCTIONS = {
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "rate",
    "irate",
    "increase",
    "deriv",
    "delta",
    "histogram_quantile",
    "absent",
    "label_replace",
    "by",
    "without",
    "on",
    "ignoring",
    "and",
    "or",
    "unless",
    "offset",
    "bool",
    "max_over_time",
    "min_over_time",
    "avg_over_time",
    "topk",
    "bottomk",
    "clamp_min",
    "vector",
    "time",
    "group_left",
    "group_right",
    "label_values",
}
_DEFINITION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)(?:MetricFamily)?\(\s*\"([a-z_:][a-z0-9_:]*)\"")


def exposed_metric_names() -> set[str]:
    names = set(PROMETHEUS_OWN)
    for path in [*ROOT.glob("services/**/*.py"), *ROOT.glob("gateway/**/*.py")]:
        for kind, name in _DEFINITION.findall(path.read_text(errors="replace")):
            base = name.removesuffix("_total")
            if kind == "Counter":
                names.add(base + "_total")
            elif kind in {"Histogram", "Summary"}:
                names |= {base, f"{base}_bucket", f"{base}_sum", f"{base}_count"}
            else:
                names.add(name)
    return names


def metric_names(expr: str) -> tuple[set[str], list[str]]:
    """(plain metric names, __name__ regexes) that `expr` selects."""
    regexes = re.findall(r"__name__=~\"([^\"]+)\"", expr)
    text = re.sub(r"\"[^\"]*\"", " ", expr)  # strings: label values, label_replace arguments
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\$\w+", " ", text)  # dashboard variables
    text = re.sub(r"\b\d+(ms|[smhdwy])\b", " ", text)  # durations (offset 15m)
    tokens = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text))
    return {t for t in tokens if t not in FUNCTIONS and not re.fullmatch(r"[eE]|Inf|NaN", t)}, regexes


def unknown_names(expr: str, known: set[str], recorded: set[str]) -> list[str]:
    names, regexes = metric_names(expr)
    unknown = sorted(names - known - recorded)
    unknown += [f"~{rx}" for rx in regexes if not any(re.fullmatch(rx, name) for name in known)]
    return unknown
