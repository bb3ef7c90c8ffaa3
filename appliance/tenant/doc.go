// Package tenant keeps tresor's tenants (Mandanten): the closed
// data-processing contexts of the offices that share one appliance, and the
// one way to reach a tenant's data.
//
// # The rule
//
// A tenant's data is reached only through a [*Tenant], and a *Tenant is
// made only by [Registry.Open], which the request-resolving layer calls
// once per request with the tenant named in the URL (or the CLI's
// --tenant) after nothing else. Data access APIs (identity now; files,
// shares and transfers later) take a *Tenant and reach the tenant's data
// only through [Tenant.Namespace], [Tenant.View], [Tenant.Update] and
// [Tenant.Audit]; they never take a tenant slug from user input. Tenant's
// fields are unexported and the package has no other constructor, so code
// outside this package cannot make a Tenant for a slug it read from a
// request; the zero Tenant refuses every operation with [ErrNotOpened].
// TestNoNamespaceOutsideTenant fails when a package of the appliance
// other than this one (and the composition root) opens, creates or
// deletes a storage namespace by name.
//
// Separation is by construction, not by a tenant column: each tenant has
// its own storage namespace (its own data key wrapped by the master key,
// its own metadata database with m+1 copies, its own shard directories),
// and so its own accounts, settings and audit log. A handler with a bug
// can at worst misuse the *Tenant it was given; it holds no handle on any
// other tenant's database or key.
//
// # Model
//
// A tenant has a slug ([CheckSlug]: 2 to 63 of [a-z0-9-], not starting or
// ending with '-', not one of the reserved names), a display name, a state
// and a quota. Its record lives in the system database under the buckets
// ("appliance", "tenants"), keyed by slug:
//
//	{"name": "Kanzlei Müller", "state": "active", "quota": 536870912000, "created": "…"}
//
// States: active (serves), suspended (refuses sign-ins and every request;
// data kept), deleting (being crypto-shredded; gone soon). A fourth,
// creating, exists only between [Registry.Create]'s first and last step;
// a crash in between leaves it, and [Registry.Recover] removes such
// half-made tenants at the next start.
//
// The tenant's [Settings] (Prüfschritt 4: configuration independent of
// every other tenant) live in the tenant's own database, as one versioned
// JSON document under ("tenant") "settings": password policy, two-factor
// requirement, session lifetimes, share policy, optional audit events and
// retention of versions and trash. The quota is kept once, in the registry
// record, because the appliance admin sets it and the appliance enforces
// it without opening the tenant; [Tenant.Quota] reads it.
//
// # Appliance admin (Prüfschritt 5)
//
// The appliance admin creates, suspends, resumes and deletes tenants and
// sets their quota. The registry's answers to the admin ([Info]) carry
// metadata only: slug, display name, state, quota, creation time (and the
// bytes used, from [Registry.Usage]); nothing of files, file names,
// accounts or shares. Every such action is logged in the appliance log
// (with Entry.Tenant set, in the same transaction as the change) and in
// the tenant's own log with actor kind appliance-admin, so the tenant's
// auditors see what was done to their tenant. A deletion is logged in the
// appliance log only: the tenant's log is shredded with the tenant.
//
// # Deletion
//
// [Registry.Delete] marks the record deleting (logged), closes the
// tenant's handles, and has the pool destroy the namespace: its wrapped
// data key is deleted and the system database compacted (from then on
// nothing of the tenant can be decrypted), then its database copies and
// shard files are removed from every disk. The record goes last, with its
// entries in the share index and a second appliance log entry. Other tenants keep working throughout: they
// share no lock with the deletion but the pool's brief ones.
package tenant
