package i18n

// retentionCatalog holds the strings of the retention policy (version
// thinning and trash) on the tenant's policies page; init merges it into
// catalog once, before any request.
var retentionCatalog = map[string]map[Lang]string{
	"tadmin.settings.retention_hint": {
		DE: "Jede Überschreibung behält die vorige Fassung. Zunächst bleiben alle Fassungen erhalten, danach je Kalendertag (UTC) die letzte, bis die Löschfrist erreicht ist. Die aktuelle Fassung wird nie gelöscht. Alte Fassungen und der Papierkorb zählen zum Speicherplatz des Mandanten.",
		EN: "Every overwrite keeps the previous version. At first every version is kept, then the last one of each calendar day (UTC) until the deletion age is reached. The current version is never deleted. Old versions and the trash count towards the tenant's storage quota.",
	},
	"tadmin.settings.keep_all_days":      {DE: "Alle Versionen behalten (Tage)", EN: "Keep every version for (days)"},
	"tadmin.settings.keep_all_days_hint": {DE: "danach eine je Tag; höchstens bis zur Löschfrist", EN: "then one a day; at most up to the deletion age"},
	"tadmin.settings.versions_hint":      {DE: "Obergrenze je Datei, 0 bis 1000 (0: keine alten Versionen)", EN: "Limit per file, 0 to 1000 (0: no old versions)"},
}

func init() {
	for k, v := range retentionCatalog {
		if _, dup := catalog[k]; dup {
			panic("i18n: key " + k + " defined twice") // programmer error, caught by every test
		}
		catalog[k] = v
	}
}
