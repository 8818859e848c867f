"""Words for the demo's history: what checkers find, what 随手拍 reports, how hazards are
rejected and verified, and the three major hazards with their 五到位 plans.

Fictitious, but written the way enterprises in the district write them.
"""

from __future__ import annotations

# What a checker writes when a checklist item (on_fail: general) does not hold, by item code.
FINDINGS: dict[str, tuple[str, ...]] = {
    "GEN-01": ("东侧安全出口被成品托盘堵塞", "疏散通道堆放包装材料，通道宽度不足1米", "北侧安全出口门被锁闭"),
    "GEN-02": ("配电房门口灭火器压力表指针在红区", "车间2具灭火器已过检验期", "消火栓箱被杂物遮挡，无法正常开启"),
    "GEN-03": ("原料堆垛超高约2.5米，底层包装破损有倾倒风险", "作业区地面油污未清理，易滑倒", "边角料随意堆放在通道上"),
    "GEN-04": ("皮带输送机尾轮防护罩缺失", "砂轮机防护罩松动，托架间隙过大", "风机联轴器防护罩被拆下未复装"),
    "GEN-06": ("车间配电箱门未关闭，箱内电线私拉乱接", "临时用电线缆拖地未架空，绝缘层破损", "插座箱漏电保护器试验按钮失灵"),
    "GEN-07": ("两名员工打磨作业时未佩戴防护眼镜", "高噪声岗位员工未佩戴耳塞", "登高作业人员未系安全带"),
    "GEN-08": ("叉车司机作业时使用手机", "员工跨越运行中的输送带", "维修时未停机直接清理卡料"),
    "GEN-11": ("维修班在车间内动火作业未办理动火审批", "吊装作业未设警戒区，吊物下方有人通行"),
    "GEN-14": ("有限空间入口警示牌脱落", "配电室门口缺少“有电危险”警示标志"),
    "GEN-20": ("隐患台账上周3条隐患未填写整改结果",),
    "GEN-23": ("急救箱内药品过期，纱布用完未补充", "应急柜空气呼吸器气瓶压力不足"),
    "DUST-12": ("除尘器压差报警后仍继续打磨作业",),
    "DUST-13": ("砂光机接地线松脱", "涉粉区域发现员工使用非防爆手电"),
    "DUST-14": ("涉粉岗位员工未穿防静电工作服",),
    "CS-12": ("污水池清淤作业的作业条件确认单缺少监护人签认",),
    "NH3-08": ("机房巡检记录漏记两次，油分离器有轻微渗油",),
    "GAS-07": ("煤气区域巡检单人作业，未携带CO报警仪",),
    "GAS-08": ("煤气管道检修后未做置换检测记录",),
    "MM-10": ("浇注用工具未预热即插入铁水包", "炉前作业人员未穿隔热服"),
}

# 随手拍: what anyone reports on the spot (description, category).
ADHOC: tuple[tuple[str, str], ...] = (
    ("楼梯扶手松动，上下楼有坠落风险", "unsafe_condition"),
    ("消防通道内停放电动车并在充电", "unsafe_behavior"),
    ("气瓶未固定，缺少防倾倒链", "unsafe_condition"),
    ("洗眼器无水，无法使用", "unsafe_condition"),
    ("应急照明灯不亮", "unsafe_condition"),
    ("外来施工人员未佩戴安全帽进入车间", "unsafe_behavior"),
    ("车间窗户玻璃破损，边缘锋利", "unsafe_condition"),
    ("电缆桥架盖板缺失，电缆裸露", "unsafe_condition"),
    ("仓库货架超载，横梁明显变形", "unsafe_condition"),
    ("员工在禁烟区吸烟", "unsafe_behavior"),
    ("班前会未开展安全交底，记录空白", "management_defect"),
    ("新入职员工未经三级安全教育即上岗", "management_defect"),
)

REJECT_REASONS = (
    "经现场核实为正常工况，不构成隐患",
    "与已登记隐患重复，按原隐患跟踪整改",
    "该设备已停用封存，不属于在用设备隐患",
)
VERIFY_NOTES = ("现场复查已整改到位，同意销号", "整改照片与现场一致，同意销号", "")
REOPEN_NOTES = ("整改不彻底，防护罩固定螺栓缺失，请重新整改", "现场仍有杂物堆放，请彻底清理后再提交")
FIX_NOTES = ("已整改完毕，请复查", "已更换并固定，附整改后照片", "已清理并安排专人每班检查")

