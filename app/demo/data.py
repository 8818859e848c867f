"""The demo district: 惠济区, its eight towns and streets, eight fully staffed enterprises
across industries and topics (the ~150 others are planned in district.py).

Names are fictitious. Everything is keyed by a natural key so seeding is idempotent.
"""

from __future__ import annotations

DISTRICT = "惠济区"
DEMO_PASSWORD = "anchademo"

# The demo's headline at any hour (app/demo/headline.py): a night-shift team whose 班组日排查
# is due at 23:59 local every day, so today's check is open whenever the demo is tried; its
# leader scans the team's department's point named here. Listed last among its enterprise's
# teams, so adding it changed nobody else's name.
HEADLINE = {
    "enterprise": "hengda",
    "department": "设备部",
    "team": "夜班巡检班",
    "site": "抛丸除尘器",
    "due_time": "23:59",
    "grace_minutes": 60,
}

# 惠济区's two towns and six street offices (镇/街道) with their 行政区划代码. The first three
# were the demo's from the start and keep their codes; to our knowledge the published list
# numbers the streets 刘寨 001, 老鸦陈 002, 长兴路 003, 迎宾路 004, 新城 005, 大河路 006, so
# 长兴路 (001 here since the first demo) and 刘寨 (003 here) have their numbers swapped. Newer
# lists also name a 江山路街道, carved out later; its code is not known to us, so it is left out.
TOWNS = [
    {"code": "410108001", "name": "长兴路街道"},
    {"code": "410108101", "name": "花园口镇"},
    {"code": "410108102", "name": "古荥镇"},
    {"code": "410108002", "name": "老鸦陈街道"},
    {"code": "410108003", "name": "刘寨街道"},
    {"code": "410108004", "name": "迎宾路街道"},
    {"code": "410108005", "name": "新城街道"},
    {"code": "410108006", "name": "大河路街道"},
]

