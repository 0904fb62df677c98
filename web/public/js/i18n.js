// UI text in Chinese (default) and English; the choice is kept in localStorage under duogui.lang.

const TEXT = {
  zh: {
    title: "多规合一平台 · 一张底图", about: "关于",
    views: "功能", viewMap: "一张底图", viewProjects: "项目审批", viewDemolition: "征拆协调", signOut: "退出登录", layers: "图层", map: "地图",
    signIn: "登录", username: "用户名", password: "密码", signInButton: "登录",
    badPassword: "用户名或密码错误。", expired: "登录已过期，请重新登录。", signedOut: "已退出登录。",
    changePassword: "修改初始密码", changePasswordNote: "首次登录须修改一次性密码。",
    currentPassword: "当前密码", newPassword: "新密码", save: "保存",
    clearAll: "全部取消", searchLayers: "搜索图层（名称或代码）", active: n => `已选 ${n} 个`,
    noMatch: "没有匹配的图层。", details: "图层详情", detailsOf: name => `${name}：详情`,
    opacity: name => `${name} 透明度`, minZoom: z => `放大到第 ${z} 级及以上才显示`,
    legend: "图例", legendEmpty: "未勾选图层。勾选左侧图层后在此显示图例。",
    identify: "查询", identifyHint: "在地图上点击，查询已勾选图层在该点的要素。",
    identifyNoLayers: "请先勾选至少一个矢量图层。", identifyNone: "该点没有已勾选图层的要素。",
    identifyBusy: "正在查询…", featureId: "要素编号", distance: "距离",
    found: n => `共 ${n} 个要素`,
    detailsHint: "点击图层名称后的“详情”查看要素数量、现势性和版本历史。",
    code: "代码", group: "图层组", kind: "类型", department: "责任部门", source: "数据来源", scale: "比例尺",
    vintage: "现势性", stale: "已过期", current: "现势", currentVersion: "当前版本", featureCount: "要素数量",
    updatedAt: "更新时间", versions: "版本历史", noVersions: "尚无数据版本。", version: "版本",
    compare: "比较", compareLabel: (a, b) => `比较第 ${a} 版与第 ${b} 版`,
    diffResult: (a, b, add, addArea, rem, remArea, chg, same) =>
      `第 ${a} 版 → 第 ${b} 版：新增 ${add} 个（${addArea} m²），删除 ${rem} 个（${remArea} m²），变化 ${chg} 个，未变 ${same} 个。`,
    diffTolerance: (n, cm) => `其中 ${n} 个要素的位置偏差在 ${cm} 厘米以内（坐标取舍），按几何未变计。`,
    importedBy: "导入时间 / 导入人", file: "文件 / 要素数", features: "个要素", note: "说明", zoomTo: "缩放到图层范围",
    upload: "上传新版本", uploadFile: "数据文件（GeoPackage、Shapefile zip、GeoJSON、DXF、FileGDB zip、GeoTIFF）",
    crs: "坐标系（文件无坐标系时填写，如 EPSG:4547）", encoding: "属性编码（如 GBK，可不填）",
    skipInvalid: "跳过无法修复的要素", versionNote: "版本说明", uploadButton: "上传并导入",
    uploading: "正在导入，请稍候…", imported: (v, n) => `已导入为第 ${v} 版，共 ${n} 个要素。`,
    report: "导入报告", failed: "失败",
    reportKeys: { source_features: "源文件要素", stored_features: "入库要素", repaired_count: "已修复要素", skipped_count: "已跳过要素" }, none: "无", yes: "是", no: "否",
    importFile: "源文件", sourceFormat: "格式 / 图层", sourceCrs: "源坐标系", sourceEncoding: "属性编码",
    mappedColumns: "字段对应（源字段 → 图层属性）", unknownColumns: cols => `未对应的字段（原样保存在附加属性中）：${cols}`,
    missingRequired: names => `文件缺少必填属性：${names}`, nullRequired: (name, n) => `必填属性“${name}”有 ${n} 个要素为空。`,
    invalidValues: (name, n, ex) => `属性“${name}”有 ${n} 个值不符合要求，如 ${ex}。`,
    featureNo: n => `第 ${n} 个要素`, repairedList: n => `已修复的要素（${n}）`, skippedList: n => `已跳过的要素（${n}）`,
    rawReport: "完整导入报告（JSON）",
    kinds: { area: "面", line: "线", point: "点", raster: "栅格" },
    aboutTitle: "关于本平台", intro: "龙岗区“多规合一”平台：一张底图、项目预评价、审批跟踪与征拆协调。",
    health: "服务状态", db: "数据库", rev: "数据库版本", ok: "连接正常", down: "无法连接", docs: "API 文档",
    close: "关闭", loadFailed: "加载失败：", networkError: "无法连接服务器。",
    preeval: "预评价", preevalTitle: "项目预评价", footprint: "用地范围", sourceDraw: "在地图上绘制",
    sourceFile: "上传文件", drawStart: "开始绘制", drawFinish: "完成", drawClear: "清除",
    drawHint: "在地图上依次点击各顶点，双击或点“完成”结束。", drawing: n => `绘制中：已有 ${n} 个顶点（至少 3 个）。`,
    drawn: n => `已绘制用地范围（${n} 个顶点）。`, drawNone: "尚未绘制用地范围。",
    footprintFile: "用地范围文件（Shapefile zip、GeoPackage、DXF、GeoJSON）", projectType: "项目类型",
    projectCode: "项目代码（可选）", projectCodeShort: "项目代码", projectFlags: "项目属性（可选）", runPreeval: "运行预评价",
    running: "正在预评价，请稍候…", drawFirst: "请先在地图上绘制用地范围并点“完成”。", chooseFile: "请选择用地范围文件。",
    chooseType: "请选择项目类型。", reportTitle: id => `预评价报告 #${id}`, verdict: "结论",
    addSite: "加入比选", compareSites: "选址比选", siteName: n => `方案${n}`, removeSite: "移除",
    sitesNote: n => `已加入 ${n} 个比选方案（2–5 个）。`, tooManySites: "比选方案最多 5 个。",
    tooFewSites: "请先加入至少 2 个比选方案。", comparing: "正在比选，请稍候…",
    comparisonTitle: "选址比选结果", rank: "推荐顺序", recommended: "推荐", prohibitedArea: "禁止区面积",
    conditionalArea: "有条件区面积", approvalsCount: "触发审批事项", buildableShare: "可建设比例",
    notCheckableCount: "无法评价的图层", orderingRule: "排序规则", openReport: "查看报告",
    footprintArea: "用地面积", rulesVersion: "规则版本", evaluatedAt: "评价时间", repairs: "几何修复",
    findings: "冲突与提示", noFindings: "未发现冲突。", overlap: "重叠面积", share: "占用地比例",
    legalBasis: "法律依据", approvalItem: "审批事项", notCheckable: "无法评价的图层",
    demolition: "征拆", buildings: "涉及建筑", floorArea: "建筑面积", households: "户数",
    collectiveLand: "集体用地", stateLand: "国有用地", compensation: "估算补偿", yuan: "元", buildingUnit: "栋",
    terrain: "地形", meanSlope: "平均坡度", steepShare: "陡坡占比", steepArea: "陡坡面积", noTerrain: "无坡度数据。",
    buildable: "可建设用地", buildableArea: "可建设面积", downloads: "下载", myReports: "我的预评价报告",
    noReports: "尚无预评价报告。", open: "打开", staleReport: "报告已过期", staleNote: "报告所用图层此后有更新，且变化触及用地范围：",
    staleMark: (layer, from, to, n) => `${layer}：第 ${from ?? "—"} 版 → 第 ${to ?? "—"} 版，${n} 个要素变化`,
    recheck: "重新评价", rechecking: "正在重新评价…", changesTitle: id => `与报告 #${id} 相比的变化`,
    noChanges: "结论和冲突均无变化。", verdictChange: (a, b) => `结论：${a} → ${b}`,
    changeKinds: { added: "新增", removed: "消除", changed: "变化" },
    layerVersionChange: (layer, a, b) => `${layer}：第 ${a ?? "—"} 版 → 第 ${b ?? "—"} 版`,
    grades: { prohibited: "禁止", conditional: "有条件", advisory: "提示", info: "统计" },
    reportId: "编号", type: "类型",
  },
  en: {
    title: "Duogui · one base map", about: "About",
    views: "Views", viewMap: "Base map", viewProjects: "Projects", viewDemolition: "Demolition", signOut: "Sign out", layers: "Layers", map: "Map",
    signIn: "Sign in", username: "User name", password: "Password", signInButton: "Sign in",
    badPassword: "Wrong user name or password.", expired: "Your session has expired; please sign in again.",
    signedOut: "You have signed out.",
    changePassword: "Change your one-time password", changePasswordNote: "The first sign-in needs a new password.",
    currentPassword: "Current password", newPassword: "New password", save: "Save",
    clearAll: "Clear all", searchLayers: "Search layers (name or code)", active: n => `${n} on`,
    noMatch: "No layer matches.", details: "Layer details", detailsOf: name => `${name}: details`,
    opacity: name => `${name} opacity`, minZoom: z => `Shown from zoom ${z}`,
    legend: "Legend", legendEmpty: "No layer on. Tick layers on the left to see their legend here.",
    identify: "Identify", identifyHint: "Click the map to list the ticked layers' features at that point.",
    identifyNoLayers: "Tick at least one vector layer first.", identifyNone: "No feature of the ticked layers here.",
    identifyBusy: "Looking up…", featureId: "Feature id", distance: "Distance",
    found: n => `${n} features`,
    detailsHint: "Use “details” next to a layer's name for its feature count, vintage and versions.",
    code: "Code", group: "Group", kind: "Kind", department: "Department", source: "Source", scale: "Scale",
    vintage: "Vintage", stale: "out of date", current: "current", currentVersion: "Current version",
    featureCount: "Features", updatedAt: "Updated", versions: "Version history", noVersions: "No data yet.",
    compare: "compare", compareLabel: (a, b) => `Compare version ${a} with version ${b}`,
    diffResult: (a, b, add, addArea, rem, remArea, chg, same) =>
      `Version ${a} → ${b}: ${add} added (${addArea} m²), ${rem} removed (${remArea} m²), ${chg} changed, ${same} unchanged.`,
    diffTolerance: (n, cm) => ` ${n} of them moved by at most ${cm} cm (rounded coordinates) and count as the same geometry.`,
    version: "Version", importedBy: "Imported / by", file: "File / features", features: "features", note: "Note",
    zoomTo: "Zoom to layer", upload: "Upload a new version",
    uploadFile: "Data file (GeoPackage, zipped Shapefile, GeoJSON, DXF, zipped FileGDB, GeoTIFF)",
    crs: "CRS (when the file has none, e.g. EPSG:4547)", encoding: "Attribute encoding (e.g. GBK, optional)",
    skipInvalid: "Skip features that cannot be repaired", versionNote: "Version note",
    uploadButton: "Upload and import", uploading: "Importing…",
    imported: (v, n) => `Imported as version ${v} with ${n} features.`,
    report: "Import report", failed: "Failed",
    reportKeys: { source_features: "Features in the file", stored_features: "Features stored", repaired_count: "Repaired", skipped_count: "Skipped" }, none: "none", yes: "yes", no: "no",
    importFile: "File", sourceFormat: "Format / layer", sourceCrs: "Source CRS", sourceEncoding: "Attribute encoding",
    mappedColumns: "Columns (file column → layer attribute)", unknownColumns: cols => `Columns not mapped (kept as extra attributes): ${cols}`,
    missingRequired: names => `The file lacks required attributes: ${names}`, nullRequired: (name, n) => `Required attribute “${name}” is empty in ${n} features.`,
    invalidValues: (name, n, ex) => `Attribute “${name}” has ${n} values that do not fit, e.g. ${ex}.`,
    featureNo: n => `feature ${n}`, repairedList: n => `Repaired features (${n})`, skippedList: n => `Skipped features (${n})`,
    rawReport: "Full import report (JSON)",
    kinds: { area: "area", line: "line", point: "point", raster: "raster" },
    aboutTitle: "About this platform",
    intro: "Longgang district's multi-plan platform: one base map, project pre-evaluation, approval tracking and demolition coordination.",
    health: "Service status", db: "Database", rev: "Schema revision", ok: "reachable", down: "unreachable",
    docs: "API documentation", close: "Close", loadFailed: "Could not load: ", networkError: "The server cannot be reached.",
    preeval: "Pre-evaluation", preevalTitle: "Project pre-evaluation", footprint: "Footprint", sourceDraw: "Draw on the map",
    sourceFile: "Upload a file", drawStart: "Start drawing", drawFinish: "Finish", drawClear: "Clear",
    drawHint: "Click the vertices on the map; double-click or “Finish” to close.",
    drawing: n => `Drawing: ${n} vertices (at least 3).`, drawn: n => `Footprint drawn (${n} vertices).`,
    drawNone: "No footprint drawn yet.",
    footprintFile: "Footprint file (zipped Shapefile, GeoPackage, DXF, GeoJSON)", projectType: "Project type",
    projectCode: "Project code (optional)", projectCodeShort: "Project code", projectFlags: "Project flags (optional)", runPreeval: "Run pre-evaluation",
    running: "Pre-evaluating…", drawFirst: "Draw the footprint on the map and press “Finish” first.",
    chooseFile: "Choose a footprint file.", chooseType: "Choose a project type.",
    reportTitle: id => `Pre-evaluation report #${id}`, verdict: "Verdict",
    addSite: "Add to comparison", compareSites: "Compare sites", siteName: n => `Site ${n}`, removeSite: "Remove",
    sitesNote: n => `${n} candidate sites added (2–5).`, tooManySites: "At most 5 candidate sites.",
    tooFewSites: "Add at least 2 candidate sites first.", comparing: "Comparing…",
    comparisonTitle: "Site comparison", rank: "Rank", recommended: "Recommended", prohibitedArea: "Prohibited area",
    conditionalArea: "Conditional area", approvalsCount: "Approvals triggered", buildableShare: "Buildable share",
    notCheckableCount: "Layers not checkable", orderingRule: "Ordering rule", openReport: "Open report",
    footprintArea: "Footprint area", rulesVersion: "Rules version", evaluatedAt: "Evaluated", repairs: "Geometry repairs",
    findings: "Findings", noFindings: "No conflict found.", overlap: "Overlap", share: "Share of the footprint",
    legalBasis: "Legal basis", approvalItem: "Approval item", notCheckable: "Layers that could not be checked",
    demolition: "Demolition", buildings: "Buildings", floorArea: "Floor area", households: "Households",
    collectiveLand: "Collective land", stateLand: "State land", compensation: "Estimated compensation", yuan: "yuan",
    buildingUnit: "", terrain: "Terrain", meanSlope: "Mean slope", steepShare: "Steep share", steepArea: "Steep area",
    noTerrain: "No slope data.", buildable: "Buildable remainder", buildableArea: "Buildable area",
    downloads: "Download", myReports: "My pre-evaluation reports", noReports: "No report yet.", open: "Open",
    staleReport: "Out of date", staleNote: "Layers this report used have changed inside the footprint since:",
    staleMark: (layer, from, to, n) => `${layer}: version ${from ?? "—"} → ${to ?? "—"}, ${n} features changed`,
    recheck: "Check again", rechecking: "Checking again…", changesTitle: id => `Changes since report #${id}`,
    noChanges: "Neither the verdict nor the findings changed.", verdictChange: (a, b) => `Verdict: ${a} → ${b}`,
    changeKinds: { added: "new", removed: "gone", changed: "changed" },
    layerVersionChange: (layer, a, b) => `${layer}: version ${a ?? "—"} → ${b ?? "—"}`,
    grades: { prohibited: "Prohibited", conditional: "Conditional", advisory: "Advisory", info: "Statistics" },
    reportId: "No.", type: "Type",
  },
};

