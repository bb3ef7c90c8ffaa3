package i18n

// shareCatalog holds the strings of the public share page (ui/sharepage);
// init merges it into catalog once, before any request.
var shareCatalog = map[string]map[Lang]string{
	"share.title":              {DE: "Geteilte Dateien", EN: "Shared files"},
	"share.gone.title":         {DE: "Link nicht verfügbar", EN: "Link not available"},
	"share.gone.text":          {DE: "Dieser Link existiert nicht oder nicht mehr: Er kann abgelaufen, aufgebraucht oder widerrufen sein. Bitte wenden Sie sich an die Person, die ihn Ihnen geschickt hat.", EN: "This link does not exist or no longer works: it may have expired, been used up or been revoked. Please ask the person who sent it to you."},
	"share.password.title":     {DE: "Passwortgeschützter Link", EN: "Password-protected link"},
	"share.password.intro":     {DE: "Geben Sie das Passwort ein, das Sie zu diesem Link erhalten haben.", EN: "Enter the password you received for this link."},
	"share.password.label":     {DE: "Passwort", EN: "Password"},
	"share.password.submit":    {DE: "Öffnen", EN: "Open"},
	"share.password.wrong":     {DE: "Das Passwort ist falsch.", EN: "The password is wrong."},
	"share.password.throttled": {DE: "Zu viele Fehlversuche. Bitte warten Sie einige Minuten.", EN: "Too many failed attempts. Please wait a few minutes."},
	"share.from":               {DE: "Geteilt von %s", EN: "Shared by %s"},
	"share.note":               {DE: "Nachricht an Sie", EN: "Message to you"},
	"share.expires":            {DE: "Dieser Link gilt bis %s.", EN: "This link is valid until %s."},
	"share.download":           {DE: "Herunterladen", EN: "Download"},
	"share.zip":                {DE: "Alles als ZIP herunterladen", EN: "Download all as ZIP"},
	"share.crumbs":             {DE: "Ordnerpfad", EN: "Folder path"},
	"share.empty.title":        {DE: "Dieser Ordner ist leer", EN: "This folder is empty"},
	"share.empty.hint":         {DE: "Hier liegen noch keine Dateien.", EN: "There are no files here yet."},
	"share.list.caption":       {DE: "Dateien und Ordner", EN: "Files and folders"},
	"share.col.name":           {DE: "Name", EN: "Name"},
	"share.col.size":           {DE: "Größe", EN: "Size"},
	"share.col.date":           {DE: "Geändert", EN: "Modified"},
	"share.drop.title":         {DE: "Dateien hochladen", EN: "Upload files"},
	"share.drop.intro":         {DE: "Die Dateien, die Sie hier hochladen, erhält %s verschlüsselt. Sie sehen keine anderen Dateien.", EN: "The files you upload here reach %s encrypted. You see no other files."},
	"share.upload.label":       {DE: "Dateien auswählen", EN: "Choose files"},
	"share.upload.hint":        {DE: "Sie können mehrere Dateien auf einmal wählen.", EN: "You can choose several files at once."},
	"share.upload.progress":    {DE: "Fortschritt des Hochladens", EN: "Upload progress"},
	"share.upload.submit":      {DE: "Hochladen", EN: "Upload"},
	"share.upload.done":        {DE: "%d Datei(en) hochgeladen. Vielen Dank.", EN: "%d file(s) uploaded. Thank you."},
	"share.upload.done.js":     {DE: "Hochgeladen. Vielen Dank.", EN: "Uploaded. Thank you."},
	"share.upload.failed":      {DE: "Das Hochladen ist fehlgeschlagen. Bitte versuchen Sie es erneut.", EN: "The upload failed. Please try again."},
}

func init() {
	for k, v := range shareCatalog {
		if _, dup := catalog[k]; dup {
			panic("i18n: key " + k + " defined twice") // programmer error, caught by every test
		}
		catalog[k] = v
	}
}