# first17 of each code; the check digit is computed (GB 32100).
ENTERPRISES = [
    {
        "key": "hengda",
        "uscc17": "91410108MA4400001",
        "name": "郑州恒达铸造有限公司",
        "address": "惠济区长兴路街道开元路18号",
        "town": "410108001",
        "industry": "machinery",
        "scale": "above",
        "employee_count": 186,
        "main_processes": "中频炉熔炼、砂型造型、浇注、落砂清理、抛丸",
        "principal_name": "王建国",
        "principal_phone": "13803710001",
        "standardization_level": "level3",
        "standardization_date": "2024-06-18",
        "molten_metal": True,
        "dust_explosion": True,
        "dust_worker_count": 24,
        "three_simultaneous": "complete",
        "departments": {"熔炼车间": ["熔炼班", "浇注班"], "设备部": ["维修班", "夜班巡检班"]},
        "posts": [
            ("熔炼工", "熔炼车间", "高温熔融金属喷溅灼烫；炉体漏炉；冷却水进炉爆炸", "炉料、工具干燥预热；穿戴隔热服和面罩；炉前坑槽保持干燥无积水", "发生漏炉立即断电、撤离至安全区，启动应急排放；烫伤用冷水冲洗并送医"),
            ("浇注工", "熔炼车间", "铁水包倾翻；吊运区人员伤害；灼烫", "浇注前检查包体、耳轴和吊具；吊运路线下严禁站人", "铁水泄漏时迅速撤离，禁止用水扑救，报告班组长"),
            ("维修电工", "设备部", "触电；机械伤害；高处坠落", "停电检修上锁挂牌；持证上岗；登高系安全带", "触电立即断电，实施心肺复苏并拨打120"),
        ],
        "sites": [("熔炼车间炉前", "一号厂房", "熔炼车间"), ("浇注区", "一号厂房", "熔炼车间"), ("抛丸除尘器", "厂区东侧", "设备部")],
    },
    {
        "key": "jinsui",
        "uscc17": "91410108MA4400002",
        "name": "郑州金穗食品有限公司",
        "address": "惠济区长兴路街道天河路66号",
        "town": "410108001",
        "industry": "light_industry",
        "scale": "above",
        "employee_count": 240,
        "main_processes": "速冻食品加工：原料处理、成型、速冻、包装、冷藏",
        "principal_name": "李秀英",
        "principal_phone": "13803710002",
        "standardization_level": "level3",
        "standardization_date": "2023-11-02",
        "ammonia_refrigeration": True,
        "confined_space": True,
        "three_simultaneous": "complete",
        "departments": {"生产部": ["速冻班", "包装班"], "动力部": ["制冷班"]},
        "posts": [
            ("制冷工", "动力部", "液氨泄漏中毒、灼伤；压力容器爆炸", "持证上岗；按时巡检压力温度；氨浓度报警与事故排风联锁保持有效", "氨泄漏时佩戴正压式空气呼吸器处置，其他人向上风向撤离"),
            ("速冻工", "生产部", "低温冻伤；机械伤害；氨泄漏", "穿戴防寒服；速冻间人数不超过9人", "听到氨报警立即撤离速冻间，用湿毛巾捂住口鼻"),
            ("污水站操作工", "动力部", "有限空间硫化氢中毒、缺氧窒息；淹溺", "进入污水池前办理审批，先通风、再检测、后作业，专人监护", "发现有人晕倒严禁盲目施救，立即报警并佩戴呼吸器救援"),
        ],
        "sites": [("制冷机房", "动力中心", "动力部"), ("速冻车间", "二号厂房", "生产部"), ("污水处理站", "厂区北侧", "动力部")],
    },
    {
        "key": "xinlin",
        "uscc17": "91410108MA4400003",
        "name": "郑州鑫林木业有限公司",
        "address": "惠济区长兴路街道北三环辅道9号",
        "town": "410108001",
        "industry": "light_industry",
        "scale": "below",
        "employee_count": 58,
        "main_processes": "板材开料、砂光、封边、喷涂",
        "principal_name": "张伟",
        "principal_phone": "13803710003",
        "dust_explosion": True,
        "dust_worker_count": 36,
        "three_simultaneous": "in_progress",
        "departments": {"生产车间": ["砂光班", "喷涂班"]},
        "posts": [
            ("砂光工", "生产车间", "木粉尘爆炸；粉尘危害；机械伤害", "每班清扫积尘；确认除尘器运行和火花探测有效；佩戴防尘口罩", "发现火花或冒烟立即停机断电，使用灭火器扑救初期火灾"),
            ("喷涂工", "生产车间", "可燃气体爆炸；中毒", "喷漆室通风运行后作业；严禁明火；使用防爆工具", "发生泄漏立即停止作业、通风，人员撤离"),
        ],
        "sites": [("砂光线", "生产车间A区", "生产车间"), ("布袋除尘器", "车间外侧", "生产车间")],
    },
    {
        "key": "zhongyuan",
        "uscc17": "91410108MA4400004",
        "name": "郑州中原铝材有限公司",
        "address": "惠济区花园口镇铝业路1号",
        "town": "410108101",
        "industry": "nonferrous",
        "scale": "above",
        "employee_count": 320,
        "main_processes": "铝锭熔铸（深井铸造）、挤压、抛光、氧化",
        "principal_name": "赵志强",
        "principal_phone": "13803710004",
        "standardization_level": "level2",
        "standardization_date": "2022-09-15",
        "molten_metal": True,
        "dust_explosion": True,
        "metallurgical_gas": True,
        "dust_worker_count": 42,
        "three_simultaneous": "complete",
        "departments": {"熔铸车间": ["熔炼班", "铸造班"], "表面处理车间": ["抛光班"]},
        "posts": [
            ("铸造工", "熔铸车间", "铝液遇水爆炸；灼烫；冷却水系统失效", "铸造前确认冷却水压力流量报警和快速切断联锁；流槽干燥", "铝液泄漏立即启动紧急排放，人员撤离"),
            ("抛光工", "表面处理车间", "铝粉尘爆炸；遇湿自燃", "湿式除尘运行正常；积尘每班清理；防潮防水", "起火时用干沙覆盖，严禁用水"),
            ("燃气工", "熔铸车间", "天然气泄漏爆炸；一氧化碳中毒", "携带便携式报警仪；双人作业", "发现泄漏关闭总阀、通风、撤离并报告"),
        ],
        "sites": [("深井铸造机", "熔铸车间", "熔铸车间"), ("抛光除尘间", "表面处理车间", "表面处理车间"), ("燃气调压站", "厂区西侧", "熔铸车间")],
    },
    {
        "key": "yubei",
        "uscc17": "91410108MA4400005",
        "name": "郑州豫北特钢有限公司",
        "address": "惠济区花园口镇钢城大道99号",
        "town": "410108101",
        "industry": "metallurgy",
        "scale": "above",
        "employee_count": 860,
        "main_processes": "电弧炉炼钢、LF精炼、连铸、轧钢",
        "principal_name": "刘海军",
        "principal_phone": "13803710005",
        "standardization_level": "level3",
        "standardization_date": "2025-03-20",
        "metallurgical_gas": True,
        "molten_metal": True,
        "confined_space": True,
        "three_simultaneous": "complete",
        "departments": {"炼钢厂": ["电炉班", "连铸班"], "能源部": ["煤气班"]},
        "posts": [
            ("炼钢工", "炼钢厂", "钢水喷溅；水冷元件漏水爆炸；吊运伤害", "确认水冷元件出水温度和流量差报警联锁；吊运跨下严禁停留", "漏钢时启动事故钢水罐，人员沿安全通道撤离"),
            ("煤气防护员", "能源部", "煤气中毒；煤气爆炸", "佩戴便携式CO报警仪；检修前切断置换并检测", "中毒者移至上风向，呼叫煤气防护站"),
        ],
        "sites": [("电弧炉平台", "炼钢主厂房", "炼钢厂"), ("连铸机", "炼钢主厂房", "炼钢厂"), ("煤气加压站", "能源中心", "能源部")],
    },
    {
        "key": "lvyuan",
        "uscc17": "91410108MA4400006",
        "name": "郑州绿源纺织有限公司",
        "address": "惠济区花园口镇纺织园3号",
        "town": "410108101",
        "industry": "textile",
        "scale": "above",
        "employee_count": 410,
        "main_processes": "纺纱、织造、印染、热定型",
        "principal_name": "陈静",
        "principal_phone": "13803710006",
        "three_simultaneous": "missing",
        "credit_status": "watchlist",
        "departments": {"织造车间": ["织造一班"], "印染车间": ["定型班"]},
        "posts": [
            ("定型机操作工", "印染车间", "热媒炉火灾；烫伤", "热媒炉与生产区隔开；巡检导热油温度压力", "着火时切断热源，使用灭火器扑救并报警"),
            ("挡车工", "织造车间", "机械绞伤；噪声", "长发盘起，不戴手套操作；佩戴耳塞", "被卷入时立即按急停并呼救"),
        ],
        "sites": [("定型机", "印染车间", "印染车间"), ("织造车间", "三号厂房", "织造车间")],
    },
    {
        "key": "huimin",
        "uscc17": "91410108MA4400007",
        "name": "郑州惠民商贸物流有限公司",
        "address": "惠济区古荥镇物流园8号",
        "town": "410108102",
        "industry": "commerce",
        "scale": "below",
        "employee_count": 45,
        "main_processes": "粮油仓储、分拣配送",
        "principal_name": "孙丽",
        "principal_phone": "13803710007",
        "confined_space": True,
        "three_simultaneous": "not_applicable",
        "departments": {"仓储部": ["仓管班"]},
        "posts": [
            ("仓管员", "仓储部", "粮仓缺氧窒息；粮堆坍塌掩埋；叉车伤害", "进出粮按规程作业，严禁单人进仓；叉车限速", "有人被掩埋立即停止出粮并报警"),
        ],
        "sites": [("平房仓", "一号库", "仓储部"), ("装卸平台", "库区南侧", "仓储部")],
    },
    {
        "key": "huaxin",
        "uscc17": "91410108MA4400008",
        "name": "郑州华新建材有限公司",
        "address": "惠济区古荥镇建材路12号",
        "town": "410108102",
        "industry": "building_materials",
        "scale": "above",
        "employee_count": 150,
        "main_processes": "水泥粉磨、包装；煤磨",
        "principal_name": "周斌",
        "principal_phone": "13803710008",
        "standardization_level": "level3",
        "standardization_date": "2024-12-01",
        "confined_space": True,
        "dust_explosion": True,
        "dust_worker_count": 18,
        "three_simultaneous": "complete",
        "departments": {"制成车间": ["粉磨班", "包装班"]},
        "posts": [
            ("磨机操作工", "制成车间", "煤粉爆炸；进入磨机有限空间时意外启动", "煤磨收尘器温度和CO监测有效；进入磨机前断电上锁挂牌", "发现CO超标立即停磨、充惰性气体并报告"),
            ("清库工", "制成车间", "筒型储库坍塌掩埋；高处坠落", "清库方案审批；系安全带；专人监护", "有人被困立即停止作业并报警"),
        ],
        "sites": [("水泥磨", "制成车间", "制成车间"), ("水泥筒库", "库区", "制成车间"), ("煤磨收尘器", "煤磨房", "制成车间")],
    },
]