let lang = localStorage.getItem("duogui.lang") === "en" ? "en" : "zh";
const listeners = [];

/** The current language, "zh" or "en". */
export const currentLang = () => lang;

/** The text of a key (functions are called with the arguments). */
export function t(key, ...args) {
  const value = TEXT[lang][key] ?? TEXT.zh[key] ?? key;
  return typeof value === "function" ? value(...args) : value;
}

/** The Chinese or English field of an object: name(obj) picks obj.name_zh or obj.name_en. */
export function pick(obj, field = "name") {
  return (lang === "en" && obj[`${field}_en`]) || obj[`${field}_zh`] || obj[field] || "";
}

/** Fill the static page text (data-i18n, data-i18n-placeholder, data-i18n-label). */
export function applyStatic(root = document) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  root.querySelectorAll("[data-i18n]").forEach(el => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach(el => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll("[data-i18n-label]").forEach(el => el.setAttribute("aria-label", t(el.dataset.i18nLabel)));
  const button = document.getElementById("lang");
  button.textContent = lang === "zh" ? "English" : "中文";
  button.lang = lang === "zh" ? "en" : "zh-CN";
}

/** Switch language, remember it, re-render the static text and tell the listeners. */
export function toggleLang() {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("duogui.lang", lang);
  applyStatic();
  listeners.forEach(fn => fn(lang));
}

/** Call fn after every language switch. */
export const onLangChange = fn => listeners.push(fn);

/** A date or timestamp for people: 2026-01-31 or 2026-01-31 14:05. */
export function formatDate(value, withTime = false) {
  if (!value) return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const pad = n => String(n).padStart(2, "0");
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return withTime ? `${day} ${pad(d.getHours())}:${pad(d.getMinutes())}` : day;
}

/** A count with thousands separators. */
export const formatCount = n => (n == null ? "—" : Number(n).toLocaleString(lang === "zh" ? "zh-CN" : "en"));
