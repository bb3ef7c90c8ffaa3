package i18n

// auditCatalog holds the audit viewers' strings (ui/tenantadmin's log
// pages and the console's audit page) beyond the older tadmin.audit.*
// and admin.audit.* keys; init merges it into catalog.
var auditCatalog = map[string]map[Lang]string{
	"audit.newer":         {DE: "Neuere", EN: "Newer"},
	"audit.scanned":       {DE: "%d Einträge gelesen (Positionen %d bis vor %d von %d).", EN: "%d entries read (positions %d up to %d of %d)."},
	"audit.partial":       {DE: "Die Suche hat nach %d Einträgen angehalten, bevor die Seite voll war.", EN: "The search stopped after %d entries before the page was full."},
	"audit.continue":      {DE: "Weitersuchen", EN: "Continue searching"},
	"audit.pruned":        {DE: "%d ältere Einträge hat die Aufbewahrungsfrist entfernt; ihre Hashes bleiben, das Protokoll prüft weiter.", EN: "%d older entries were removed by the retention period; their hashes stay and the log still verifies."},
	"audit.download":      {DE: "Nachweis herunterladen (JSON)", EN: "Download the proof (JSON)"},
	"audit.download_hint": {DE: "Offline prüfen mit dem Schlüssel des Geräts:", EN: "Check it offline with the appliance's key:"},
	"audit.leaf":          {DE: "Blatt-Hash des Eintrags", EN: "The entry's leaf hash"},
	"audit.tenant":        {DE: "Mandant", EN: "Tenant"},
	"audit.console.intro": {DE: "Das Geräteprotokoll, neueste Einträge zuerst. Vollständiger Export mit Prüfnachweisen: tresor audit export.", EN: "The appliance log, newest entries first. Full export with proofs: tresor audit export."},
}

func init() {
	for k, v := range auditCatalog {
		if _, dup := catalog[k]; dup {
			panic("i18n: key " + k + " defined twice") // programmer error, caught by every test
		}
		catalog[k] = v
	}
}