# Given names for generated people; family names rotate per enterprise.
FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["建华", "国强", "秀兰", "志明", "海燕", "立新", "春梅", "红军", "丽娟", "永刚", "晓东", "玉珍", "振宇", "淑芬", "德明", "桂英"]

BUREAU_USERS = [
    {"username": "admin", "display_name": "区安监局 管理员", "role": "bureau_admin", "towns": []},
    {"username": "staff_changxing", "display_name": "区安监局 长兴路网格员", "role": "bureau_staff", "towns": ["410108001"]},
    {"username": "staff_north", "display_name": "区安监局 北片网格员", "role": "bureau_staff", "towns": ["410108101", "410108102"]},
]

# 较大危险因素 of each demo post with its 管控措施 (岗位风险告知卡), by enterprise key and post
# name; wording after the 判定标准 of docs/DOMAIN.md §6.
POST_HAZARD_FACTORS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("hengda", "熔炼工"): [
        ("高温熔融金属喷溅、爆炸", "炉料和工具入炉前干燥预热，严禁潮湿炉料入炉；炉前安全坑及熔体泄漏喷溅范围内保持干燥，无积水和易燃易爆物；作业时穿戴隔热服、面罩。"),
        ("中频炉漏炉、冷却水进炉", "冷却水设温度、流量检测报警；每班检查炉衬侵蚀情况，炉衬减薄超限立即停炉修补；紧急排放和应急储存设施保持可用。"),
    ],
    ("hengda", "浇注工"): [
        ("铁水包吊运倾翻", "吊运铁水使用冶金起重机，每班检查龙门钩、耳轴、吊钩和钢丝绳；吊运影响范围内不设休息室、更衣室，吊运路线下严禁站人。"),
        ("铁水包耳轴断裂", "铁水包耳轴按国家标准定期探伤并存档记录；发现裂纹立即停用。"),
    ],
    ("hengda", "维修电工"): [
        ("检修时设备意外启动", "执行停电、验电、上锁挂牌，一人一锁；检修结束确认人员全部撤离后方可送电。"),
        ("抛丸除尘器粉尘爆炸", "除尘器检修前停机清灰；动火作业办理审批，清除积尘后方可动火；使用防爆工具。"),
    ],
    ("jinsui", "制冷工"): [
        ("液氨泄漏中毒、灼伤", "氨浓度报警与事故排风机联锁保持有效；每班巡检阀门、管道；正压式空气呼吸器、防化服定点存放且完好。"),
        ("压力容器、管道超压爆炸", "安全阀、压力表定期校验；严禁超压运行；按操作规程开停机。"),
    ],
    ("jinsui", "速冻工"): [
        ("速冻间氨泄漏", "速冻装置单设作业间，作业人数不超过9人；熟悉逃生路线，安全出口保持畅通。"),
    ],
    ("jinsui", "污水站操作工"): [
        ("有限空间硫化氢中毒、缺氧窒息", "执行有限空间作业审批，先通风、再检测、后作业；全程专人监护，配备气体检测仪和正压式空气呼吸器；严禁盲目施救。"),
    ],
    ("xinlin", "砂光工"): [
        ("木粉尘爆炸", "砂光机风管火花探测报警装置保持有效；除尘系统锁气卸灰装置完好；每班清扫积尘，严禁用压缩空气吹扫。"),
    ],
    ("xinlin", "喷涂工"): [
        ("漆雾、溶剂蒸气燃爆", "喷漆室通风与作业联锁；使用防爆电气；油漆、稀释剂按班用量领用，余料及时退库。"),
    ],
    ("zhongyuan", "铸造工"): [
        ("铝液遇水爆炸", "铸造井、流槽保持干燥；冷却水压力、流量低报警与快速切断阀联锁有效；紧急排放和应急储存设施保持可用。"),
        ("深井铸造引锭平台下降失控", "定期检查液压系统和钢丝绳；铸造时非作业人员撤离铸造井周边。"),
    ],
    ("zhongyuan", "抛光工"): [
        ("铝粉尘爆炸", "湿式除尘器水位、水流监测正常；积尘每班清理，铝泥防潮、通风存放；严禁明火。"),
    ],
    ("zhongyuan", "燃气工"): [
        ("天然气泄漏爆炸", "烧嘴设熄火保护和快速切断阀；作业时携带便携式报警仪；检修前切断、吹扫并检测合格。"),
    ],
    ("yubei", "炼钢工"): [
        ("水冷元件漏水引发爆炸", "氧枪等水冷元件出水温度、进出水流量差检测报警与炉体倾动、氧气开闭联锁；发现漏水立即停止吹炼。"),
        ("钢水罐吊运倾翻", "钢水罐耳轴定期探伤；使用固定式龙门钩铸造起重机，吊运影响范围内严禁人员停留。"),
    ],
    ("yubei", "煤气防护员"): [
        ("煤气中毒", "煤气区域作业携带便携式CO报警仪，双人作业；值班室等人员集中处设固定式CO监测报警。"),
    ],
    ("lvyuan", "定型机操作工"): [
        ("导热油泄漏火灾", "每班巡检导热油温度、压力及管路；定期清理烘房积聚的油污和纤维尘。"),
    ],
    ("lvyuan", "挡车工"): [
        ("机械绞伤", "设备防护罩完好；不戴手套操作转动部位；处理故障先停机。"),
    ],
    ("huimin", "仓管员"): [
        ("粮仓缺氧窒息", "进仓前通风并检测氧气和磷化氢浓度，办理审批，严禁单人进仓，专人监护。"),
        ("粮堆坍塌掩埋", "严禁在粮堆下方掏粮；出粮时人员不得进入仓内。"),
    ],
    ("huaxin", "磨机操作工"): [
        ("煤磨收尘器煤粉爆炸", "煤磨袋式收尘器温度和CO监测及气体灭火装置有效；CO超标立即停磨并充惰性气体。"),
        ("进入磨机时设备意外启动", "进入磨机、破碎机前断电上锁挂牌，采取防热气涌入的隔离措施，专人监护。"),
    ],
    ("huaxin", "清库工"): [
        ("筒型储库坍塌掩埋", "清库作业委托有高空作业资质的单位，作业前做风险分析并审批；系安全带，专人监护，严禁从库底掏料。"),
    ],
}
