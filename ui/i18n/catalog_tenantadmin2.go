package i18n

import (
	"sort"
	"strings"
)

// tenantAdmin2Catalog holds the strings of the tenant administration's
// roles, transfers, export and four-eyes pages (ui/tenantadmin) and their
// navigation entries; init merges it into catalog once, before any
// request.
var tenantAdmin2Catalog = map[string]map[Lang]string{
	"tenant.nav.transfers": {DE: "Übermittlungen", EN: "Transfers"},
	"tenant.nav.pending":   {DE: "Freigaben", EN: "Approvals"},

	"tadmin.roles.title":           {DE: "Rollen", EN: "Roles"},
	"tadmin.roles.intro":           {DE: "Eigene Rollen geben Konten zusätzliche mandantenweite Rechte, ohne sie zu Administratoren zu machen. Freigaben nach dem Vier-Augen-Prinzip bleiben Administratoren vorbehalten.", EN: "Roles you define give accounts extra tenant-wide permissions without making them admins. Four-eyes approvals stay with admins."},
	"tadmin.roles.none":            {DE: "Noch keine eigenen Rollen", EN: "No roles defined yet"},
	"tadmin.roles.none_hint":       {DE: "Legen Sie unten eine Rolle an, etwa „sekretariat“ mit dem Recht, Benutzer zu verwalten.", EN: "Define a role below, e.g. “secretariat” with the permission to manage users."},
	"tadmin.roles.members":         {DE: "Mitglieder", EN: "Members"},
	"tadmin.roles.no_members":      {DE: "Kein Konto hat diese Rolle.", EN: "No account holds this role."},
	"tadmin.roles.unassign":        {DE: "Entziehen", EN: "Unassign"},
	"tadmin.roles.delete":          {DE: "Rolle löschen", EN: "Delete role"},
	"tadmin.roles.assign":          {DE: "Rolle zuweisen", EN: "Assign role"},
	"tadmin.roles.role":            {DE: "Rolle", EN: "Role"},
	"tadmin.roles.create":          {DE: "Rolle anlegen", EN: "Define role"},
	"tadmin.roles.name":            {DE: "Name der Rolle", EN: "Role name"},
	"tadmin.roles.name_hint":       {DE: "Kleinbuchstaben, Ziffern, „.“, „_“, „@“ und „-“.", EN: "Lower-case letters, digits, “.”, “_”, “@” and “-”."},
	"tadmin.roles.perms":           {DE: "Rechte", EN: "Permissions"},
	"tadmin.roles.no_perms":        {DE: "Wählen Sie mindestens ein Recht.", EN: "Choose at least one permission."},
	"tadmin.roles.bad_perm":        {DE: "Dieses Recht kann eine Rolle nicht erhalten.", EN: "A role cannot hold this permission."},
	"tadmin.roles.bad_name":        {DE: "Ungültiger Name: erlaubt sind a–z, 0–9, „.“, „_“, „@“ und „-“, beginnend mit Buchstabe oder Ziffer.", EN: "Invalid name: use a–z, 0–9, “.”, “_”, “@” and “-”, starting with a letter or digit."},
	"tadmin.roles.exists":          {DE: "Eine Rolle dieses Namens gibt es schon.", EN: "A role of this name exists already."},
	"tadmin.roles.not_found":       {DE: "Diese Rolle gibt es nicht.", EN: "There is no such role."},
	"tadmin.roles.no_account":      {DE: "Dieses Konto gibt es nicht.", EN: "There is no such account."},
	"tadmin.roles.done.created":    {DE: "Die Rolle wurde angelegt.", EN: "The role was defined."},
	"tadmin.roles.done.deleted":    {DE: "Die Rolle wurde gelöscht und allen Konten entzogen.", EN: "The role was deleted and taken from every account."},
	"tadmin.roles.done.assigned":   {DE: "Die Rolle wurde zugewiesen; sie gilt ab der nächsten Anfrage des Kontos.", EN: "The role was assigned; it applies from the account's next request."},
	"tadmin.roles.done.unassigned": {DE: "Die Rolle wurde entzogen; das gilt ab der nächsten Anfrage des Kontos.", EN: "The role was unassigned; this applies from the account's next request."},

	"tadmin.roleperm.admin.accounts": {DE: "Benutzer verwalten", EN: "Manage users"},
	"tadmin.roleperm.admin.groups":   {DE: "Gruppen verwalten", EN: "Manage groups"},
	"tadmin.roleperm.admin.settings": {DE: "Einstellungen ändern", EN: "Change settings"},
	"tadmin.roleperm.accounts.read":  {DE: "Konten und Gruppen einsehen", EN: "See accounts and groups"},
	"tadmin.roleperm.grant.review":   {DE: "Zugriffe prüfen", EN: "Review access"},
	"tadmin.roleperm.audit.read":     {DE: "Protokoll lesen", EN: "Read the audit log"},

	"tadmin.transfers.title":           {DE: "Übermittlungen", EN: "Transfers"},
	"tadmin.transfers.intro":           {DE: "Übermittlungen geben Dateien oder Ordner an einen anderen Mandanten dieses Geräts weiter. Jede Übermittlung nennt ihre Rechtsgrundlage und wird in beiden Protokollen festgehalten.", EN: "Transfers hand files or folders to another tenant of this appliance. Each states its legal basis and is recorded in both tenants' logs."},
	"tadmin.transfers.incoming":        {DE: "Eingehend", EN: "Incoming"},
	"tadmin.transfers.outgoing":        {DE: "Ausgehend", EN: "Outgoing"},
	"tadmin.transfers.none_in":         {DE: "Keine eingehenden Übermittlungen", EN: "No incoming transfers"},
	"tadmin.transfers.none_out":        {DE: "Keine ausgehenden Übermittlungen", EN: "No outgoing transfers"},
	"tadmin.transfers.what":            {DE: "Inhalt", EN: "Content"},
	"tadmin.transfers.from":            {DE: "Von", EN: "From"},
	"tadmin.transfers.to":              {DE: "An", EN: "To"},
	"tadmin.transfers.state":           {DE: "Status", EN: "State"},
	"tadmin.transfers.basis":           {DE: "Rechtsgrundlage", EN: "Legal basis"},
	"tadmin.transfers.note":            {DE: "Vermerk", EN: "Note"},
	"tadmin.transfers.size":            {DE: "Dateien, Größe", EN: "Files, size"},
	"tadmin.transfers.created":         {DE: "Angeboten", EN: "Offered"},
	"tadmin.transfers.into":            {DE: "Zielordner", EN: "Destination folder"},
	"tadmin.transfers.accept":          {DE: "Annehmen", EN: "Accept"},
	"tadmin.transfers.reject":          {DE: "Ablehnen", EN: "Reject"},
	"tadmin.transfers.reason":          {DE: "Grund (für beide Protokolle)", EN: "Reason (for both logs)"},
	"tadmin.transfers.offer":           {DE: "Übermittlung anbieten", EN: "Offer a transfer"},
	"tadmin.transfers.offer_hint":      {DE: "Der andere Mandant sieht das Angebot und nimmt es an oder lehnt es ab. Übermittelt wird der Stand beim Anbieten.", EN: "The other tenant sees the offer and accepts or rejects it. What is transferred is the content as it is when offered."},
	"tadmin.transfers.path":            {DE: "Datei oder Ordner", EN: "File or folder"},
	"tadmin.transfers.path_hint":       {DE: "Pfad in diesem Mandanten, z. B. /Mandanten/Müller", EN: "Path in this tenant, e.g. /Clients/Miller"},
	"tadmin.transfers.to_tenant":       {DE: "Empfangender Mandant", EN: "Receiving tenant"},
	"tadmin.transfers.to_hint":         {DE: "Kurzname des Mandanten (wie in seiner Adresse /t/…)", EN: "The tenant's short name (as in its address /t/…)"},
	"tadmin.transfers.choose_basis":    {DE: "Bitte wählen …", EN: "Please choose …"},
	"tadmin.transfers.note_hint":       {DE: "Zweck und Rechtsgrundlage in Worten (höchstens 2000 Zeichen).", EN: "Purpose and legal basis in words (at most 2000 characters)."},
	"tadmin.transfers.need_path":       {DE: "Geben Sie die Datei oder den Ordner an.", EN: "Give the file or folder."},
	"tadmin.transfers.need_to":         {DE: "Geben Sie den empfangenden Mandanten an.", EN: "Give the receiving tenant."},
	"tadmin.transfers.need_basis":      {DE: "Wählen Sie die Rechtsgrundlage der Übermittlung.", EN: "Choose the legal basis of the transfer."},
	"tadmin.transfers.bad_note":        {DE: "Der Vermerk ist zu lang oder enthält Steuerzeichen.", EN: "The note is too long or holds control characters."},
	"tadmin.transfers.bad_path":        {DE: "Diese Datei oder diesen Ordner gibt es nicht.", EN: "There is no such file or folder."},
	"tadmin.transfers.bad_into":        {DE: "Diesen Zielordner gibt es nicht.", EN: "There is no such destination folder."},
	"tadmin.transfers.too_many":        {DE: "Der Ordner enthält zu viele Einträge für eine Übermittlung.", EN: "The folder holds too many entries for one transfer."},
	"tadmin.transfers.self":            {DE: "Eine Übermittlung geht an einen anderen Mandanten.", EN: "A transfer goes to another tenant."},
	"tadmin.transfers.no_tenant":       {DE: "Diesen Mandanten gibt es nicht.", EN: "There is no such tenant."},
	"tadmin.transfers.suspended":       {DE: "Dieser Mandant ist gesperrt.", EN: "This tenant is suspended."},
	"tadmin.transfers.not_found":       {DE: "Diese Übermittlung gibt es nicht.", EN: "There is no such transfer."},
	"tadmin.transfers.exists":          {DE: "Im Zielordner gibt es schon einen Eintrag dieses Namens.", EN: "The destination folder holds an entry of that name already."},
	"tadmin.transfers.not_dir":         {DE: "Das Ziel ist kein Ordner.", EN: "The destination is not a folder."},
	"tadmin.transfers.quota":           {DE: "Der Speicherplatz dieses Mandanten reicht nicht.", EN: "This tenant's quota does not suffice."},
	"tadmin.transfers.limit":           {DE: "Zu viele Ihrer Übermittlungen warten noch auf eine Antwort. Warten Sie, bis die Empfänger sie annehmen oder ablehnen.", EN: "Too many of your transfers still wait for an answer. Wait until the receivers accept or reject them."},
	"tadmin.transfers.bad_state":       {DE: "Die Übermittlung ist schon abgeschlossen oder wird gerade angenommen.", EN: "The transfer is finished already or is being accepted."},
	"tadmin.transfers.gone":            {DE: "Der Inhalt liegt beim Absender nicht mehr vor; er muss neu angeboten werden.", EN: "The sender no longer holds the content; it must be offered again."},
	"tadmin.transfers.done.offered":    {DE: "Die Übermittlung wurde angeboten.", EN: "The transfer was offered."},
	"tadmin.transfers.done.accepted":   {DE: "Die Übermittlung wurde angenommen.", EN: "The transfer was accepted."},
	"tadmin.transfers.done.rejected":   {DE: "Die Übermittlung wurde abgelehnt.", EN: "The transfer was rejected."},
	"tadmin.transfers.state.pending":   {DE: "Offen", EN: "Pending"},
	"tadmin.transfers.state.accepting": {DE: "Wird angenommen", EN: "Being accepted"},
	"tadmin.transfers.state.completed": {DE: "Angenommen", EN: "Accepted"},
	"tadmin.transfers.state.rejected":  {DE: "Abgelehnt", EN: "Rejected"},

	"tadmin.transfers.basis.consent":              {DE: "Einwilligung (Art. 6 Abs. 1 a DSGVO)", EN: "Consent (Art. 6(1)(a) GDPR)"},
	"tadmin.transfers.basis.contract":             {DE: "Vertrag (Art. 6 Abs. 1 b DSGVO)", EN: "Contract (Art. 6(1)(b) GDPR)"},
	"tadmin.transfers.basis.legal-obligation":     {DE: "Rechtliche Verpflichtung (Art. 6 Abs. 1 c DSGVO)", EN: "Legal obligation (Art. 6(1)(c) GDPR)"},
	"tadmin.transfers.basis.vital-interests":      {DE: "Lebenswichtige Interessen (Art. 6 Abs. 1 d DSGVO)", EN: "Vital interests (Art. 6(1)(d) GDPR)"},
	"tadmin.transfers.basis.public-task":          {DE: "Öffentliche Aufgabe (Art. 6 Abs. 1 e DSGVO)", EN: "Public task (Art. 6(1)(e) GDPR)"},
	"tadmin.transfers.basis.legitimate-interests": {DE: "Berechtigte Interessen (Art. 6 Abs. 1 f DSGVO)", EN: "Legitimate interests (Art. 6(1)(f) GDPR)"},
	"tadmin.transfers.basis.special-category":     {DE: "Besondere Kategorien (Art. 9 Abs. 2 DSGVO)", EN: "Special categories (Art. 9(2) GDPR)"},
	"tadmin.transfers.basis.other":                {DE: "Andere (im Vermerk genannt)", EN: "Other (stated in the note)"},

	"tadmin.export.title":             {DE: "Herausgabe", EN: "Export"},
	"tadmin.export.heading":           {DE: "Mandanten exportieren", EN: "Export the tenant"},
	"tadmin.export.intro":             {DE: "Lädt alle Dateien mit ihren Versionen, Konten, Gruppen, Zugriffsrechten, Links und dem Protokoll als ein Archiv herunter (.tar.zst, beschrieben in docs/export-format.md). Die Herausgabe wird protokolliert.", EN: "Downloads every file with its versions, the accounts, groups, grants, links and the audit log as one archive (.tar.zst, described in docs/export-format.md). The export is logged."},
	"tadmin.export.request":           {DE: "Bezug der Anforderung", EN: "Request reference"},
	"tadmin.export.request_hint":      {DE: "Schreiben, Ticket oder Aktenzeichen, auf das hin exportiert wird; es steht im Protokoll und im Archiv.", EN: "Letter, ticket or file number the export answers; it goes into the log and the archive."},
	"tadmin.export.need_request":      {DE: "Geben Sie den Bezug der Anforderung an (eine Zeile, höchstens %d Zeichen).", EN: "Give the request's reference (one line of at most %d characters)."},
	"tadmin.export.download":          {DE: "Archiv herunterladen", EN: "Download the archive"},
	"tadmin.export.archived":          {DE: "Archivierte Protokolle", EN: "Archived audit logs"},
	"tadmin.export.archived_hint":     {DE: "Protokolle, die ein importierter Mandant mitgebracht hat; jede Datei lässt sich mit „tresor audit verify --file“ prüfen.", EN: "Audit logs an imported tenant brought along; each file can be checked with “tresor audit verify --file”."},
	"tadmin.export.archived_none":     {DE: "Keine archivierten Protokolle", EN: "No archived audit logs"},
	"tadmin.export.archived_download": {DE: "Herunterladen", EN: "Download"},
	"tadmin.export.no_archived":       {DE: "Dieses archivierte Protokoll gibt es nicht.", EN: "There is no such archived log."},
	"tadmin.export.log":               {DE: "Protokoll", EN: "Log"},
	"tadmin.export.entries":           {DE: "Einträge", EN: "Entries"},
	"tadmin.export.imported":          {DE: "Importiert", EN: "Imported"},

	"tadmin.pending.title":          {DE: "Freigaben", EN: "Approvals"},
	"tadmin.pending.intro":          {DE: "Zugriffe auf und Links in vertrauliche Ordner gelten erst, wenn ein zweiter Administrator sie freigibt (Vier-Augen-Prinzip), ebenso neue Mitglieder einer Gruppe mit Zugriff auf einen vertraulichen Ordner. Wer sie beantragt hat, kann sie nicht selbst freigeben.", EN: "Grants on and links into sensitive folders take effect only when a second admin approves them (four-eyes), and so do new members of a group with access to a sensitive folder. Whoever asked cannot approve their own."},
	"tadmin.pending.members":        {DE: "Offene Mitgliedschaften", EN: "Pending memberships"},
	"tadmin.pending.unmarks":        {DE: "Aufhebung der Markierung „vertraulich“", EN: "Lifting a sensitive mark"},
	"tadmin.pending.approve_unmark": {DE: "Markierung aufheben", EN: "Lift the mark"},
	"tadmin.pending.no_members":     {DE: "Keine Mitgliedschaften warten auf Freigabe", EN: "No memberships await approval"},
	"tadmin.pending.group":          {DE: "Gruppe", EN: "Group"},
	"tadmin.pending.group_members":  {DE: "Mitglieder: %s (werden mit freigegeben)", EN: "members: %s (approved with it)"},
	"tadmin.pending.account":        {DE: "Konto", EN: "Account"},
	"tadmin.pending.approve_member": {DE: "Mitgliedschaft freigeben", EN: "Approve membership"},
	"tadmin.pending.grants":         {DE: "Offene Zugriffe", EN: "Pending grants"},
	"tadmin.pending.no_grants":      {DE: "Keine Zugriffe warten auf Freigabe", EN: "No grants await approval"},
	"tadmin.pending.links":          {DE: "Offene Links", EN: "Pending links"},
	"tadmin.pending.no_links":       {DE: "Keine Links warten auf Freigabe", EN: "No links await approval"},
	"tadmin.pending.target":         {DE: "Ziel", EN: "Target"},
	"tadmin.pending.mode":           {DE: "Art", EN: "Kind"},
	"tadmin.pending.approve_link":   {DE: "Link freigeben", EN: "Approve link"},
	"tadmin.pending.other_admin":    {DE: "wartet auf einen zweiten Administrator", EN: "awaits a second admin"},
	"tadmin.pending.done":           {DE: "Freigegeben.", EN: "Approved."},
	"tadmin.pending.rejected":       {DE: "Abgelehnt: das Zugriffsrecht wurde nie wirksam und ist entfernt.", EN: "Rejected: the grant never took effect and is removed."},
	"tadmin.pending.reject":         {DE: "Ablehnen", EN: "Reject"},
	"tadmin.pending.withdraw":       {DE: "Zurückziehen", EN: "Withdraw"},
	"tadmin.pending.same":           {DE: "Ein zweiter Administrator muss freigeben, nicht wer es beantragt hat.", EN: "A second admin must approve, not whoever asked for it."},
	"tadmin.pending.not_found":      {DE: "Diesen Antrag gibt es nicht.", EN: "There is no such request."},
	"tadmin.pending.not_pending":    {DE: "Das ist schon freigegeben.", EN: "This is approved already."},
}

func init() {
	for k, v := range tenantAdmin2Catalog {
		if _, dup := catalog[k]; dup {
			panic("i18n: key " + k + " defined twice") // programmer error, caught by every test
		}
		catalog[k] = v
	}
}

// Incomplete returns the catalog's keys that lack a text in German or
// English, sorted; render tests fail on any.
func Incomplete() []string {
	var out []string
	for k, v := range catalog {
		if v[DE] == "" || v[EN] == "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// IsKey reports whether s is a key of the catalog.
func IsKey(s string) bool {
	_, ok := catalog[s]
	return ok
}

// KeyPrefixes returns the first segments of the catalog's keys ("app",
// "tadmin", …), sorted: a text that starts with one and a dot and is no
// key's text is a key shown raw.
func KeyPrefixes() []string {
	seen := map[string]bool{}
	var out []string
	for k := range catalog {
		p, _, _ := strings.Cut(k, ".")
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
