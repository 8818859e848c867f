"""The demo's risk registers (风险辨识清单): realistic registers for the four fully staffed
enterprises whose hazards are the notice's topics — the foundry (熔炼炉/浇注: molten metal,
gas), the food plant (液氨制冷), the woodworks (木粉尘) and the aluminium plant (熔融铝液,
煤气/天然气). Written through risks.service.import_register as the enterprise's own admin, so
the site colours, extra rounds, versions and events are exactly what an import makes;
team-level controls name the real teams, so each team's daily check carries them.

Seeded once per enterprise (an enterprise that already has a register keeps its own)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.domain import Role
from app.accounts.models import Membership, User
from app.accounts.queries import load_actor
from app.demo.history import demo_enterprises
from app.hazard_reporting.risks import service
from app.hazard_reporting.risks.models import RiskRegister
from app.hazard_reporting.risks.workbook import RegisterRow

# (risk point, kind, area, site, source, 较大危险因素, accident types, L, E, C,
#  control, control kind, level, department, team, post)
REGISTERS: dict[str, list[tuple[str, ...]]] = {
    "hengda": [
        ("中频熔炼炉", "设备设施", "一号厂房", "熔炼车间炉前", "熔融金属遇水爆炸", "是", "其它爆炸、灼烫", "3", "6", "40",
         "加料前确认炉料、工具干燥预热，炉前坑槽无积水", "管理措施", "班组级", "熔炼车间", "熔炼班", ""),
        ("中频熔炼炉", "设备设施", "一号厂房", "熔炼车间炉前", "熔融金属遇水爆炸", "是", "其它爆炸、灼烫", "3", "6", "40",
         "感应线圈冷却水压力、温度报警和断电联锁有效", "工程技术", "部门级", "设备部", "", ""),
        ("中频熔炼炉", "设备设施", "一号厂房", "熔炼车间炉前", "熔融金属遇水爆炸", "是", "其它爆炸、灼烫", "3", "6", "40",
         "穿戴隔热服、防护面罩和隔热鞋后方可炉前作业", "个体防护", "岗位级", "", "", "熔炼工"),
        ("中频熔炼炉", "设备设施", "一号厂房", "熔炼车间炉前", "炉衬侵蚀漏炉", "否", "灼烫", "1", "6", "15",
         "每炉次检查炉衬厚度并记录，漏炉报警装置有效", "管理措施", "班组级", "熔炼车间", "熔炼班", ""),
        ("浇注作业", "作业活动", "一号厂房", "浇注区", "铁水包吊运倾翻", "是", "灼烫、起重伤害", "3", "6", "15",
         "浇注前检查铁水包耳轴、吊具和包衬干燥", "管理措施", "班组级", "熔炼车间", "浇注班", ""),
        ("浇注作业", "作业活动", "一号厂房", "浇注区", "铁水包吊运倾翻", "是", "灼烫、起重伤害", "3", "6", "15",
         "吊运路线下严禁站人，浇注区设置警戒线", "管理措施", "岗位级", "", "", "浇注工"),
        ("浇注作业", "作业活动", "一号厂房", "浇注区", "铁水包吊运倾翻", "是", "灼烫、起重伤害", "3", "6", "15",
         "铸造起重机制动器、限位和钢丝绳每月检查", "工程技术", "公司级", "", "", ""),
        ("抛丸除尘系统", "设备设施", "厂区东侧", "抛丸除尘器", "金属粉尘爆炸", "是", "其它爆炸、火灾", "1", "6", "15",
         "每班清理除尘器灰斗积尘，锁气卸灰装置完好", "管理措施", "班组级", "设备部", "维修班", ""),
    ],
    "jinsui": [
        ("氨制冷系统", "设备设施", "动力中心", "制冷机房", "液氨泄漏中毒", "是", "中毒和窒息、容器爆炸", "3", "6", "40",
         "每两小时巡检压缩机、储氨器压力温度并记录", "管理措施", "班组级", "动力部", "制冷班", ""),
        ("氨制冷系统", "设备设施", "动力中心", "制冷机房", "液氨泄漏中毒", "是", "中毒和窒息、容器爆炸", "3", "6", "40",
         "氨浓度报警与事故排风机联锁每周测试", "工程技术", "部门级", "动力部", "", ""),
        ("氨制冷系统", "设备设施", "动力中心", "制冷机房", "液氨泄漏中毒", "是", "中毒和窒息、容器爆炸", "3", "6", "40",
         "持证上岗，正压式空气呼吸器和防化服在位可用", "个体防护", "岗位级", "", "", "制冷工"),
        ("速冻间", "场所/区域", "二号厂房", "速冻车间", "氨泄漏人员中毒", "是", "中毒和窒息", "1", "6", "40",
         "速冻间作业人数不超过9人，氨报警时立即撤离", "管理措施", "班组级", "生产部", "速冻班", ""),
        ("速冻间", "场所/区域", "二号厂房", "速冻车间", "低温冻伤", "否", "其它伤害", "3", "6", "3",
         "进入速冻间穿戴防寒服和防寒手套", "个体防护", "岗位级", "", "", "速冻工"),
    ],
    "xinlin": [
        ("砂光生产线", "设备设施", "生产车间A区", "砂光线", "木粉尘爆炸", "是", "其它爆炸、火灾", "3", "6", "15",
         "每班清扫设备和地面积尘，严禁压缩空气吹扫", "管理措施", "班组级", "生产车间", "砂光班", ""),
        ("砂光生产线", "设备设施", "生产车间A区", "砂光线", "木粉尘爆炸", "是", "其它爆炸、火灾", "3", "6", "15",
         "风管火花探测和自动灭火装置保持有效", "工程技术", "部门级", "生产车间", "", ""),
        ("砂光生产线", "设备设施", "生产车间A区", "砂光线", "木粉尘爆炸", "是", "其它爆炸、火灾", "3", "6", "15",
         "开机前确认除尘器运行，佩戴防尘口罩", "个体防护", "岗位级", "", "", "砂光工"),
        ("布袋除尘器", "设备设施", "车间外侧", "布袋除尘器", "除尘器内粉尘爆炸", "是", "其它爆炸", "1", "6", "40",
         "泄爆片完好、锁气卸灰装置运行正常，灰斗不积灰", "工程技术", "班组级", "生产车间", "砂光班", ""),
    ],
    "zhongyuan": [
        ("深井铸造", "作业活动", "熔铸车间", "深井铸造机", "铝液遇水爆炸", "是", "其它爆炸、灼烫", "3", "6", "40",
         "铸造前确认流槽、铸造井干燥，冷却水压力流量报警与快速切断联锁有效", "工程技术", "班组级", "熔铸车间", "铸造班", ""),
        ("深井铸造", "作业活动", "熔铸车间", "深井铸造机", "铝液遇水爆炸", "是", "其它爆炸、灼烫", "3", "6", "40",
         "紧急排放和应急储存设施保持可用，每月演练", "应急处置", "公司级", "", "", ""),
        ("深井铸造", "作业活动", "熔铸车间", "深井铸造机", "铝液遇水爆炸", "是", "其它爆炸、灼烫", "3", "6", "40",
         "铸造时非作业人员撤离铸造井周边", "管理措施", "岗位级", "", "", "铸造工"),
        ("熔炼炉", "设备设施", "熔铸车间", "深井铸造机", "铝液喷溅灼烫", "否", "灼烫", "3", "6", "7",
         "扒渣、搅拌时穿戴隔热服和面罩", "个体防护", "班组级", "熔铸车间", "熔炼班", ""),
        ("燃气调压站", "场所/区域", "厂区西侧", "燃气调压站", "天然气泄漏爆炸", "是", "其它爆炸、中毒和窒息", "1", "6", "40",
         "可燃气体报警和紧急切断阀每周测试", "工程技术", "部门级", "熔铸车间", "", ""),
        ("燃气调压站", "场所/区域", "厂区西侧", "燃气调压站", "天然气泄漏爆炸", "是", "其它爆炸、中毒和窒息", "1", "6", "40",
         "携带便携式报警仪，双人作业", "个体防护", "岗位级", "", "", "燃气工"),
        ("抛光除尘", "设备设施", "表面处理车间", "抛光除尘间", "铝粉尘爆炸", "是", "其它爆炸、火灾", "3", "6", "15",
         "湿式除尘器水位、水流正常，积尘每班清理", "管理措施", "班组级", "表面处理车间", "抛光班", ""),
    ],
}


def _admin_actor(session: Session, enterprise_id: int):
    user = session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.enterprise_id == enterprise_id,
            Membership.role == Role.ENTERPRISE_ADMIN,
            Membership.active.is_(True),
        )
        .order_by(Membership.id)
        .limit(1)
    )
    return load_actor(session, user) if user is not None else None


def seed_risk_registers(session: Session, now: datetime) -> int:
    """Import each demo register its enterprise lacks; returns how many rows were imported."""
    written = 0
    enterprises = demo_enterprises(session)
    for key, rows in REGISTERS.items():
        enterprise = enterprises.get(key)
        if enterprise is None or session.get(RiskRegister, enterprise.id) is not None:
            continue
        actor = _admin_actor(session, enterprise.id)
        if actor is None:
            continue
        register_rows = [RegisterRow(number, *row) for number, row in enumerate(rows, start=2)]
        service.import_register(session, actor, now, enterprise.id, register_rows, dry_run=False)
        written += len(rows)
    return written
