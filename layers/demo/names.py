"""Chinese names of the demo district: sub-districts, communities, roads, rivers, heritage and facilities."""

from __future__ import annotations

import numpy as np

from layers.district import DISTRICT

# code, name, seed lon, lat, number of communities (sums to 111)
SUBDISTRICTS: list[tuple[str, str, float, float, int]] = [
    ("pinghu", "平湖街道", 114.125, 22.700, 12),
    ("bantian", "坂田街道", 114.072, 22.638, 13),
    ("buji", "布吉街道", 114.118, 22.605, 12),
    ("nanwan", "南湾街道", 114.160, 22.603, 11),
    ("jihua", "吉华街道", 114.110, 22.648, 9),
    ("henggang", "横岗街道", 114.205, 22.648, 9),
    ("yuanshan", "园山街道", 114.185, 22.690, 8),
    ("longcheng", "龙城街道", 114.240, 22.727, 12),
    ("longgang", "龙岗街道", 114.282, 22.735, 9),
    ("baolong", "宝龙街道", 114.310, 22.700, 7),
    ("pingdi", "坪地街道", 114.325, 22.775, 9),
]
SUBDISTRICT_CODES = [s[0] for s in SUBDISTRICTS]
SUBDISTRICT_ADMIN = {code: f"{DISTRICT.code}{i + 1:03d}" for i, code in enumerate(SUBDISTRICT_CODES)}

COMMUNITIES: dict[str, list[str]] = {
    "pinghu": "平湖 山厦 良安田 白坭坑 新南 鹅公岭 辅城坳 凤凰 力昌 新木 上木古 禾花".split(),
    "bantian": "坂田 岗头 马安堂 五和 大发埔 杨美 象角塘 南坑 四季花城 天安 新雪 万科城 黄君山".split(),
    "buji": "布吉 罗岗 百鸽笼 德兴 大芬 水径 长龙 茂业 龙珠 布吉圩 国展 景芬".split(),
    "nanwan": "南岭村 沙塘布 樟树布 厦村 丹竹头 南湾 吉厦 宝岭 上李朗 下李朗 康乐".split(),
    "jihua": "吉华 甘坪 三联 甘李 光华 上水径 翠湖 丽湖 中海".split(),
    "henggang": "横岗 保安 六约 四联 西坑 松柏 华侨新村 茂盛 志盛".split(),
    "yuanshan": "园山 大康 安良 荷坳 银荷 简龙 塘坑 沙荷".split(),
    "longcheng": "龙城 回龙埔 五联 爱联 黄阁坑 龙西 盛平 嶂背 尚景 紫薇 吉祥 愉园".split(),
    "longgang": "龙岗 南联 新生 龙东 南约 同心 平南 龙新 瓦窑坑".split(),
    "baolong": "宝龙 同乐 宝龙新村 清林 沙背坜 高新 宝岭山".split(),
    "pingdi": "坪地 年丰 六联 坪西 中心 坪东 怡心 高桥 四方埔".split(),
}

# (hanzi, pinyin) syllables used to coin road, place and estate names.
SYLLABLES: list[tuple[str, str]] = [
    ("龙", "long"),
    ("翔", "xiang"),
    ("清", "qing"),
    ("林", "lin"),
    ("黄", "huang"),
    ("阁", "ge"),
    ("盛", "sheng"),
    ("平", "ping"),
    ("吉", "ji"),
    ("祥", "xiang"),
    ("宝", "bao"),
    ("荷", "he"),
    ("爱", "ai"),
    ("南", "nan"),
    ("新", "xin"),
    ("怡", "yi"),
    ("丹", "dan"),
    ("竹", "zhu"),
    ("松", "song"),
    ("柏", "bai"),
    ("坪", "ping"),
    ("岗", "gang"),
    ("华", "hua"),
    ("富", "fu"),
    ("宏", "hong"),
    ("德", "de"),
    ("兴", "xing"),
    ("和", "he"),
    ("安", "an"),
    ("康", "kang"),
    ("嘉", "jia"),
    ("湖", "hu"),
    ("山", "shan"),
    ("景", "jing"),
    ("锦", "jin"),
    ("绣", "xiu"),
    ("紫", "zi"),
    ("薇", "wei"),
    ("东", "dong"),
    ("西", "xi"),
    ("环", "huan"),
    ("深", "shen"),
    ("惠", "hui"),
    ("碧", "bi"),
    ("桂", "gui"),
    ("园", "yuan"),
    ("同", "tong"),
    ("乐", "le"),
    ("联", "lian"),
    ("源", "yuan"),
    ("泰", "tai"),
    ("科", "ke"),
    ("技", "ji"),
    ("创", "chuang"),
]

ROAD_SUFFIX = {"expressway": "高速", "arterial": "大道", "secondary": "路", "branch": "街"}

RIVERS_MAIN = ["龙岗河", "坪山河", "观澜河", "布吉河", "丁山河", "大康河", "黄沙河", "梧桐山河"]
RIVERS_TRIB = (
    "南约河 爱联河 回龙河 同乐河 田坑水 龙西河 水官河 西坑河 塘坑河 简龙河 花园河 "
    "沙背坜河 四联河 六约河 鹅公岭河 白泥坑水 山厦河 甘坑河 水径河 李朗河 茂盛河 长坑水 坪西河"
).split()