# The three major hazards of the history: one accepted (销号) long ago, one under the
# bureau's supervision, one being rectified under supervision.
MAJORS = {
    "closed": {
        "enterprise": "zhongyuan",
        "site": "燃气调压站",
        "days_ago": 52,
        "description": "熔炼炉燃烧系统未设燃气压力监测报警与紧急切断联锁，熄火保护装置失效",
        "criteria": "M23-YS-12",
        "assessor": "区应急管理局工贸科、有色金属行业专家刘工",
        "opinion": "对照《工贸企业重大事故隐患判定标准》第五条第（十二）项，认定为重大事故隐患。",
        "plan": {
            "measures": "加装燃气总管压力监测报警及与燃烧器的紧急切断联锁；更换熄火保护装置；整改期间熔炼炉降负荷运行，专人值守。",
            "owner_org": "熔铸车间、设备动力科",
            "fund_amount": "186000",
            "fund_source": "企业安全生产费用",
            "contingency": "整改期间燃气区域设警戒区，配备便携式可燃气体检测仪和空气呼吸器；发现泄漏立即切断总阀、停炉撤人，启动燃气泄漏专项预案。",
            "days": 30,
            "milestones": (("采购联锁装置及熄火保护器", 10), ("安装调试", 22), ("联动测试并验收", 28)),
        },
        "supervisor": "staff_north",
        "acceptor": "区应急管理局、有色金属行业专家组",
        "acceptance": "联锁装置安装调试合格，联动测试三次均可靠切断，同意验收销号。",
    },
    "supervising": {
        "enterprise": "xinlin",
        "site": "布袋除尘器",
        "days_ago": 26,
        "description": "砂光线除尘风管未设火花探测及消除装置，布袋除尘器无泄爆措施",
        "criteria": "M23-FC-8",
        "assessor": "区应急管理局工贸科、粉尘防爆专家陈工",
        "opinion": "木粉尘砂光作业风管无火花探测消除装置，符合判定标准第十一条第（八）项情形，认定为重大事故隐患。",
        "plan": {
            "measures": "砂光机吸尘风管加装火花探测及自动喷淋消除装置；布袋除尘器加装泄爆片并导向安全区域；整改完成前砂光线停产。",
            "owner_org": "生产车间",
            "fund_amount": "128000",
            "fund_source": "企业自筹",
            "contingency": "砂光线停产，现场每班清扫积尘；除尘器周边禁止明火和人员停留；配备灭火器材，制定粉尘爆炸现场处置方案并演练。",
            "days": 60,
            "milestones": (("设计方案评审", 10), ("设备采购到货", 30), ("安装调试", 50), ("试运行并申请验收", 58)),
        },
        "supervisor": "staff_changxing",
    },
    "rectifying": {
        "enterprise": "jinsui",
        "site": "速冻车间",
        "days_ago": 19,
        "description": "速冻装置未设在单独作业间，速冻间作业人员经常超过9人",
        "criteria": "M23-AN-2",
        "assessor": "区应急管理局工贸科、制冷行业专家赵工",
        "opinion": "符合判定标准第十二条（速冻装置未单设作业间或作业间人数超过9人）情形，认定为重大事故隐患。",
        "plan": {
            "measures": "增设隔墙将速冻装置单独设置作业间；调整排班，速冻间作业人员控制在6人以内并设人数核查；加装氨气浓度报警与事故排风联锁。",
            "owner_org": "生产部、动力部",
            "fund_amount": "265000",
            "fund_source": "企业安全生产费用",
            "contingency": "整改期间速冻间限员6人并实行出入登记；每班检测氨浓度；配备正压式空气呼吸器，氨泄漏时人员向上风向撤离。",
            "days": 45,
            "milestones": (("限员及出入登记落实", 3), ("隔墙施工", 25), ("报警联锁调试", 38), ("验收", 44)),
        },
        "supervisor": "staff_changxing",
    },
}
