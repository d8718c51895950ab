package main

// district is one of Xiamen's six districts, with its administrative
// division code (GB/T 2260), which is also the region part of the identity
// numbers it issues.
type district struct {
	Code  string
	Name  string
	Roads []string
	// Shelters are the typhoon shelters residents of the district are moved to.
	Shelters []shelter
}

type shelter struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

var districts = []district{
	{
		Code:  "350203",
		Name:  "思明区",
		Roads: []string{"湖滨南路", "厦禾路", "莲前西路", "嘉禾路", "中山路", "鹭江道", "思明南路", "湖滨北路"},
		Shelters: []shelter{
			{"莲前街道应急避难场所（前埔中学体育馆）", "厦门市思明区前埔路300号"},
			{"鹭江街道应急避难场所（大同小学）", "厦门市思明区大同路180号"},
		},
	},
	{
		Code:  "350205",
		Name:  "海沧区",
		Roads: []string{"海沧大道", "马青路", "钟林路", "沧虹路", "翁角路"},
		Shelters: []shelter{
			{"新阳街道应急避难场所（新阳中学）", "厦门市海沧区新阳路88号"},
		},
	},
	{
		Code:  "350206",
		Name:  "湖里区",
		Roads: []string{"湖里大道", "仙岳路", "金山路", "吕岭路", "枋湖北二路", "江头北路"},
		Shelters: []shelter{
			{"殿前街道应急避难场所（殿前小学）", "厦门市湖里区殿前六路52号"},
			{"禾山街道应急避难场所（禾山中学体育馆）", "厦门市湖里区枋湖路150号"},
		},
	},
	{
		Code:  "350211",
		Name:  "集美区",
		Roads: []string{"集美大道", "杏林湾路", "银江路", "盛光路", "石鼓路"},
		Shelters: []shelter{
			{"杏林街道应急避难场所（杏林中学体育馆）", "厦门市集美区杏林湾路180号"},
		},
	},
	{
		Code:  "350212",
		Name:  "同安区",
		Roads: []string{"环城南路", "环城西路", "同集中路"},
		Shelters: []shelter{
			{"大同街道应急避难场所（同安一中体育馆）", "厦门市同安区环城南路301号"},
		},
	},
	{
		Code:  "350213",
		Name:  "翔安区",
		Roads: []string{"翔安南路", "翔安北路", "民安大道"},
		Shelters: []shelter{
			{"新店街道应急避难场所（新店中学）", "厦门市翔安区翔安南路1100号"},
		},
	},
}

// districtByCode returns the district with the given division code, or nil.
func districtByCode(code string) *district {
	for i := range districts {
		if districts[i].Code == code {
			return &districts[i]
		}
	}
	return nil
}

// surnames are weighted so that 陈 and 林 lead, as they do in southern
// Fujian. The weights are an estimate, not census figures. The compound
// surnames are rare but present so that masking of two-character surnames
// gets exercised.
var surnames = []struct {
	Name   string
	Weight int
}{
	{"陈", 14}, {"林", 12}, {"黄", 8}, {"张", 6}, {"李", 5}, {"王", 5},
	{"吴", 4}, {"刘", 4}, {"蔡", 4}, {"杨", 3}, {"郑", 3}, {"许", 3},
	{"洪", 3}, {"苏", 2}, {"曾", 2}, {"叶", 2}, {"庄", 2}, {"谢", 2},
	{"柯", 1}, {"卢", 1}, {"欧阳", 1}, {"司马", 1}, {"上官", 1}, {"诸葛", 1},
	{"司徒", 1},
}

var maleGivenNames = []string{
	"伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "刚", "斌", "鹏",
	"志强", "建华", "晓东", "国平", "文彬", "振宇", "俊杰", "浩然", "宇轩",
	"一鸣", "子豪", "伟明", "金水", "阿土", "清泉", "家辉", "荣华", "天佑",
}

