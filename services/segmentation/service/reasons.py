"""Why a product is recommended, in Chinese or English (the caller's Accept-Language): the class whose
needs it meets, the customer's own stated goal it serves, the classes it is designed for, and the
suitability check it passed."""

from dataclasses import dataclass

from sqlalchemy import Row

LANGUAGES = ("en", "zh")

CLASS_NAMES = {
    "major": ("major", "大客户"),
    "mid_high": ("mid-to-high", "中高端"),
    "ordinary": ("ordinary", "普通"),
    "micro": ("micro and small", "小微"),
    "individual": ("individual", "个人"),
    "enterprise": ("enterprise", "企业"),
    "interbank": ("interbank", "同业"),
    "urban": ("urban", "城市"),
    "rural": ("rural", "农村"),
    "peri_urban": ("peri-urban", "城乡结合部"),
    "active": ("active", "活跃"),
    "potential": ("potential", "潜力"),
    "dormant": ("dormant", "休眠"),
}
NEED_NAMES = {
    "personalised_service": ("personalised service", "专属服务"),
    "asset_allocation": ("asset allocation", "资产配置"),
    "returns": ("returns", "收益"),
    "wealth_management": ("wealth management", "财富管理"),
    "saving": ("saving", "储蓄"),
    "simple_investment": ("simple investment", "简单投资"),
    "fast_financing": ("fast financing", "快速融资"),
    "settlement": ("settlement", "结算"),
    "liquidity": ("liquidity", "流动性管理"),
    "convenient_access": ("convenient access", "便捷服务"),
    "growth": ("growth", "成长"),
    "reactivation": ("reactivation", "重新活跃"),
    "protection": ("protection", "保障"),
    "everyday_payments": ("everyday payments", "日常支付"),
}
PURPOSE_NAMES = {
    "saving": ("saving", "储蓄"),
    "wealth_growth": ("growing their wealth", "财富增值"),
    "retirement": ("retirement", "养老"),
    "education": ("education", "子女教育"),
    "housing": ("a home", "购房"),
    "business": ("their business", "经营"),
    "protection": ("protection", "保障"),
    "everyday": ("everyday payments", "日常支付"),
}


def language(accept_language: str | None) -> str:
    """zh when the caller's first acceptable language is Chinese, else en (RFC 9110 weights honoured)."""
    ranked = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            ranked.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en") or tag == "*":
            return "en"
    return "en"


def _name(table: dict[str, tuple[str, str]], key: str, lang: str) -> str:
    en, zh = table.get(key, (key.replace("_", " "), key))
    return zh if lang == "zh" else en


@dataclass(frozen=True)
class Why:
    need_of: str | None  # scheme:class whose needs the product meets
    matched: list[str]  # scheme:class targets the customer is in
    purpose: str | None  # the customer's stated purpose the product serves


def reason(p: Row, why: Why, features: Row, lang: str) -> str:
    zh = lang == "zh"
    parts = []
    if why.purpose is not None:
        goal = _name(PURPOSE_NAMES, why.purpose, lang)
        parts.append(f"符合客户自述的{goal}目标" if zh else f"it serves the customer's stated goal of {goal}")
    if why.need_of is not None:
        group, need = _name(CLASS_NAMES, why.need_of.split(":")[1], lang), _name(NEED_NAMES, p.needs_tag, lang)
        parts.append(f"{group}客户的主要需求是{need}" if zh else f"customers in the {group} group mainly need {need}")
    if why.matched:
        sep = "、" if zh else ", "
        labels = sep.join(_name(CLASS_NAMES, m.split(":")[1], lang) for m in why.matched)
        parts.append(f"产品面向{labels}客户设计" if zh else f"the product is designed for {labels} customers")
    if p.risk_level:
        until = features.risk_expires_at.date().isoformat()
        parts.append(
            f"产品风险等级{p.risk_level}在客户评估等级{features.risk_level}以内（有效期至{until}）"
            if zh
            else f"its risk {p.risk_level} is within the customer's assessed level {features.risk_level} "
            f"(valid until {until})"
        )
    if zh:
        return f"{p.name}：{'；'.join(parts) or '面向所有客户的通用产品'}。"
    text = "; ".join(parts) or "a general product open to every customer"
    return f"{p.name}: {text[0].upper()}{text[1:]}."
