"""Approval items carry an English name (``name_en``) and an English reason (``reason_en``).

Items copy their names when they are created (from the project type's template or the rule set's approval
items), so existing items get theirs here: by their Chinese name, else by their item code, from the names
below (frozen as they were when this migration was written), else their Chinese name.

Revision ID: 0009_item_english_names
Revises: 0008_provisional_calendar
Create Date: 2026-12-01
"""

from alembic import op
from sqlalchemy import text

revision = "0009_item_english_names"
down_revision = "0008_provisional_calendar"
branch_labels = None
depends_on = None

# (item code, Chinese name, English name) of every template item and rule-set approval item.
ITEM_NAMES = [
    ("ancient_tree_plan", "古树名木保护（避让或移植）方案审批", "Ancient-tree protection plan approval"),
    ("archaeology_survey", "考古调查勘探", "Archaeological survey"),
    ("clearance_review", "机场净空审核", "Airport clearance review"),
    ("completion_filing", "竣工验收备案", "Completion acceptance filing"),
    ("construction_permit", "施工许可证", "Construction permit"),
    ("drawing_review", "施工图审查", "Construction drawing review"),
    (
        "eco_line_adjustment",
        "基本生态控制线调整（市政府批准，占补平衡）",
        "Eco control line adjustment (city approval, area swap)",
    ),
    ("energy_review", "节能审查", "Energy-saving review"),
    ("engineering_planning_permit", "建设工程规划许可证", "Construction project planning permit"),
    ("environmental_impact", "环境影响评价文件审批", "Environmental impact assessment approval"),
    ("farmland_offset", "耕地占补平衡及农用地转用审批", "Farmland offset and conversion approval"),
    (
        "farmland_supplement",
        "永久基本农田补划方案及自然资源部用地预审",
        "Basic-farmland replacement plan and ministry pre-review",
    ),
    ("feasibility_study", "可行性研究报告批复", "Feasibility study report approval"),
    ("flood_assessment", "洪水影响评价审批", "Flood impact assessment approval"),
    ("forest_use_permit", "使用林地审核同意书", "Forest-land use approval"),
    ("gas_consent", "燃气设施保护范围内施工安全保护方案（燃气集团同意）", "Gas-facility protection consent"),
    ("geo_hazard_assessment", "地质灾害危险性评估", "Geological hazard risk assessment"),
    ("green_line_consent", "城市绿线内建设审查（绿线调整）", "Green-line review"),
    ("hazmat_safety_review", "安全防护距离论证及安全评价", "Hazardous-facility safety-distance review"),
    ("heritage_impact", "文物影响评估及文物部门意见（紫线）", "Heritage impact assessment"),
    ("house_expropriation", "房屋征收与补偿（征拆）", "Building expropriation and compensation"),
    ("industrial_block_adjustment", "工业区块线调整", "Industrial block line adjustment"),
    ("joint_acceptance", "联合验收", "Joint completion acceptance"),
    ("land_expropriation", "集体土地征收", "Collective land expropriation"),
    ("land_planning_permit", "建设用地规划许可证", "Construction land-use planning permit"),
    ("land_pre_review", "用地预审与选址意见书", "Land-use pre-review and site selection opinion"),
    ("land_recovery", "收回国有土地使用权", "Recovery of state land-use rights"),
    (
        "land_use_plan_adjustment",
        "国土空间规划（土地利用总体规划）调整",
        "Territorial / land-use master plan adjustment",
    ),
    (
        "metro_safety_consent",
        "轨道交通保护区内作业方案审查（地铁集团同意）",
        "Metro protection-zone works consent",
    ),
    ("mineral_overlay", "压覆矿产资源审查", "Mineral overlay review"),
    ("pipeline_consent", "油气管道保护范围内施工作业许可", "Oil and gas pipeline works permit"),
    ("plan_adjustment", "法定图则调整", "Statutory plan adjustment"),
    ("power_consent", "电力设施保护区内施工作业（供电局同意）", "Power-line protection-zone consent"),
    ("preliminary_design", "初步设计及概算批复", "Preliminary design and budget estimate approval"),
    ("project_proposal", "项目建议书批复", "Project proposal approval"),
    ("protected_area_consent", "自然保护地内建设项目审查意见", "Protected-area construction consent"),
    ("railway_safety_consent", "铁路线路安全保护区内施工安全审查", "Railway protection-zone works consent"),
    ("renewal_coordination", "城市更新单元规划协调意见", "Urban renewal unit coordination"),
    ("river_works_consent", "河道管理范围内建设项目工程建设方案审批", "River-zone works approval"),
    (
        "river_works_consent",
        "河道管理范围内建设项目工程建设方案审批（蓝线）",
        "River-zone works approval (blue line)",
    ),
    ("soil_conservation", "水土保持方案审批", "Soil and water conservation plan approval"),
    ("stability_assessment", "社会稳定风险评估", "Social stability risk assessment"),
    ("traffic_organisation", "交通组织方案审查", "Traffic organisation plan review"),
    (
        "unavoidability_study",
        "不可避让论证（生态保护红线，省级审批）",
        "Unavoidability demonstration (eco red line)",
    ),
    ("water_facility_consent", "供水设施保护范围内施工方案（水务集团同意）", "Water-main protection consent"),
    (
        "water_source_consent",
        "饮用水水源保护区内建设项目审查意见",
        "Drinking-water source protection consent",
    ),
    ("yellow_line_consent", "城市黄线内建设审查（市政设施用地调整）", "Yellow-line review"),
]


def upgrade() -> None:
    op.execute("ALTER TABLE approval.item ADD COLUMN name_en text, ADD COLUMN reason_en text")
    bind = op.get_bind()
    names = [{"code": c, "zh": zh, "en": en} for c, zh, en in ITEM_NAMES]
    bind.execute(
        text("UPDATE approval.item SET name_en = :en WHERE name_zh = :zh AND name_en IS NULL"), names
    )
    bind.execute(
        text("UPDATE approval.item SET name_en = :en WHERE item_code = :code AND name_en IS NULL"), names
    )
    op.execute(
        """
        UPDATE approval.item SET name_en = name_zh WHERE name_en IS NULL;
        ALTER TABLE approval.item ALTER COLUMN name_en SET NOT NULL,
          ADD CONSTRAINT item_name_en_check CHECK (btrim(name_en) <> '');
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE approval.item DROP COLUMN reason_en, DROP COLUMN name_en")
