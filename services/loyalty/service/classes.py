"""References to segmentation's classes. Every "scheme:class" a reward's `eligible_segments`, a customer
event's `target_segments` or an earning rule's multiplier names must be a class in segmentation's
catalogue (GET /v1/segments/classes): a name nobody can be in would make the reward, event or bonus
silently unreachable. The built-in schemes' classes are checked here, against FIXED_CLASSES, loyalty's
copy of segmentation's, which a contract test holds equal to the catalogue
(tests/segmentation/test_api_classes.py); a rule segment's class, "rule:<segment id>:member", is looked
up in segmentation's catalogue when a write names one, before the write's transaction begins
(docs/api-loyalty.md)."""

import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Any

from services.common.errors import InvalidInput, UpstreamUnavailable

FIXED_CLASSES: dict[str, tuple[str, ...]] = {
    "customer_type": ("individual", "enterprise", "interbank"),
    "region": ("urban", "rural", "peri_urban"),
    "asset_size": ("major", "mid_high", "ordinary", "micro"),
    "behaviour": ("active", "potential", "dormant"),
}
RULE_SCHEME = "rule"
RULE_CLASS = "member"
SCHEMES_HINT = ", ".join([*FIXED_CLASSES, f"{RULE_SCHEME}:<segment id>"])
# Segmentation's catalogue now: the id ("scheme:class") of every class. Raises UpstreamUnavailable
# when segmentation cannot answer.
CatalogueSource = Callable[[], Collection[str]]
_LOOK_UP = "look up"


def segmentation_unavailable(reason: str) -> UpstreamUnavailable:
    return UpstreamUnavailable(
        f"The segmentation service is unavailable ({reason}), so the rule segments named cannot be checked; "
        "try again later",
        service="segmentation",
    )


def _problem(value: str) -> str | None:
    """Why `value` is no class, _LOOK_UP when only segmentation can tell, or None when it is one."""
    scheme, _, rest = value.partition(":")
    if scheme in FIXED_CLASSES:
        if rest in FIXED_CLASSES[scheme]:
            return None
        return f"known {scheme} classes: {', '.join(FIXED_CLASSES[scheme])}"
    if scheme != RULE_SCHEME:
        return f"no scheme {scheme}; the schemes are {SCHEMES_HINT}"
    segment_id, _, cls = rest.partition(":")
    if cls != RULE_CLASS:
        return f"a rule segment's class is {RULE_SCHEME}:<segment id>:{RULE_CLASS}"
    try:
        canonical = str(uuid.UUID(segment_id)) == segment_id
    except ValueError:
        canonical = False
    return _LOOK_UP if canonical else f"no rule segment {segment_id} in segmentation"


def _error(loc: list[Any], value: str, why: str) -> dict[str, Any]:
    return {"loc": loc, "msg": f"no such class: {value} ({why})", "type": "class_unknown"}


class ClassCatalogue:
    """Checks the classes a write names. `source` reads segmentation's catalogue; None when
    segmentation is not configured (a rule segment named is then a 503)."""

    def __init__(self, source: CatalogueSource | None):
        self.source = source

    def check(self, field: str, values: Sequence[str | None] | None, part: str | None = None) -> None:
        """422 with an item per entry of the body's `field` that is no class (loc body, field, index,
        then `part` for a list of objects); segmentation is asked only when an entry names a rule
        segment, and when it cannot answer that is a 503, unless another entry is wrong already: a
        certain 422 comes first."""
        errors, lookups = [], []
        for i, value in enumerate(values or ()):
            if value is None:
                continue
            loc: list[Any] = ["body", field, i, *([part] if part else [])]
            why = _problem(value)
            if why == _LOOK_UP:
                lookups.append((loc, value))
            elif why is not None:
                errors.append(_error(loc, value, why))
        if lookups:
            try:
                known = self._catalogue()
            except UpstreamUnavailable:
                if errors:
                    raise InvalidInput(errors) from None
                raise
            errors += [
                _error(loc, value, f"no rule segment {value.split(':')[1]} in segmentation")
                for loc, value in lookups
                if value not in known
            ]
        if errors:
            raise InvalidInput(sorted(errors, key=lambda e: e["loc"][2]))

    def _catalogue(self) -> Collection[str]:
        if self.source is None:
            raise segmentation_unavailable("LOYALTY_SEGMENTATION_URL is empty")
        return self.source()
