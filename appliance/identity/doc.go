// Package identity keeps the accounts of a tenant and signs them in.
//
// Every function takes the [*tenant.Tenant] the request was resolved to
// and works in that tenant's database only: login names are scoped to a
// tenant ("anna" of one tenant and "anna" of another are two accounts
// with two passwords), and an account of one tenant is unknown in every
// other, with the same answer as a name that exists nowhere.
//
// # Accounts
//
// An account has an ID (random, stable), a login name ([NormalizeName]:
// 1 to 64 of a-z, 0-9, '.', '_', '@', '-', starting with a letter or digit;
// upper-case ASCII is folded), a role (admin, user or auditor), an
// argon2id password hash (appliance/password), a disabled flag, a flag
// that it must use a second factor, and its creation time. The tenant's
// first admin is made by the appliance admin with [Accounts.Bootstrap]
// (the only account the appliance admin can make: Prüfschritt 5 allows
// the data needed to set up the tenant's own administration); every other
// account by a tenant admin with [Accounts.Create].
//
// In the tenant's database, under "identity":
//
//	meta      "index-key" → the tenant's index key, sealed under its data key
//	accounts  ID → the account record (JSON), sealed under the data key
//	names     HMAC(index key, name) → ID
//	throttle  HMAC(index key, kind and name or source) → failed sign-ins (JSON)
//
// Names and hashes are sealed, and indexed by a keyed hash, so that a copy
// of a disk shows no login names, and everything is shredded with the
// tenant's key.
//
// # Signing in
//
// [Accounts.Authenticate] answers an unknown name exactly like a wrong
// password: the same error, the same database writes and one argon2id
// verification against a dummy hash made with the same parameters, so
// neither the answer nor its timing tells whether a name exists. Failed
// attempts are counted per login name (whether or not it exists, so a lock
// does not reveal existence either) and per source address, persisted in
// the tenant's database; after Backoff.Free failures each further one
// locks sign-in for Base, doubling up to Max. An attempt is counted before
// its password is checked, so parallel guesses cannot slip past a lock;
// a successful sign-in clears its name's count and takes its own attempt
// back from the source's. Every sign-in, failed or not, and every change
// of an account is logged in the tenant's audit log.
//
// # Second factor
//
// TOTP (RFC 6238: HMAC-SHA-1, six digits, 30-second steps) is enrolled in
// two steps: [Accounts.BeginTOTP] makes a secret and keeps it pending
// (it counts for nothing), [Accounts.ConfirmTOTP] makes it the account's
// second factor once it sees a current code of it, and returns ten
// single-use recovery codes, shown once and kept as SHA-256 hashes. The
// secret lives in the account's sealed record. A code is accepted one
// step early or late, and only for a step later than the last one
// accepted, so no code works twice. An enrolled account signs in with
// its password and a code or a recovery code; a missing, wrong or reused
// one gives [ErrSecondFactor] and counts as a failed sign-in (so six
// digits cannot be guessed past the lockout). An account that must use a
// second factor (its own flag or the tenant's policy) and has none is
// refused with [ErrEnrolmentRequired] after its password was checked.
//
// WebAuthn keys (passkeys, security keys; webauthn.go) are a second
// factor too: an account with a key satisfies the policy, and its
// password alone no longer signs it in. The web sign-in goes in steps
// (signin.go): [Accounts.AuthenticatePassword] checks the password and
// returns a [PendingSignIn] that only a TOTP code, a recovery code, a
// key's assertion or, for an account that must enrol, a confirmed TOTP
// enrolment completes.
//
// # App passwords and sessions
//
// App passwords (apppassword.go) are for WebDAV and sync clients: named,
// scoped read or write, shown once, stored as SHA-256 of a 160-bit secret,
// revocable, last use recorded at most once a minute. A principal signed
// in with one acts on files only ([ErrInteractiveOnly]). Sessions
// (session.go) are server-side with a 256-bit token of which only the
// hash is stored, ending by the tenant's idle and absolute timeouts.
// Disabling an account, changing its password and an admin's reset end
// all its sessions and app passwords in the same transaction.
//
// In the tenant's database, besides the buckets above:
//
//	app-passwords  ID → app password record (JSON, hash of the secret), sealed
//	sessions       SHA-256(token) → session record (JSON), sealed
//
// # Who may do what
//
// The acting account is a [*Principal], made only by Authenticate and
// bound to the tenant handle it signed in to; each operation re-reads
// the account in its own transaction, so a disabled account or a changed
// role takes effect at once. Tenant admins create and disable accounts;
// admins and auditors list them; users may do neither ([ErrForbidden],
// logged as denied). The last active admin cannot be disabled.
// [Accounts.SetRole] changes another account's base role (never one's
// own, never demoting the last active admin), logged as user.role with
// from and to; it ends the account's sessions and app passwords, so
// nothing goes on acting with the old role. The
// one policy function, appliance/access's Policy.Check, decides these
// rules (actions access.AdminAccounts, access.ReadAccounts,
// access.AdminGroups); [Subject] gives it the principal's account as it
// is now, with its groups, and [Allowed] asks it about a tenant-wide
// action for callers outside this package. [AccountSubjectTx] gives the
// subject of an account that is not the one asking, as it is now (a
// disabled or deleted one is refused): a share link acts only as far as
// its creator still may. Groups: see groups.go.
package identity