var femaleGivenNames = []string{
	"芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "婷", "颖", "琳", "倩",
	"秀英", "秀兰", "桂英", "美玲", "雅婷", "思琪", "子涵", "梓萱", "诗涵",
	"嘉怡", "惠珍", "丽华", "淑芬", "晓燕", "雪梅", "秋月", "佳琪", "欣怡",
}

// ethnicities are weighted, in percent, so that most residents are 汉族,
// with some of the minorities present in Fujian.
var ethnicities = []struct {
	Name   string
	Weight int
}{
	{"汉族", 94}, {"畲族", 2}, {"回族", 2}, {"满族", 1}, {"苗族", 1},
}

// mobilePrefixes are mainland mobile number segments of the three carriers.
var mobilePrefixes = []string{
	"134", "135", "136", "137", "138", "139", "150", "151", "152", "157",
	"158", "159", "182", "183", "187", "188", "130", "131", "132", "155",
	"156", "185", "186", "133", "153", "180", "181", "189", "177", "199",
}

// cardIssuers pair a bank with the issuer identification number (BIN) the
// synthetic debit cards use. The BINs follow the UnionPay 62 range but were
// not checked against the card scheme's BIN table.
var cardIssuers = []struct {
	Bank string
	BIN  string
}{
	{"中国工商银行", "622202"},
	{"中国建设银行", "621700"},
	{"中国农业银行", "622848"},
	{"中国银行", "621661"},
	{"兴业银行", "622909"},
}

// lendingBanks are the banks that handle housing provident fund loans.
var lendingBanks = []string{
	"中国建设银行厦门市分行", "中国工商银行厦门市分行", "中国农业银行厦门市分行",
	"中国银行厦门市分行", "厦门银行",
}

var companyTradeNames = []string{
	"嘉庚", "鼓浪", "筼筜", "五缘", "白鹭", "凤凰", "同益", "翔鹭", "天竺",
	"金榜", "万石", "云顶", "东渡", "高崎", "杏林", "马銮", "大嶝", "丙洲",
	"澳头", "钟宅", "五通", "湖边", "金砖", "沧江",
}

// industries pairs a company name's industry word with a business scope.
var industries = []struct {
	Word  string
	Scope string
}{
	{"数据科技", "大数据服务；数据处理和存储支持服务；软件开发；信息技术咨询服务。"},
	{"商贸", "日用百货销售；五金产品批发；食品销售（仅销售预包装食品）；国内贸易代理。"},
	{"建筑工程", "建设工程施工；建筑装饰材料销售；园林绿化工程施工。"},
	{"餐饮管理", "餐饮服务；餐饮管理；食品销售；酒类经营。"},
	{"物流", "普通货物仓储服务；国内货物运输代理；道路货物运输（不含危险货物）。"},
	{"软件", "软件开发；信息系统集成服务；互联网数据服务。"},
	{"茶业", "茶叶种植；茶叶制品销售；初级农产品收购。"},
	{"海洋渔业", "水产品批发；水产品零售；远洋捕捞；水产养殖。"},
	{"文化传媒", "广告设计、代理；组织文化艺术交流活动；会议及展览服务。"},
	{"电子科技", "电子元器件制造；电子产品销售；技术服务、技术开发。"},
	{"机械设备", "通用设备制造（不含特种设备制造）；机械设备销售；机械设备租赁。"},
}

var companyTypes = []string{
	"有限责任公司（自然人投资或控股）",
	"有限责任公司（自然人投资或控股）",
	"有限责任公司（自然人独资）",
	"股份有限公司（非上市、自然人投资或控股）",
}

// marriageOffices are the marriage registration offices of the civil
// affairs bureaus, one per district, in the order of districts.
var marriageOffices = []string{
	"厦门市思明区民政局婚姻登记处",
	"厦门市海沧区民政局婚姻登记处",
	"厦门市湖里区民政局婚姻登记处",
	"厦门市集美区民政局婚姻登记处",
	"厦门市同安区民政局婚姻登记处",
	"厦门市翔安区民政局婚姻登记处",
}
