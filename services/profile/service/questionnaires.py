"""The risk questionnaires that ship with the service, as data: questions, options with scores, and
the score bands that give the risk level. Individuals answer one; enterprises and interbank customers
the other. A new version is a new entry; assessments keep the id and version they answered."""

from typing import Any

INDIVIDUAL: dict[str, Any] = {
    "id": "individual",
    "version": 1,
    "customer_types": ["individual"],
    "title": "个人投资者风险承受能力评估 (individual investor risk tolerance)",
    "questions": [
        {
            "id": "age_band",
            "text": "您的年龄 (age)",
            "options": [
                {"id": "18_30", "text": "18-30", "score": 4},
                {"id": "31_45", "text": "31-45", "score": 5},
                {"id": "46_60", "text": "46-60", "score": 3},
                {"id": "61_70", "text": "61-70", "score": 2},
                {"id": "over_70", "text": "70 以上 (over 70)", "score": 1},
            ],
        },
        {
            "id": "annual_income",
            "text": "家庭年收入 (household income per year, CNY)",
            "options": [
                {"id": "under_100k", "text": "10 万以下", "score": 1},
                {"id": "100k_300k", "text": "10-30 万", "score": 2},
                {"id": "300k_500k", "text": "30-50 万", "score": 3},
                {"id": "500k_1m", "text": "50-100 万", "score": 4},
                {"id": "over_1m", "text": "100 万以上", "score": 5},
            ],
        },
        {
            "id": "investable_assets",
            "text": "可投资资产 (investable assets, CNY)",
            "options": [
                {"id": "under_50k", "text": "5 万以下", "score": 1},
                {"id": "50k_500k", "text": "5-50 万", "score": 2},
                {"id": "500k_3m", "text": "50-300 万", "score": 3},
                {"id": "3m_10m", "text": "300-1000 万", "score": 4},
                {"id": "over_10m", "text": "1000 万以上", "score": 5},
            ],
        },
        {
            "id": "income_share",
            "text": "拟投资金额占家庭资产比例 (share of assets to invest)",
            "options": [
                {"id": "over_70", "text": "70% 以上", "score": 1},
                {"id": "50_70", "text": "50-70%", "score": 2},
                {"id": "30_50", "text": "30-50%", "score": 3},
                {"id": "10_30", "text": "10-30%", "score": 4},
                {"id": "under_10", "text": "10% 以下", "score": 5},
            ],
        },
        {
            "id": "experience_years",
            "text": "投资经验 (years investing beyond deposits)",
            "options": [
                {"id": "none", "text": "无 (none)", "score": 1},
                {"id": "under_2", "text": "2 年以内", "score": 2},
                {"id": "2_5", "text": "2-5 年", "score": 3},
                {"id": "5_10", "text": "5-10 年", "score": 4},
                {"id": "over_10", "text": "10 年以上", "score": 5},
            ],
        },
        {
            "id": "products_held",
            "text": "投资过的产品 (riskiest product held)",
            "options": [
                {"id": "deposits", "text": "存款、国债", "score": 1},
                {"id": "bond_funds", "text": "债券基金、银行理财", "score": 2},
                {"id": "mixed_funds", "text": "混合基金", "score": 3},
                {"id": "equities", "text": "股票、股票基金", "score": 4},
                {"id": "derivatives", "text": "期货、期权等衍生品", "score": 5},
            ],
        },
        {
            "id": "knowledge",
            "text": "金融知识 (financial knowledge)",
            "options": [
                {"id": "little", "text": "很少", "score": 1},
                {"id": "basic", "text": "一般", "score": 2},
                {"id": "good", "text": "较丰富", "score": 4},
                {"id": "professional", "text": "专业", "score": 5},
            ],
        },
        {
            "id": "horizon",
            "text": "投资期限 (investment horizon)",
            "options": [
                {"id": "under_1y", "text": "1 年以内", "score": 1},
                {"id": "1_3y", "text": "1-3 年", "score": 3},
                {"id": "3_5y", "text": "3-5 年", "score": 4},
                {"id": "over_5y", "text": "5 年以上", "score": 5},
            ],
        },
        {
            "id": "goal",
            "text": "投资目标 (goal)",
            "options": [
                {"id": "preserve", "text": "保本 (keep capital)", "score": 1},
                {"id": "steady", "text": "稳健增值 (steady growth)", "score": 3},
                {"id": "growth", "text": "较高收益 (growth)", "score": 4},
                {"id": "maximum", "text": "最大收益 (maximum return)", "score": 5},
            ],
        },
        {
            "id": "loss_tolerance",
            "text": "可承受的最大亏损 (largest loss you could bear)",
            "options": [
                {"id": "none", "text": "不能亏损 (none)", "score": 1},
                {"id": "under_10", "text": "10% 以内", "score": 2},
                {"id": "10_30", "text": "10-30%", "score": 3},
                {"id": "30_50", "text": "30-50%", "score": 4},
                {"id": "over_50", "text": "50% 以上", "score": 5},
            ],
        },
    ],
    # Inclusive score bands over 10..50.
    "bands": [
        {"level": "C1", "min_score": 10, "max_score": 18},
        {"level": "C2", "min_score": 19, "max_score": 26},
        {"level": "C3", "min_score": 27, "max_score": 34},
        {"level": "C4", "min_score": 35, "max_score": 42},
        {"level": "C5", "min_score": 43, "max_score": 50},
    ],
}

