"""The demo district at scale: 惠济区's eight towns and streets with some 150 工贸 enterprises
besides the eight fully staffed ones of data.py, planned by a seeded random generator.

Pure: `plan_district(today)` returns the same plan for the same seed and day (dates of
certificates count back from `today`, so the district stands near its 70 % target whenever
the demo is seeded). Names, people and codes are fictitious; the towns and their codes are
the district's (data.TOWNS); road names are the district's or plausible.

What the plan is shaped by:
- industries in fixed counts per town (machinery, light industry and building materials
  most; the industrial belts — 大河路 (大河工业园), 古荥, 老鸦陈 — carry the heavy ones);
- 规上 by industry (metallurgy mostly above, commerce mostly below): about 40 %;
- each town's share of 规上 enterprises with a valid standardization certificate, some above
  70 %, some well below, the district just short of it; the rest lapsed (certified 2021–23,
  three years run out) or never certified;
- habits (good, average, poor) that drive the generated history (history_district.py),
  worse where the certificate lapsed; credit watchlist / serious discredit among the poor;
- 15 % newly registered enterprises, mostly small, with no organisation and no history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from app.enterprises.domain import (
    CreditStatus,
    Industry,
    Scale,
    StandardizationLevel,
    ThreeSimultaneous,
    Topic,
)
from app.enterprises.schemas import uscc_check_digit, validate_uscc

SEED = 20261205
NEW_SHARE = 0.15  # newly registered: no organisation, no history yet

M, L, B, C, T, ME, N, TO = (
    Industry.MACHINERY,
    Industry.LIGHT_INDUSTRY,
    Industry.BUILDING_MATERIALS,
    Industry.COMMERCE,
    Industry.TEXTILE,
    Industry.METALLURGY,
    Industry.NONFERROUS,
    Industry.TOBACCO,
)


@dataclass(frozen=True)
class TownPlan:
    code: str
    name: str
    roads: tuple[str, ...]
    industries: dict[Industry, int]
    standardized_share: float  # of its 规上 enterprises, with a valid certificate
    centre: tuple[float, float]  # where its checkers' phones report they stand


TOWNS: tuple[TownPlan, ...] = (
    TownPlan("410108102", "古荥镇", ("古荥大道", "江山路", "索河路", "孙庄工业园路"),
             {M: 8, L: 6, B: 8, C: 3, T: 1, ME: 1, N: 2, TO: 1}, 0.80, (34.872, 113.520)),
    TownPlan("410108101", "花园口镇", ("花园口路", "金桥路", "八堡路", "南月堤路"),
             {M: 5, L: 8, B: 3, C: 4, T: 2, ME: 1, N: 1}, 0.72, (34.902, 113.672)),
    TownPlan("410108006", "大河路街道", ("大河路", "天河路", "大河工业园一路", "大河工业园二路"),
             {M: 12, L: 3, B: 5, C: 1, T: 1, ME: 2, N: 2}, 0.78, (34.858, 113.640)),
    TownPlan("410108002", "老鸦陈街道", ("兴隆铺路", "京广快速路辅道", "老鸦陈工业园路", "双桥路"),
             {M: 7, L: 4, B: 4, C: 2, T: 1, ME: 1, N: 1}, 0.55, (34.850, 113.600)),
    TownPlan("410108003", "刘寨街道", ("清华园路", "英才街", "刘寨路", "南阳路北段"),
             {M: 4, L: 4, B: 2, C: 2, T: 2, N: 1, TO: 1}, 0.50, (34.838, 113.615)),
    TownPlan("410108001", "长兴路街道", ("开元路", "天河路", "长兴路", "北三环辅道"),
             {M: 3, L: 4, B: 1, C: 2, T: 1, N: 1}, 0.75, (34.845, 113.640)),
    TownPlan("410108004", "迎宾路街道", ("迎宾路", "弓庄路", "北四环路", "江山路南段"),
             {M: 3, L: 3, B: 1, C: 3, T: 1, ME: 1}, 0.45, (34.860, 113.660)),
    TownPlan("410108005", "新城街道", ("新城路", "文化北路", "东风路北段", "北四环路"),
             {M: 2, L: 2, B: 2, C: 3, T: 1, N: 1, TO: 1}, 0.85, (34.870, 113.690)),
)

# Chance of 规模以上 by industry (the plan takes exactly the rounded share of each industry).
ABOVE_SHARE = {ME: 0.8, N: 0.6, B: 0.5, M: 0.4, T: 0.4, L: 0.35, C: 0.2, TO: 0.67}


@dataclass(frozen=True)
class Kind:
    """A kind of enterprise within an industry: what its name says, what it does, its
    special-risk topics, and its minimal organisation (one department, its teams, its
    points) — the history uses the first one or two teams and one to three points."""

    word: str
    processes: str
    topics: frozenset[Topic]
    department: str
    teams: tuple[str, str]
    sites: tuple[tuple[str, str], ...]


def _k(word: str, processes: str, topics: str, department: str, teams: str, sites: str) -> Kind:
    return Kind(
        word,
        processes,
        frozenset(Topic(t) for t in topics.split()),
        department,
        tuple(teams.split()),  # type: ignore[arg-type]
        tuple(tuple(s.split("@")) for s in sites.split()),  # type: ignore[misc]
    )


DUST, CS, NH3, GAS, MM = "dust_explosion", "confined_space", "ammonia_refrigeration", "metallurgical_gas", "molten_metal"

KINDS: dict[Industry, tuple[Kind, ...]] = {
    M: (
        _k("机械制造", "下料、机加工、焊接、涂装、装配", "", "生产车间", "机加班 焊装班",
           "机加工车间@一号厂房 焊接区@二号厂房 喷漆房@厂区东侧"),
        _k("铸造", "中频炉熔炼、砂型造型、浇注、落砂清理、抛丸", MM, "铸造车间", "熔炼班 造型班",
           "熔炼炉前@铸造车间 浇注区@铸造车间 抛丸除尘器@厂区北侧"),
        _k("起重设备", "钢板下料、焊接、组装、整机试车", "", "生产部", "结构班 装配班",
           "下料区@一号厂房 焊接工位@一号厂房 试车场@厂区西侧"),
        _k("阀门", "铸件机加工、组装、试压、喷涂", "", "生产部", "机加班 试压班",
           "机加工区@生产车间 试压台@生产车间 涂装线@二号厂房"),
        _k("汽车零部件", "冲压、焊接、铝件抛光、装配", DUST, "制造部", "冲压班 抛光班",
           "冲压线@一号厂房 抛光除尘间@二号厂房 成品库@库区"),
        _k("矿山机械", "下料、焊接、热处理、机加工、装配", "", "生产车间", "焊接班 热处理班",
           "焊接区@主厂房 热处理炉@主厂房 装配区@二号厂房"),
        _k("环保设备", "钣金加工、焊接、喷塑、组装", DUST, "生产部", "钣金班 喷塑班",
           "钣金车间@一号厂房 喷粉房@二号厂房 危废暂存间@厂区北侧"),
        _k("精密机械", "数控加工、磨削、热处理、检测", "", "加工车间", "数控班 磨削班",
           "数控加工区@精加工车间 热处理间@精加工车间 油品库@库区"),
    ),
    L: (
        _k("食品", "原料处理、和面、成型、蒸煮、包装", DUST, "生产车间", "成型班 包装班",
           "配料间@生产车间 蒸煮线@生产车间 原料库@库区"),
        _k("速冻食品", "原料处理、成型、速冻、包装、冷藏", f"{NH3} {CS}", "生产部", "速冻班 制冷班",
           "制冷机房@动力中心 速冻间@二号厂房 污水处理站@厂区北侧"),
        _k("木业", "板材开料、砂光、封边、喷涂", DUST, "生产车间", "砂光班 喷涂班",
           "砂光线@生产车间A区 布袋除尘器@车间外侧 喷漆房@生产车间B区"),
        _k("家具", "开料、封边、打孔、砂光、油漆、包装", DUST, "生产车间", "木工班 油漆班",
           "开料区@一号厂房 油漆房@二号厂房 除尘器@厂区东侧"),
        _k("包装", "瓦楞纸板生产、印刷、模切、糊箱", "", "生产部", "纸板班 印刷班",
           "瓦楞纸板线@一号厂房 印刷机@二号厂房 原纸库@库区"),
        _k("印务", "制版、胶印、覆膜、装订", "", "印刷车间", "印刷班 装订班",
           "胶印机@印刷车间 油墨间@印刷车间 成品库@库区"),
        _k("面业", "小麦清理、制粉、挂面生产、包装", f"{DUST} {CS}", "制粉车间", "制粉班 挂面班",
           "制粉楼@制粉车间 小麦筒仓@仓储区 挂面生产线@二号厂房"),
        _k("饮品", "水处理、调配、灌装、包装", CS, "生产部", "调配班 灌装班",
           "调配罐区@生产车间 灌装线@生产车间 污水池@厂区南侧"),
        _k("塑业", "注塑、吹膜、粉碎、包装", "", "生产车间", "注塑班 吹膜班",
           "注塑机区@一号厂房 破碎间@一号厂房 原料库@库区"),
        _k("饲料", "原料接收、粉碎、配料、制粒、包装", f"{DUST} {CS}", "生产部", "粉碎班 制粒班",
           "粉碎间@生产车间 原料筒仓@仓储区 制粒机@生产车间"),
    ),
    B: (
        _k("新型建材", "原料配料、搅拌、成型、蒸压养护", "", "生产车间", "成型班 蒸养班",
           "搅拌楼@生产车间 蒸压釜@养护区 成品堆场@厂区南侧"),
        _k("混凝土", "砂石上料、计量、搅拌、罐车运输", CS, "生产部", "搅拌班 机修班",
           "搅拌站@生产区 粉料罐@生产区 沉淀池@厂区西侧"),
        _k("耐火材料", "原料破碎、混练、压制成型、隧道窑烧成", "", "生产车间", "成型班 烧成班",
           "破碎间@原料车间 压机区@成型车间 隧道窑@烧成车间"),
        _k("石材", "荒料切割、磨抛、切边、包装", "", "加工车间", "切割班 磨抛班",
           "锯切区@加工车间 磨抛线@加工车间 吊装区@堆场"),
        _k("玻璃制品", "原片切割、磨边、钢化、中空合片", "", "生产车间", "切割班 钢化班",
           "切割台@一号厂房 钢化炉@二号厂房 原片库@库区"),
        _k("保温材料", "原料混合、发泡、熟化、切割", "", "生产部", "发泡班 切割班",
           "发泡线@生产车间 熟化库@库区 切割区@生产车间"),
        _k("水泥制品", "搅拌、离心成型、蒸汽养护", CS, "生产车间", "成型班 养护班",
           "搅拌机@生产车间 养护池@养护区 门式起重机@成品区"),
    ),
    C: (
        _k("冷链物流", "冷库仓储、分拣、冷链配送", f"{NH3} {CS}", "仓储部", "冷库班 配送班",
           "制冷机房@动力站 低温库@一号冷库 装卸月台@库区南侧"),
        _k("仓储物流", "货物仓储、分拣、装卸、配送", "", "仓储部", "仓管班 装卸班",
           "高架库@一号库 叉车充电区@一号库 装卸平台@库区南侧"),
        _k("粮油贸易", "粮食收购、仓储、烘干、销售", f"{CS} {DUST}", "仓储部", "保管班 烘干班",
           "平房仓@一号库 烘干塔@作业区 地磅房@大门"),
        _k("商贸", "建材、五金批发零售及仓储", "", "仓储部", "仓管班 配送班",
           "五金库@一号库 建材库@二号库 装卸区@库区"),
        _k("农产品物流", "果蔬冷藏、分拣、批发配送", NH3, "物流部", "冷藏班 分拣班",
           "冷藏库@库区 分拣大棚@作业区 制冷机房@动力站"),
    ),
    T: (
        _k("纺织", "清花、梳棉、并条、粗纱、细纱、络筒", DUST, "纺纱车间", "前纺班 细纱班",
           "清花间@纺纱车间 细纱车间@一号厂房 棉花库@库区"),
        _k("服饰", "裁剪、缝制、整烫、包装", "", "生产车间", "裁剪班 缝制班",
           "裁床@裁剪车间 缝制车间@二号厂房 成品库@库区"),
        _k("无纺布", "开松、梳理、针刺、热轧、分切", DUST, "生产部", "梳理班 分切班",
           "开松梳理线@一号厂房 热轧机@一号厂房 原料库@库区"),
    ),
    ME: (
        _k("特钢", "电弧炉炼钢、精炼、连铸、轧制", f"{MM} {GAS} {CS}", "炼钢车间", "电炉班 连铸班",
           "电炉平台@炼钢车间 连铸机@炼钢车间 煤气加压站@能源站"),
        _k("铸管", "冲天炉熔炼、离心浇铸、退火、喷锌涂衬", f"{MM} {GAS}", "铸管车间", "熔炼班 离心班",
           "冲天炉@熔炼区 离心机@铸管车间 煤气管网@厂区"),
        _k("冶金材料", "硅铁冶炼、破碎、筛分、包装", f"{MM} {GAS}", "冶炼车间", "冶炼班 精整班",
           "矿热炉@冶炼车间 出铁口@冶炼车间 煤气净化站@厂区北侧"),
    ),
    N: (
        _k("铝业", "铝锭熔铸、挤压、时效、表面处理", f"{MM} {DUST}", "熔铸车间", "熔铸班 挤压班",
           "熔铝炉@熔铸车间 铸造井@熔铸车间 抛光除尘间@表面处理车间"),
        _k("铜业", "电解铜熔炼、上引连铸、拉丝", MM, "熔铸车间", "熔炼班 拉丝班",
           "熔炼炉@熔铸车间 上引机组@熔铸车间 拉丝机@拉丝车间"),
        _k("合金材料", "再生铝熔炼、精炼、铸锭", f"{MM} {DUST}", "熔炼车间", "熔炼班 铸锭班",
           "熔炼炉@熔炼车间 铸锭机@熔炼车间 铝灰库@厂区东侧"),
    ),
    TO: (
        _k("烟草物流", "卷烟仓储、分拣、配送", "", "物流中心", "仓储班 分拣班",
           "卷烟库@物流中心 分拣线@物流中心 配送月台@物流中心"),
        _k("烟机配件", "零部件机加工、热处理、装配", "", "生产车间", "机加班 装配班",
           "机加工区@生产车间 热处理间@生产车间 成品库@库区"),
    ),
}

BRANDS = (
    "宏达 恒信 金鼎 华瑞 鑫源 中豫 黄河 嵩岳 豫丰 天诚 远航 盛世 新锐 博远 众合 瑞丰 汇通 东方 "
    "正大 永盛 福源 荣昌 泰和 昌盛 华兴 龙腾 星辰 宏远 德润 嘉禾 凯达 金诺 广源 长城 隆鑫 "
    "华通 豫龙 中恒 鼎盛 方圆 新宇 佳美 润泽 天元 金鹏 立信 银河 万通 安泰 百川 卓越 "
    "腾飞 恒泰 康达 明德 祥瑞 金盾 豫港 中科 华夏 天瑞 永达 新农 惠丰 鸿运 兴业 时代 "
    "大地 景泰 同力 聚源 金禾 豫建 中联 海诺 金桥 绿洲 森林 邙山 圃田 古城 花园"
).split()

FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = (
    "建国 志强 海燕 丽娟 永刚 晓东 玉珍 振宇 淑芬 德明 桂英 国庆 红梅 军伟 建军 秀云 新华 "
    "春生 文杰 俊峰 立军 爱华 明亮 学军 宏伟 金凤 利民 书勤 卫东 国栋 雪梅 占军 宝山 "
    "长江 亚楠 会娟 留柱 铁军 小燕 瑞霞 朝阳 晓峰 红霞 国伟 保国 梦娇 家乐 鹏飞 建平"
).split()
PHONE_PREFIXES = ("138", "139", "137", "136", "135", "158", "159", "186", "188", "155", "150", "177")

# History habits: shares of checks done on time / late / excused (the rest missed), hazards
# found per 100 days, and the share of general hazards still open past their deadline.
TIERS = {
    "good": (0.93, 0.04, 0.01, (2, 7), 0.01),
    "average": (0.80, 0.09, 0.01, (5, 12), 0.05),
    "poor": (0.56, 0.15, 0.02, (9, 20), 0.14),
}


@dataclass
class EnterprisePlan:
    """One planned enterprise: its file (一企一档) and what its history will look like."""

    uscc: str
    name: str
    address: str
    town_code: str
    industry: Industry
    scale: Scale
    employee_count: int
    main_processes: str
    principal_name: str
    principal_phone: str
    standardization_level: StandardizationLevel
    standardization_date: date | None
    topics: frozenset[Topic]
    dust_worker_count: int
    three_simultaneous: ThreeSimultaneous
    credit_status: CreditStatus
    # The history's habits (TIERS); None: newly registered, no organisation nor history.
    tier: str | None
    department: str = ""
    teams: tuple[str, ...] = ()
    sites: tuple[tuple[str, str], ...] = ()
    safety_officer: str = ""
    team_leaders: tuple[str, ...] = ()
    lapsed_days: int = 0  # the last days without any check done (a firm that stopped)
    centre: tuple[float, float] = (34.86, 113.62)

    def enterprise_fields(self, town_id: int) -> dict[str, object]:
        """The columns of its `enterprises` row."""
        row: dict[str, object] = {
            "uscc": self.uscc,
            "name": self.name,
            "address": self.address,
            "town_id": town_id,
            "industry": self.industry,
            "scale": self.scale,
            "employee_count": self.employee_count,
            "main_processes": self.main_processes,
            "principal_name": self.principal_name,
            "principal_phone": self.principal_phone,
            "standardization_level": self.standardization_level,
            "standardization_date": self.standardization_date,
            "dust_worker_count": self.dust_worker_count,
            "three_simultaneous": self.three_simultaneous,
            "credit_status": self.credit_status,
        }
        for topic in Topic:
            row[topic.value] = topic in self.topics
        return row


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _uscc(rng: random.Random, taken: set[str], new_style: bool) -> str:
    """A valid code of 惠济区 (410108): an enterprise (91), then a 9-character organisation
    code — "MA…" for those registered since 2015, digits for older ones — and the GB 32100
    check digit."""
    while True:
        if new_style:
            body = "MA" + "".join(rng.choice(_USCC_CHARS[:10] + "ABCDEFGH") for _ in range(7))
        else:
            body = "".join(rng.choice("0123456789") for _ in range(9))
        first17 = "91410108" + body
        code = first17 + uscc_check_digit(first17)
        if code not in taken:
            taken.add(code)
            return validate_uscc(code)


def _person(rng: random.Random) -> str:
    return rng.choice(FAMILY) + rng.choice(GIVEN)


def _phone(rng: random.Random) -> str:
    return rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _certificate(rng: random.Random, today: date, state: str) -> tuple[StandardizationLevel, date | None]:
    """A level and a date for `state`: valid (some expiring within two months), lapsed
    (three years run out), or none."""
    if state == "none":
        return StandardizationLevel.NONE, None
    level = rng.choices(
        (StandardizationLevel.LEVEL3, StandardizationLevel.LEVEL2, StandardizationLevel.LEVEL1), (80, 17, 3)
    )[0]
    if state == "valid":
        days = rng.randrange(1045, 1090) if rng.random() < 0.15 else rng.randrange(20, 1040)
    else:  # lapsed: certified between three and six years ago
        days = rng.randrange(3 * 365 + 5, 6 * 365 - 10)
    return level, today - timedelta(days=days)


def plan_district(today: date, seed: int = SEED) -> list[EnterprisePlan]:
    """The planned enterprises, town by town, in a fixed order. Deterministic for (today,
    seed): only certificate dates depend on `today`."""
    rng = random.Random(seed)
    taken: set[str] = set()
    names: set[str] = set()
    plans: list[EnterprisePlan] = []
    for town in TOWNS:
        slots = [industry for industry, n in town.industries.items() for _ in range(n)]
        rng.shuffle(slots)
        # 规上: the rounded share of each industry within the town.
        above_flags: list[bool] = [False] * len(slots)
        for industry in town.industries:
            positions = [i for i, s in enumerate(slots) if s is industry]
            for i in positions[: round(ABOVE_SHARE[industry] * len(positions) + rng.uniform(-0.3, 0.3))]:
                above_flags[i] = True
        above_positions = [i for i, flag in enumerate(above_flags) if flag]
        rng.shuffle(above_positions)
        valid_count = round(town.standardized_share * len(above_positions))
        states: dict[int, str] = {}
        for n, i in enumerate(above_positions):
            states[i] = "valid" if n < valid_count else ("lapsed" if rng.random() < 0.6 else "none")
        for i, industry in enumerate(slots):
            kind = rng.choice(KINDS[industry])
            above = above_flags[i]
            state = states.get(i) or ("valid" if rng.random() < 0.12 else ("lapsed" if rng.random() < 0.08 else "none"))
            level, certified = _certificate(rng, today, state)
            for _ in range(50):
                brand = rng.choice(BRANDS)
                suffix = "股份有限公司" if above and rng.random() < 0.12 else "有限公司"
                name = f"郑州{brand}{kind.word}{suffix}"
                if name not in names:
                    break
            else:  # pragma: no cover - the brand list is far longer than any town's share
                raise RuntimeError("ran out of enterprise names")
            names.add(name)
            if industry is ME:
                employees = rng.randrange(180, 900)
            elif above:
                employees = rng.randrange(60, 480)
            else:
                employees = rng.randrange(8, 70)
            topics = kind.topics
            dust_workers = max(2, min(employees * 3 // 5, rng.randrange(4, 45))) if Topic.DUST_EXPLOSION in topics else 0
            if industry is C:
                three = ThreeSimultaneous.NOT_APPLICABLE
            else:
                three = rng.choices(
                    (ThreeSimultaneous.COMPLETE, ThreeSimultaneous.IN_PROGRESS, ThreeSimultaneous.MISSING,
                     ThreeSimultaneous.NOT_APPLICABLE),
                    (70, 12, 8, 10) if above else (40, 15, 20, 25),
                )[0]
            if state == "valid":
                tier = rng.choices(("good", "average", "poor"), (50, 40, 10))[0]
            else:
                tier = rng.choices(("good", "average", "poor"), (22, 45, 33))[0]
            credit = CreditStatus.NORMAL
            if tier == "poor" and rng.random() < 0.18:
                credit = CreditStatus.WATCHLIST
            road = rng.choice(town.roads)
            teams = kind.teams[: 2 if employees >= 40 else 1]
            sites = kind.sites[: 1 + min(2, employees // 30)]
            plan = EnterprisePlan(
                uscc=_uscc(rng, taken, new_style=rng.random() < 0.55),
                name=name,
                address=f"惠济区{town.name}{road}{rng.randrange(1, 300)}号",
                town_code=town.code,
                industry=industry,
                scale=Scale.ABOVE if above else Scale.BELOW,
                employee_count=employees,
                main_processes=kind.processes,
                principal_name=_person(rng),
                principal_phone=_phone(rng),
                standardization_level=level,
                standardization_date=certified,
                topics=topics,
                dust_worker_count=dust_workers,
                three_simultaneous=three,
                credit_status=credit,
                tier=tier,
                centre=town.centre,
            )
            plan.department = kind.department
            plan.teams = teams
            plan.sites = sites
            plan.safety_officer = _person(rng)
            plan.team_leaders = tuple(_person(rng) for _ in teams)
            if tier == "poor" and rng.random() < 0.35:
                plan.lapsed_days = rng.randrange(8, 20)
            plans.append(plan)
    # Newly registered (15 %), mostly small ones: registered with the bureau, nothing set up
    # yet — no organisation, no checks, no hazards; registered since 2015, so "MA…" codes.
    small = [p for p in plans if p.scale is Scale.BELOW]
    large = [p for p in plans if p.scale is Scale.ABOVE]
    rng.shuffle(small)
    rng.shuffle(large)
    wanted = round(NEW_SHARE * len(plans))
    for plan in small[: wanted - wanted // 5] + large[: wanted // 5]:
        plan.tier = None
        plan.department, plan.teams, plan.sites, plan.safety_officer, plan.team_leaders = "", (), (), "", ()
        plan.lapsed_days = 0
        plan.credit_status = CreditStatus.NORMAL
        taken.discard(plan.uscc)
        plan.uscc = _uscc(rng, taken, new_style=True)
    # Two enterprises on the serious-discredit list (严重失信): the poorest with a lapse.
    lapsed = [p for p in plans if p.lapsed_days]
    for plan in sorted(lapsed, key=lambda p: (-p.lapsed_days, p.uscc))[:2]:
        plan.credit_status = CreditStatus.SERIOUS_DISCREDIT
    return plans
