"""The personal-data export as a document a person can read: one section per part, Chinese labels for
the fields the suite uses (a field without one shows its own name), every key and value escaped."""

from html import escape
from typing import Any

TITLE = "个人信息副本"
PARTS = {
    "profile": "客户档案（身份、联系方式、同意记录、风险测评、协议、交易）",
    "loyalty": "积分与权益（积分账户、积分明细、兑换、电子券、活动报名）",
    "feedback": "投诉与满意度（投诉及处理步骤、问卷回答、回访）",
    "segmentation": "客户分群（特征、分类、分群变动、产品推荐）",
}
SUMMARY = {
    "customer_id": "客户编号",
    "complete": "是否完整",
    "generated_at": "生成时间",
    "manifest": "内容清单",
    "missing": "未能取得的部分",
}
LABELS = {
    # envelope, manifest, missing parts
    "part": "部分",
    "service": "来源服务",
    "produced_at": "生成时间",
    "exported_at": "导出时间",
    "reason": "原因",
    "detail": "说明",
    "data": "数据",
    # the person
    "customer": "客户",
    "customer_no": "客户号",
    "type": "类型",
    "name": "名称",
    "id_type": "证件类型",
    "id_number": "证件号码",
    "id_country": "证件国家或地区",
    "phone": "手机号码",
    "email": "电子邮箱",
    "contact_name": "联系人",
    "region_type": "地区类型",
    "province": "省份",
    "city": "城市",
    "branch_code": "网点代码",
    "status": "状态",
    "created_at": "创建时间",
    "updated_at": "更新时间",
    "closed_at": "销户时间",
    "erased_at": "删除时间",
    "contacts": "联系方式",
    "kind": "种类",
    "value": "内容",
    "is_preferred": "首选",
    "consents": "同意记录",
    "do_not_contact": "勿扰设置",
    "risk_assessments": "风险测评",
    "agreements": "服务协议",
    "interactions": "接触记录",
    "transactions": "交易记录",
    "asset_snapshots": "资产快照",
    "relationship_manager": "客户经理",
    "care_reminders": "关怀提醒",
    "migration_imports": "迁移来源",
    "external_id": "来源系统编号",
    "imported_at": "迁移时间",
    "access_log": "访问记录",
    "erasure_requests": "删除申请",
    "action": "操作",
    "actor_sub": "操作人",
    "actor_role": "操作人角色",
    "request_id": "请求编号",
    "at": "时间",
    "amount": "金额（元）",
    "channel": "渠道",
    "occurred_at": "发生时间",
    # loyalty
    "account": "积分账户",
    "balance": "积分余额",
    "lifetime_earned": "累计获得积分",
    "tier": "等级",
    "ledger": "积分明细",
    "points": "积分",
    "balance_after": "变动后余额",
    "source": "来源",
    "redemptions": "兑换记录",
    "reward_id": "礼品编号",
    "quantity": "数量",
    "vouchers": "电子券",
    "voucher_code": "券码",
    "valid_until": "有效期至",
    "used_at": "使用时间",
    "event_registrations": "活动报名",
    "event": "活动",
    "title": "标题",
    "starts_at": "开始时间",
    "ends_at": "结束时间",
    "checked_in_at": "签到时间",
    "notifications": "消息",
    "body": "内容",
    "is_read": "已读",
    "read_at": "阅读时间",
    "push_state": "推送状态",
    "care_tasks": "关怀任务",
    "manager_id": "客户经理",
    "outreach": "营销触达",
    "campaign_id": "活动编号",
    "sent_at": "发送时间",
    "delivered_at": "送达时间",
    "opened_at": "打开时间",
    # feedback
    "complaints": "投诉",
    "complainant_name": "投诉人",
    "complainant_contact": "投诉人联系方式",
    "business_type": "业务类别",
    "cause": "投诉原因",
    "description": "投诉内容",
    "state": "状态",
    "received_at": "受理时间",
    "deadline": "处理时限",
    "due_at": "到期时间",
    "decision": "处理决定",
    "steps": "处理步骤",
    "note": "备注",
    "survey_responses": "问卷回答",
    "survey_id": "问卷编号",
    "answers": "回答",
    "question_id": "题目",
    "text": "文字回答",
    "responded_at": "回答时间",
    "follow_ups": "回访",
    "outcome": "回访结果",
    "survey_invitations": "问卷邀请",
    # segmentation
    "membership": "当前分群",
    "classes": "分类",
    "segments": "规则分群",
    "features": "客户特征",
    "membership_history": "分群变动",
    "scheme": "分类方案",
    "from_class": "原分类",
    "to_class": "新分类",
    "changed_at": "变动时间",
    "daily_activity": "每日交易汇总",
    "recommendations": "产品推荐",
    "product": "产品",
    "rank": "排名",
}
STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.3em 0}"
    "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}"
    ".missing{color:#a00}"
)


def _label(key: str) -> str:
    label = LABELS.get(key)
    return escape(f"{label}（{key}）" if label else key)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        if not value:
            return "无"
        rows = "".join(f"<tr><th>{_label(str(k))}</th><td>{_value(v)}</td></tr>" for k, v in value.items())
        return f"<table>{rows}</table>"
    if isinstance(value, list):
        if not value:
            return "无"
        return "<ol>" + "".join(f"<li>{_value(item)}</li>" for item in value) + "</ol>"
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    return escape(str(value))


def render_html(export: dict[str, Any]) -> str:
    """`export` is PersonalDataExport as JSON; the document is complete (doctype, charset, style)."""
    summary = "".join(
        f"<tr><th>{escape(label)}</th><td>{_value(export.get(key))}</td></tr>" for key, label in SUMMARY.items()
    )
    sections = []
    for part, label in PARTS.items():
        body = export.get(part)
        content = _value(body) if body is not None else '<p class="missing">未能取得，见“未能取得的部分”。</p>'
        sections.append(f"<section><h2>{escape(label)}</h2>{content}</section>")
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{TITLE}</title><style>{STYLE}</style></head><body>"
        f"<h1>{TITLE}</h1><table>{summary}</table>{''.join(sections)}</body></html>"
    )