RESERVOIR_INFO = {
    # name: (size class, capacity 10^4 m³, water supply)
    "清林径水库": ("large", 18500.0, True),
    "炳坑水库": ("small1", 320.0, True),
    "龙口水库": ("small1", 480.0, True),
    "三棵松水库": ("small1", 260.0, False),
    "铜锣径水库": ("medium", 1250.0, True),
    "雁田水库": ("medium", 2500.0, True),
    "黄龙湖水库": ("small1", 350.0, False),
}

# Hakka walled villages and other relics: (name, lon, lat, grade, era)
HERITAGE: list[tuple[str, float, float, str, str]] = [
    ("鹤湖新居", 114.2735, 22.7262, "provincial", "清嘉庆"),
    ("龙田世居", 114.2585, 22.7405, "municipal", "清道光"),
    ("璇庆新居", 114.2790, 22.7170, "municipal", "清乾隆"),
    ("田丰世居", 114.3190, 22.7740, "district", "清同治"),
    ("新乔世居", 114.3350, 22.7600, "municipal", "清乾隆"),
    ("正埔岭围屋", 114.2240, 22.7130, "district", "清"),
    ("茂盛世居", 114.1970, 22.6530, "municipal", "清乾隆"),
    ("梅冈世居", 114.2150, 22.7200, "district", "清"),
    ("西埔新居", 114.3050, 22.7820, "district", "清嘉庆"),
    ("吉坑世居", 114.3400, 22.7880, "registered", "清"),
    ("洪围", 114.2440, 22.7050, "registered", "清"),
    ("南联刘氏宗祠", 114.2630, 22.7180, "municipal", "明"),
]

# The five industrial-park service platforms of the case: (name, service_platform, lon, lat, type, operator)
PARKS: list[tuple[str, str, float, float, str, str]] = [
    ("天安云谷", "tianan_cloud", 114.0680, 22.6420, "tech", "天安云谷产业园开发有限公司"),
    ("大运软件小镇", "dayun_software", 114.2330, 22.7060, "software", "深圳市大运软件小镇开发有限公司"),
    ("宝龙园区", "baolong", 114.3050, 22.7070, "industrial", "深圳市宝龙工业城管理有限公司"),
    ("中海信创新产业城", "zhonghaixin", 114.1380, 22.6230, "tech", "中海信科技开发(深圳)有限公司"),
    ("天安数码城", "tianan_cyber", 114.2650, 22.7200, "hq", "深圳天安骏业投资发展有限公司"),
]

METRO_LINES: list[tuple[str, str, list[tuple[float, float]]]] = [
    (
        "3号线",
        "operating",
        [
            (114.090, 22.595),
            (114.125, 22.608),
            (114.180, 22.640),
            (114.222, 22.700),
            (114.255, 22.728),
            (114.300, 22.742),
        ],
    ),
    (
        "14号线",
        "under_construction",
        [
            (114.080, 22.580),
            (114.150, 22.615),
            (114.230, 22.690),
            (114.262, 22.722),
            (114.310, 22.750),
            (114.360, 22.785),
        ],
    ),
    (
        "16号线",
        "under_construction",
        [(114.215, 22.745), (114.245, 22.731), (114.262, 22.712), (114.300, 22.700), (114.345, 22.690)],
    ),
    ("10号线", "operating", [(114.062, 22.600), (114.075, 22.640), (114.105, 22.690), (114.128, 22.730)]),
    ("5号线", "operating", [(114.050, 22.610), (114.090, 22.612), (114.118, 22.600)]),
]

EXPRESSWAYS: list[tuple[str, list[tuple[float, float]]]] = [
    (
        "水官高速",
        [(114.050, 22.598), (114.120, 22.620), (114.190, 22.655), (114.240, 22.700), (114.400, 22.748)],
    ),
    (
        "机荷高速",
        [(114.050, 22.692), (114.150, 22.706), (114.226, 22.735), (114.270, 22.752), (114.400, 22.800)],
    ),
    (
        "深惠高速",
        [
            (114.120, 22.560),
            (114.175, 22.640),
            (114.228, 22.712),
            (114.262, 22.740),
            (114.330, 22.740),
            (114.400, 22.720),
        ],
    ),
    (
        "外环高速",
        [(114.060, 22.740), (114.200, 22.760), (114.236, 22.742), (114.300, 22.720), (114.400, 22.690)],
    ),
    ("清平高速", [(114.105, 22.560), (114.110, 22.650), (114.125, 22.820)]),
]

RIDGES_NAMES = ["梧桐山", "清林径", "大运", "园山", "马峦山", "黄竹坑", "排牙山", "银湖山"]
SPECIES = ["马尾松", "台湾相思", "桉树", "荷木", "黧蒴", "鸭脚木", "尾叶桉", "毛竹", "荔枝", "龙眼"]
TREE_SPECIES = ["榕树", "樟树", "荔枝", "龙眼", "木棉", "秋枫", "朴树", "杧果", "格木", "水翁"]


def coin(rng: np.random.Generator, n: int, length: int = 2) -> tuple[list[str], list[str]]:
    """Coin n names from the syllable pool; return (hanzi, pinyin) lists."""
    idx = rng.integers(0, len(SYLLABLES), size=(n, length))
    hanzi = ["".join(SYLLABLES[i][0] for i in row) for row in idx]
    pinyin = [" ".join(SYLLABLES[i][1] for i in row).title().replace(" ", "") for row in idx]
    return hanzi, pinyin


def numbered(prefix: str, n: int, start: int = 1, width: int = 5) -> list[str]:
    """Return codes like ``prefix00001``."""
    return [f"{prefix}{i:0{width}d}" for i in range(start, start + n)]