ORGANISATION: dict[str, Any] = {
    "id": "organisation",
    "version": 1,
    "customer_types": ["enterprise", "interbank"],
    "title": "机构投资者风险承受能力评估 (institutional investor risk tolerance)",
    "questions": [
        {
            "id": "net_assets",
            "text": "净资产 (net assets, CNY)",
            "options": [
                {"id": "under_10m", "text": "1000 万以下", "score": 1},
                {"id": "10m_100m", "text": "1000 万-1 亿", "score": 2},
                {"id": "100m_1b", "text": "1-10 亿", "score": 4},
                {"id": "over_1b", "text": "10 亿以上", "score": 5},
            ],
        },
        {
            "id": "funds_source",
            "text": "投资资金来源 (source of funds)",
            "options": [
                {"id": "operating", "text": "经营周转资金", "score": 1},
                {"id": "surplus", "text": "闲置资金", "score": 3},
                {"id": "dedicated", "text": "专项投资资金", "score": 5},
            ],
        },
        {
            "id": "experience_years",
            "text": "机构投资经验 (years investing)",
            "options": [
                {"id": "none", "text": "无", "score": 1},
                {"id": "under_3", "text": "3 年以内", "score": 2},
                {"id": "3_10", "text": "3-10 年", "score": 4},
                {"id": "over_10", "text": "10 年以上", "score": 5},
            ],
        },
        {
            "id": "dedicated_staff",
            "text": "专职投资人员 (dedicated investment staff)",
            "options": [
                {"id": "none", "text": "无", "score": 1},
                {"id": "some", "text": "兼职", "score": 3},
                {"id": "team", "text": "专业团队", "score": 5},
            ],
        },
        {
            "id": "products_held",
            "text": "投资过的产品 (riskiest product held)",
            "options": [
                {"id": "deposits", "text": "存款、同业存单", "score": 1},
                {"id": "bonds", "text": "债券、货币基金", "score": 2},
                {"id": "funds", "text": "基金、资管产品", "score": 4},
                {"id": "derivatives", "text": "衍生品", "score": 5},
            ],
        },
        {
            "id": "horizon",
            "text": "投资期限 (horizon)",
            "options": [
                {"id": "under_1y", "text": "1 年以内", "score": 1},
                {"id": "1_3y", "text": "1-3 年", "score": 3},
                {"id": "over_3y", "text": "3 年以上", "score": 5},
            ],
        },
        {
            "id": "goal",
            "text": "投资目标 (goal)",
            "options": [
                {"id": "liquidity", "text": "流动性管理", "score": 1},
                {"id": "steady", "text": "稳健收益", "score": 3},
                {"id": "growth", "text": "较高收益", "score": 5},
            ],
        },
        {
            "id": "loss_tolerance",
            "text": "可承受的最大亏损 (largest loss the institution could bear)",
            "options": [
                {"id": "none", "text": "不能亏损", "score": 1},
                {"id": "under_10", "text": "10% 以内", "score": 2},
                {"id": "10_30", "text": "10-30%", "score": 4},
                {"id": "over_30", "text": "30% 以上", "score": 5},
            ],
        },
    ],
    # Inclusive score bands over 8..40.
    "bands": [
        {"level": "C1", "min_score": 8, "max_score": 14},
        {"level": "C2", "min_score": 15, "max_score": 20},
        {"level": "C3", "min_score": 21, "max_score": 27},
        {"level": "C4", "min_score": 28, "max_score": 33},
        {"level": "C5", "min_score": 34, "max_score": 40},
    ],
}

QUESTIONNAIRES = (INDIVIDUAL, ORGANISATION)


def questionnaire_for(customer_type: str) -> dict[str, Any]:
    return next(q for q in QUESTIONNAIRES if customer_type in q["customer_types"])


def level_for(questionnaire: dict[str, Any], score: int) -> str:
    return next(b["level"] for b in questionnaire["bands"] if b["min_score"] <= score <= b["max_score"])
